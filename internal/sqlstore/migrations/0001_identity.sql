-- Identity core: users, roles, groups, sessions, throttles and the audit chain.
-- Times are microseconds since the Unix epoch (0 = never).

CREATE TABLE roles (
	name TEXT PRIMARY KEY
);
INSERT INTO roles (name) VALUES ('admin'), ('approver'), ('clerk'), ('auditor');

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	email         TEXT NOT NULL DEFAULT '',
	phone         TEXT NOT NULL DEFAULT '',
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    BIGINT NOT NULL,
	last_login_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE user_roles (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role    TEXT NOT NULL REFERENCES roles (name),
	PRIMARY KEY (user_id, role)
);

CREATE TABLE user_groups (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	group_name TEXT NOT NULL,
	PRIMARY KEY (user_id, group_name)
);

CREATE TABLE sessions (
	id           TEXT PRIMARY KEY, -- SHA-256 of the token; the token is never stored
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	state        TEXT NOT NULL,
	aal          BIGINT NOT NULL,
	auth         TEXT NOT NULL,    -- JSON authentication context
	csrf_token   TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE throttles (
	key             TEXT PRIMARY KEY,
	failures        BIGINT NOT NULL,
	last_failure_at BIGINT NOT NULL,
	locked_until    BIGINT NOT NULL
);

CREATE TABLE audit_events (
	seq        BIGINT PRIMARY KEY,
	at         BIGINT NOT NULL,
	action     TEXT NOT NULL,
	actor_id   TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	order_id   TEXT NOT NULL,
	body       TEXT NOT NULL,
	prev_mac   TEXT NOT NULL,
	mac        TEXT NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX audit_events_subject ON audit_events (subject_id, seq);
CREATE INDEX audit_events_order ON audit_events (order_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);

CREATE TABLE audit_head (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL,
	mac TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, mac) VALUES (1, 0, '');
