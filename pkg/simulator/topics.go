package simulator

import "settlemon/pkg/event"

// SourceTopics names the topics after sources, given in source order.
func SourceTopics(sources [event.NumSources]string) Topics {
	return Topics{Authorizations: sources[event.Auth], Clearing: sources[event.Clearing], Payouts: sources[event.Payouts], Merchants: sources[event.Merchants]}
}

// Sources are the topics in source order.
func (t Topics) Sources() [event.NumSources]string {
	return [event.NumSources]string{t.Authorizations, t.Clearing, t.Payouts, t.Merchants}
}
