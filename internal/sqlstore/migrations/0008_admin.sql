-- Administration: one-time account links (invitations, password resets)
-- and role grants waiting for a second administrator.
CREATE TABLE account_links (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,        -- invitation | password_reset
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash TEXT NOT NULL UNIQUE, -- SHA-256 of the token; the token is never stored
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX account_links_user ON account_links (user_id, kind);

CREATE TABLE role_requests (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role_names   TEXT NOT NULL,      -- JSON array: the complete roles once approved
	group_names  TEXT NOT NULL,      -- JSON array
	requested_by TEXT NOT NULL,
	status       TEXT NOT NULL,      -- pending | approved
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	approved_by  TEXT NOT NULL DEFAULT '',
	approved_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX role_requests_user ON role_requests (user_id, status);
