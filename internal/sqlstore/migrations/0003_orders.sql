-- Orders: intake sources, canonical orders, raw channel payloads, approvals.
-- Times are microseconds since the Unix epoch (0 = never); amounts are
-- integer minor units of the order's currency.

CREATE TABLE sources (
	id               TEXT PRIMARY KEY,
	channel          TEXT NOT NULL,
	name             TEXT NOT NULL UNIQUE,
	secret_hash      TEXT NOT NULL DEFAULT '', -- hex SHA-256 of an API key
	sealed_secret    BLOB,                     -- a webhook secret sealed with the keyring
	created_at       BIGINT NOT NULL,
	last_delivery_at BIGINT NOT NULL DEFAULT 0,
	error_count      BIGINT NOT NULL DEFAULT 0,
	revoked          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sources_channel ON sources (channel, name);

CREATE TABLE raw_payloads (
	id           TEXT PRIMARY KEY,
	source_id    TEXT NOT NULL,
	delivery_id  TEXT,                         -- NULL when the channel sends none
	content_type TEXT NOT NULL,
	body         BLOB NOT NULL,
	received_at  BIGINT NOT NULL,
	UNIQUE (source_id, delivery_id)
);

CREATE TABLE orders (
	id             TEXT PRIMARY KEY,
	channel        TEXT NOT NULL,
	source         TEXT NOT NULL,
	external_id    TEXT NOT NULL,
	number         TEXT NOT NULL,
	status         TEXT NOT NULL,
	currency       TEXT NOT NULL,
	total          BIGINT NOT NULL,
	customer_name  TEXT NOT NULL,
	customer_email TEXT NOT NULL,
	placed_at      BIGINT NOT NULL,
	doc            TEXT NOT NULL,              -- the canonical order as JSON
	content_hash   TEXT NOT NULL,              -- of the channel content last taken in
	raw_payload_id TEXT NOT NULL,
	created_by     TEXT NOT NULL,
	modified_by    TEXT NOT NULL,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL,
	version        BIGINT NOT NULL,
	UNIQUE (channel, source, external_id)
);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_status ON orders (status, created_at, id);
CREATE INDEX orders_channel ON orders (channel, created_at, id);

CREATE TABLE approvals (
	order_id  TEXT NOT NULL REFERENCES orders (id),
	user_id   TEXT NOT NULL,
	user_name TEXT NOT NULL,
	at        BIGINT NOT NULL,
	evidence  TEXT NOT NULL,                   -- JSON: authentication context, step-up
	PRIMARY KEY (order_id, user_id)
);
