-- WebAuthn: the credential index of webauthn factors (the credential record
-- itself is the factor's params) and the state of begun ceremonies.
CREATE TABLE webauthn_credentials (
	factor_id       TEXT PRIMARY KEY REFERENCES factors (id) ON DELETE CASCADE,
	user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	credential_id   TEXT NOT NULL UNIQUE,     -- base64url, for passkey look-up
	sign_count      BIGINT NOT NULL DEFAULT 0,
	clone_suspected BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE webauthn_ceremonies (
	id         TEXT PRIMARY KEY,              -- the challenge, base64url
	kind       TEXT NOT NULL,
	session_id TEXT NOT NULL,                 -- '' for a passkey sign-in
	user_id    TEXT NOT NULL,
	data       TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
