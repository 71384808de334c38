-- Second factors, backup codes and adoption snapshots.
CREATE TABLE factors (
	id             TEXT PRIMARY KEY,
	user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	type           TEXT NOT NULL,
	name           TEXT NOT NULL,
	secret         BLOB,           -- sealed with the master keyring; never plaintext
	params         TEXT NOT NULL DEFAULT '',
	confirmed      BOOLEAN NOT NULL DEFAULT FALSE,
	last_used_step BIGINT NOT NULL DEFAULT 0,
	created_at     BIGINT NOT NULL,
	last_used_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX factors_user ON factors (user_id);

CREATE TABLE backup_codes (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	lookup     TEXT NOT NULL,
	hash       TEXT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX backup_codes_user ON backup_codes (user_id, lookup);

CREATE TABLE adoption_snapshots (
	day      TEXT NOT NULL,
	role     TEXT NOT NULL,
	enrolled BIGINT NOT NULL,
	total    BIGINT NOT NULL,
	PRIMARY KEY (day, role)
);
