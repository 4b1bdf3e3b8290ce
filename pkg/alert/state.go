package alert

import (
	"encoding/hex"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"settlemon/pkg/text"
)

// State is where an alert episode stands.
type State string

// Alert states.
const (
	Firing   State = "firing"
	Resolved State = "resolved"
)

// Label names the rules set.
const (
	LabelAlertName = "alertname"
	LabelSeverity  = "severity"
	LabelBatchID   = "batch_id"
	LabelSource    = "source"
	LabelKind      = "kind"
	LabelAnomalyID = "anomaly_id"
	// LabelIncident is the incident key (package incident) of the anomalies
	// an alert is about; Alertmanager groups by it.
	LabelIncident      = "incident_key"
	LabelIncidentClass = "incident_class"
)

// Annotation names the rules set.
const (
	AnnotationSummary     = "summary"
	AnnotationDescription = "description"
	AnnotationAction      = "action"
)

// Condition is what a rule observed at one evaluation: an alert that fires,
// or (for rules that read a history, like the batch rules) one that fired and
// has cleared since.
type Condition struct {
	Labels      map[string]string // with alertname and severity; they identify the alert
	Annotations map[string]string
	// Messages are the annotations as catalogue messages, free of any
	// language: stored, so that a reader sees them in the reader's
	// language. Nil for a condition built from rendered text only.
	Messages map[string]text.Msg
	StartsAt time.Time // when the condition began; zero: when first seen
	Resolved bool      // the condition has cleared
	EndsAt   time.Time // when it cleared (Resolved only); zero: when seen cleared
}

// Name is the condition's alert name.
func (c Condition) Name() string { return c.Labels[LabelAlertName] }

// Fingerprint identifies the condition's alert.
func (c Condition) Fingerprint() string { return Fingerprint(c.Labels) }

// Fingerprint is a stable hash of a label set, as hex: FNV-64a over the
// sorted names and values, each followed by a separator byte.
func Fingerprint(labels map[string]string) string {
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Record is what has been notified about an alert: its latest episode.
// Times are whole seconds, as the alerts table stores them.
type Record struct {
	Fingerprint   string
	Name          string
	Labels        map[string]string
	Annotations   map[string]string
	Messages      map[string]text.Msg // the annotations as messages (Condition.Messages)
	State         State
	StartedAt     time.Time
	EndedAt       time.Time // zero while firing
	LastSentAt    time.Time
	Notifications uint64 // notifications of this episode
	Version       uint64 // increases with every notification of the alert
}

// Notification is one message to the receivers.
type Notification struct {
	Status      State
	Fingerprint string
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	EndsAt      time.Time // zero while firing
}

// Name is the notification's alert name.
func (n Notification) Name() string { return n.Labels[LabelAlertName] }

// Step is one notification to send and the record to keep once it is
// delivered.
type Step struct {
	Notification Notification
	Record       Record
}

// Decide is the state machine of one alert: given what was notified (prev,
// known false when nothing was), what its rule observes now (c, nil when the
// rule, evaluated successfully, no longer reports the alert) and the time,
// it returns the notifications to send, in order:
//
//   - a firing condition with no episode in progress starts one: firing;
//   - a firing condition whose episode was last notified repeat or more ago:
//     firing again (receivers such as Alertmanager expire alerts that are
//     not re-sent);
//   - a cleared condition, or none, while an episode fires: resolved, with
//     the condition's end (now when it has none);
//   - a cleared condition never notified (it fired and cleared between two
//     evaluations): firing, then resolved;
//   - anything else: nothing.
func Decide(prev Record, known bool, c *Condition, now time.Time, repeat time.Duration) []Step {
	now = now.UTC().Truncate(time.Second)
	firing := known && prev.State == Firing
	switch {
	case c == nil:
		if firing {
			return []Step{resolve(prev, nil, now, now)}
		}
		return nil
	case !c.Resolved:
		if !firing {
			return []Step{start(prev, c, now)}
		}
		if now.Sub(prev.LastSentAt) >= repeat {
			return []Step{fire(prev, c, now)}
		}
		return nil
	default:
		if known && !firing {
			return nil // this episode was resolved already
		}
		end := c.EndsAt
		if end.IsZero() {
			end = now
		}
		if firing {
			return []Step{resolve(prev, c, end, now)}
		}
		s := start(prev, c, now)
		return []Step{s, resolve(s.Record, c, end, now)}
	}
}

// start opens an episode of c's alert.
func start(prev Record, c *Condition, now time.Time) Step {
	began := c.StartsAt.UTC().Truncate(time.Second)
	if began.IsZero() {
		began = now
	}
	r := Record{Fingerprint: c.Fingerprint(), Name: c.Name(), State: Firing, StartedAt: began, Version: prev.Version}
	return fire(r, c, now)
}

// fire notifies that r's episode fires, with c's current labels and
// annotations.
func fire(r Record, c *Condition, now time.Time) Step {
	r.Labels, r.Annotations, r.Messages = c.Labels, c.Annotations, c.Messages
	r.State, r.EndedAt = Firing, time.Time{}
	return sent(r, now)
}

// resolve ends r's episode at end (never before it started); c, when not
// nil, refreshes the labels and annotations.
func resolve(r Record, c *Condition, end, now time.Time) Step {
	if c != nil {
		r.Labels, r.Annotations, r.Messages = c.Labels, c.Annotations, c.Messages
	}
	end = end.UTC().Truncate(time.Second)
	if end.Before(r.StartedAt) {
		end = r.StartedAt
	}
	r.State, r.EndedAt = Resolved, end
	return sent(r, now)
}

func sent(r Record, now time.Time) Step {
	r.LastSentAt = now
	r.Notifications++
	r.Version = max(r.Version+1, uint64(max(now.UnixNano(), 0)))
	return Step{Record: r, Notification: Notification{Status: r.State, Fingerprint: r.Fingerprint,
		Labels: r.Labels, Annotations: r.Annotations, StartsAt: r.StartedAt, EndsAt: r.EndedAt}}
}

// Plan decides every alert at once. prev holds the records by fingerprint;
// conds are the conditions of the rules that evaluated successfully, whose
// alert names are in evaluated: a record of such an alert with no condition
// clears, a record of another alert (its rule failed) is left alone. Alerts
// in busy (a notification still in flight) are skipped. Steps are ordered by
// fingerprint, each alert's steps in the order they must be sent.
func Plan(prev map[string]Record, conds []Condition, evaluated, busy map[string]bool, now time.Time, repeat time.Duration) []Step {
	byFP := make(map[string]*Condition, len(conds))
	for i := range conds {
		fp := conds[i].Fingerprint()
		if _, dup := byFP[fp]; !dup {
			byFP[fp] = &conds[i]
		}
	}
	fps := slices.Collect(maps.Keys(byFP))
	for fp, r := range prev {
		if _, ok := byFP[fp]; !ok && evaluated[r.Name] {
			fps = append(fps, fp)
		}
	}
	slices.Sort(fps)
	var steps []Step
	for _, fp := range fps {
		if busy[fp] {
			continue
		}
		r, known := prev[fp]
		steps = append(steps, Decide(r, known, byFP[fp], now, repeat)...)
	}
	return steps
}
