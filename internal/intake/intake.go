// Package intake is the one governed entry flow every order source goes
// through: authenticate the source, parse the channel's payload into the
// canonical order, validate it, deduplicate it, and persist it with its
// raw payload and audit event in one transaction.
package intake
