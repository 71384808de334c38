-- Raw payloads too large to hold in memory (CSV files) are stored as they
-- stream in, in chunks of up to 1 MiB; the raw_payloads row then has an
-- empty body, chunked = TRUE, and once the stream ended its size and the
-- hex SHA-256 of the whole body (sha256 = '' while it is incomplete: the
-- upload broke off, or the process stopped during it).

ALTER TABLE raw_payloads ADD COLUMN chunked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE raw_payloads ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE raw_payloads ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';

CREATE TABLE raw_payload_chunks (
	payload_id TEXT NOT NULL REFERENCES raw_payloads (id),
	seq        BIGINT NOT NULL,              -- 0, 1, 2… in the order of the body
	data       BLOB NOT NULL,
	PRIMARY KEY (payload_id, seq)
);
