-- Hardware OATH tokens imported from PSKC files: unassigned until an
-- administrator assigns one, which makes it a confirmed factor of a user.
CREATE TABLE hardware_tokens (
	serial       TEXT PRIMARY KEY,
	kind         TEXT NOT NULL CHECK (kind IN ('hotp', 'totp')),
	manufacturer TEXT NOT NULL DEFAULT '',
	secret       BLOB NOT NULL,  -- sealed with the master keyring, bound to the serial; never plaintext
	params       TEXT NOT NULL DEFAULT '',
	counter      BIGINT NOT NULL DEFAULT 0,
	factor_id    TEXT REFERENCES factors (id) ON DELETE SET NULL,
	imported_at  BIGINT NOT NULL,
	assigned_at  BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX hardware_tokens_factor ON hardware_tokens (factor_id);
