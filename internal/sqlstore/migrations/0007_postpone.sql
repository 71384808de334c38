-- How many times a user has put off a second-factor enrollment during a
-- rollout phase's grace period.
ALTER TABLE users ADD COLUMN mfa_postponements BIGINT NOT NULL DEFAULT 0;
