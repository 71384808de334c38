-- Sign-ins, factors and administration name no order, and order events
-- may name no subject: such events stay out of those two indexes, so an
-- append writes one index b-tree fewer. Queries repeat the condition
-- (audit.go) so that the planner may use these indexes.
DROP INDEX audit_events_subject;
DROP INDEX audit_events_order;
CREATE INDEX audit_events_subject ON audit_events (subject_id, seq) WHERE subject_id <> '';
CREATE INDEX audit_events_order ON audit_events (order_id, seq) WHERE order_id <> '';
