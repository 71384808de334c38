// Buttons that run a WebAuthn ceremony through ordergateWebAuthn
// (webauthn.js) and then go on. Each button carries its part:
//   data-webauthn="register" | "login" | "passkey" | "stepup"
//   data-next="/path"        where to go after success
//   data-name="input-id"     (register) the input holding the key's name
//   data-submit="form-id"    (stepup) the form to send after the step-up
//   data-action="..."        (stepup) what the step-up is for
// Messages go to the element #webauthn-error. The buttons are hidden until
// this script shows them, so a browser without JavaScript sees the other
// ways to sign in.
"use strict";
(function () {
  var api = window.ordergateWebAuthn;
  var box = document.getElementById("webauthn-error");

  function say(text) {
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  // message turns a failure into a sentence for people; it never shows
  // more than the server's own message.
  function message(e) {
    if (e && e.name === "NotAllowedError") {
      return "The security key did not answer, or the request was cancelled. Try again.";
    }
    if (e && e.name === "InvalidStateError") {
      return "This security key is already registered to your account.";
    }
    if (e && e.code === "invalid_code") {
      return "That security key was not accepted. Try another key or another method.";
    }
    if (e && e.code && e.message) {
      var m = e.message.charAt(0).toUpperCase() + e.message.slice(1);
      return /[.!?]$/.test(m) ? m : m + ".";
    }
    return "Something went wrong. Please try again, or use another method.";
  }

  function run(button) {
    var d = button.dataset;
    switch (d.webauthn) {
      case "register":
        var input = d.name ? document.getElementById(d.name) : null;
        return api.register(input ? input.value : "");
      case "login":
        return api.login();
      case "passkey":
        return api.passkey();
      case "stepup":
        return api.stepUp(d.action || "", "");
    }
    return Promise.reject(new Error("unknown action"));
  }

  document.querySelectorAll("[data-webauthn]").forEach(function (button) {
    if (!window.PublicKeyCredential || !api) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      say("");
      button.disabled = true;
      run(button).then(function () {
        var form = button.dataset.submit ? document.getElementById(button.dataset.submit) : null;
        if (form) {
          form.submit();
        } else {
          window.location.assign(button.dataset.next || "/");
        }
      }, function (e) {
        button.disabled = false;
        say(message(e));
      });
    });
  });
})();
