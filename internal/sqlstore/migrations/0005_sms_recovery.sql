-- SMS one-time codes and their send limits, admin-assisted factor resets
-- (four eyes), one-time recovery links, and the notification outbox.
-- Times are microseconds since the Unix epoch (0 = never).

CREATE TABLE sms_codes (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    TEXT NOT NULL,             -- login | enroll | vouch
	factor_id  TEXT NOT NULL DEFAULT '',  -- the factor being enrolled, for enroll
	phone      TEXT NOT NULL,             -- E.164
	hash       TEXT NOT NULL,             -- HMAC-SHA-256 of the code; never the code
	state      TEXT NOT NULL,             -- reserved | sent | used | superseded
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sms_codes_user ON sms_codes (user_id, purpose, created_at);
CREATE INDEX sms_codes_phone ON sms_codes (phone, created_at);

-- One row per user and per number; updating it serializes sends, so two
-- requests at once cannot both slip under a send limit.
CREATE TABLE sms_send_locks (
	key   TEXT PRIMARY KEY,
	sends BIGINT NOT NULL
);

CREATE TABLE factor_resets (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	requested_by TEXT NOT NULL REFERENCES users (id),
	reason       TEXT NOT NULL,
	status       TEXT NOT NULL,           -- pending | approved
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	approved_by  TEXT NOT NULL DEFAULT '',
	approved_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX factor_resets_user ON factor_resets (user_id);

CREATE TABLE recovery_links (
	token_hash TEXT PRIMARY KEY,          -- SHA-256 of the token; never the token
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	reset_id   TEXT NOT NULL REFERENCES factor_resets (id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE notifications (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,             -- factor.added | factor.removed | factors.reset | backup_code.used | sms.number_changed
	audit_seq  BIGINT NOT NULL DEFAULT 0,-- the audit event it tells of (0 when written directly)
	phone      TEXT NOT NULL DEFAULT '',  -- send by SMS to this number; '' = outbox file
	body       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	sent_at    BIGINT NOT NULL DEFAULT 0,
	channel    TEXT NOT NULL DEFAULT '',  -- sms | outbox, once sent
	attempts   BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT ''   -- provider error code of the last failed attempt
);
CREATE INDEX notifications_pending ON notifications (sent_at, created_at);
CREATE INDEX notifications_user ON notifications (user_id, created_at);

-- How far the notifier has read the audit chain.
CREATE TABLE notification_cursor (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL
);
INSERT INTO notification_cursor (id, seq) VALUES (1, 0);
