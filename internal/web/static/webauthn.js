// ordergate WebAuthn client: security keys and passkeys.
//
// Plain script, no build step. Every function returns a Promise of the
// server's JSON answer and throws an Error whose `code` is the server's
// error code. Cookie sessions send the page's CSRF token
// (<meta name="csrf-token">); API clients pass their session token as
// `token` and send it as a bearer token instead.
"use strict";

window.ordergateWebAuthn = (function () {
  function headers(token) {
    var h = { "Content-Type": "application/json" };
    if (token) {
      h["Authorization"] = "Bearer " + token;
    } else {
      var meta = document.querySelector('meta[name="csrf-token"]');
      if (meta) h["X-CSRF-Token"] = meta.getAttribute("content");
    }
    return h;
  }

  async function post(path, body, token) {
    var resp = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: headers(token),
      body: body === undefined ? "" : JSON.stringify(body),
    });
    var text = await resp.text();
    var data = text ? JSON.parse(text) : {};
    if (!resp.ok) {
      var err = new Error(data.message || "request failed");
      err.code = data.error;
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  async function create(beginPath, finishPath, body, token) {
    var options = await post(beginPath, body, token);
    var cred = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    });
    return post(finishPath, cred.toJSON(), token);
  }

  async function get(beginPath, finishPath, body, token) {
    var options = await post(beginPath, body, token);
    var cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    });
    return post(finishPath, cred.toJSON(), token);
  }

  return {
    // register adds a security key or passkey named name to the account.
    register: function (name, token) {
      return create("/api/v1/me/factors/webauthn/begin", "/api/v1/me/factors/webauthn/finish", { name: name || "" }, token);
    },
    // login finishes a pending sign-in with a security key.
    login: function (token) {
      return get("/api/v1/login/webauthn/begin", "/api/v1/login/webauthn/finish", undefined, token);
    },
    // passkey signs in without a password.
    passkey: function () {
      return get("/api/v1/login/passkey/begin", "/api/v1/login/passkey/finish");
    },
    // stepUp proves the key again for action on orderID (the signature
    // covers the order's id, total and currency).
    stepUp: function (action, orderID, token) {
      return get("/api/v1/step-up/webauthn/begin", "/api/v1/step-up/webauthn/finish", { action: action || "", order_id: orderID || "" }, token);
    },
    // post is exposed for pages that call other API routes.
    post: post,
  };
})();
