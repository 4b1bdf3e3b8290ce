// Package arch holds the tests that keep the architecture's boundaries:
// the pure packages (the join, its facts and rules, the calendar, the event
// contracts, card-number detection, scoring) import no Kafka, ClickHouse or
// network package, directly or not, and read no clock; time is passed in.
// It has no code of its own.
package arch
