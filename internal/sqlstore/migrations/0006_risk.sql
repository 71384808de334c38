-- Risk signals: the browsers (device cookies) and networks each user has
-- completed a login from, every login attempt with where it came from, and
-- the risk engine's decisions with their reasons.
CREATE TABLE devices (
	user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	id               TEXT NOT NULL,
	user_agent       TEXT NOT NULL DEFAULT '',
	first_seen_at    BIGINT NOT NULL,
	last_seen_at     BIGINT NOT NULL,
	remembered_until BIGINT NOT NULL DEFAULT 0,  -- 0: not remembered
	PRIMARY KEY (user_id, id)
);

CREATE TABLE known_networks (
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	network       TEXT NOT NULL,             -- the client's /24 (IPv4) or /48 (IPv6)
	first_seen_at BIGINT NOT NULL,
	last_seen_at  BIGINT NOT NULL,
	PRIMARY KEY (user_id, network)
);

CREATE TABLE login_history (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	at         BIGINT NOT NULL,
	client_ip  TEXT NOT NULL,
	network    TEXT NOT NULL,
	device_id  TEXT NOT NULL DEFAULT '',
	country    TEXT NOT NULL DEFAULT '',
	lat        DOUBLE PRECISION,                 -- NULL when the location is unknown
	lon        DOUBLE PRECISION,
	outcome    TEXT NOT NULL,             -- authenticated, mfa_required, enrollment_required, denied, failed
	completed  INTEGER NOT NULL DEFAULT 0, -- 1 once fully authenticated
	session_id TEXT NOT NULL DEFAULT ''   -- public ID of the session the attempt created
);
CREATE INDEX login_history_user ON login_history (user_id, at);
CREATE INDEX login_history_session ON login_history (session_id);

CREATE TABLE risk_decisions (
	id        TEXT PRIMARY KEY,
	at        BIGINT NOT NULL,
	user_id   TEXT NOT NULL DEFAULT '',
	username  TEXT NOT NULL DEFAULT '',
	action    TEXT NOT NULL,              -- login, or the order action assessed
	client_ip TEXT NOT NULL DEFAULT '',
	country   TEXT NOT NULL DEFAULT '',
	score     INTEGER NOT NULL,
	decision  TEXT NOT NULL,
	reasons   TEXT NOT NULL,              -- JSON array of reason strings
	factors   TEXT NOT NULL               -- JSON array of {reason, points, detail}
);
CREATE INDEX risk_decisions_at ON risk_decisions (at);
