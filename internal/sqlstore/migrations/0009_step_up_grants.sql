-- One-time step-up grants: a second factor proven for one action on one
-- order (bound to its id, total and currency by digest) by one session,
-- consumed by that action. Times are microseconds since the Unix epoch
-- (0 = never).

CREATE TABLE step_up_grants (
	id         TEXT PRIMARY KEY,
	session_id TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	action     TEXT NOT NULL,
	order_id   TEXT NOT NULL,
	digest     TEXT NOT NULL,              -- hex SHA-256 of order id, total, currency
	method     TEXT NOT NULL,
	evidence   TEXT NOT NULL,              -- JSON kept with the action
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX step_up_grants_order ON step_up_grants (order_id, created_at);
