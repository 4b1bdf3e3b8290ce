package alert

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/text"
)

// For maps alert names to their minimum durations (Config.For). As a flag
// value it reads comma-separated Rule=duration pairs, e.g.
// "SourceLagging=2m,BatchStalled=0s"; each pair replaces that alert's
// duration and the others keep theirs.
type For map[string]time.Duration

// alertNames are the alerts the alerter raises, sorted.
func alertNames() []string { return slices.Sorted(maps.Keys(alertSeverities)) }

// String renders the map as the flag reads it, sorted by alert name.
func (f For) String() string {
	parts := make([]string, 0, len(f))
	for _, name := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, name+"="+f[name].String())
	}
	return strings.Join(parts, ",")
}

// Set reads comma-separated Rule=duration pairs into f. Nothing is changed
// when one of them is wrong.
func (f *For) Set(s string) error {
	next := maps.Clone(*f)
	if next == nil {
		next = For{}
	}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		if !ok {
			return text.Errorf("error.alert.for_pair", strconv.Quote(pair), "Rule=duration", "SourceLagging=2m")
		}
		name = strings.TrimSpace(name)
		if _, known := alertSeverities[name]; !known {
			return text.Errorf("error.alert.for_pair_unknown", strconv.Quote(pair), strconv.Quote(name), strings.Join(alertNames(), ", "))
		}
		d, err := time.ParseDuration(strings.TrimSpace(value))
		if err != nil {
			return text.Errorf("error.alert.for_pair_duration", strconv.Quote(pair), strconv.Quote(value), "90s, 2m")
		}
		if d < 0 {
			return text.Errorf("error.alert.for_pair_negative", strconv.Quote(pair))
		}
		next[name] = d
	}
	*f = next
	return nil
}

func (f For) validate() error {
	for _, name := range slices.Sorted(maps.Keys(f)) {
		if _, known := alertSeverities[name]; !known {
			return text.Errorf("error.alert.for_unknown", strconv.Quote(name), strings.Join(alertNames(), ", "))
		}
		if f[name] < 0 {
			return text.Errorf("error.alert.for_negative", f[name].String(), name)
		}
	}
	return nil
}

// pending is a condition seen firing, not yet for its alert's For.
type pending struct {
	name  string
	since time.Time // the first evaluation that saw it
}

// hold applies the minimum durations to the conditions of one evaluation
// at now: a firing condition of an alert that is not firing yet passes only
// once it has been seen at every evaluation for its For (its start is then
// the first evaluation that saw it, unless the rule knows better); until
// then it is pending and left out, as if the rule had not reported it. A
// cleared condition never notified (it fired and cleared between two
// evaluations) passes only when it lasted its For. A pending condition
// that a successful evaluation no longer reports is forgotten; the ones of
// rules that failed are kept.
func (a *Alerter) hold(conds []Condition, evaluated map[string]bool, now time.Time) []Condition {
	seen := map[string]bool{}
	out := conds[:0:0]
	for _, c := range conds {
		d := a.cfg.For[c.Name()]
		fp := c.Fingerprint()
		if r, ok := a.records[fp]; d <= 0 || ok && r.State == Firing {
			delete(a.pending, fp)
			out = append(out, c)
			continue
		}
		if c.Resolved {
			if !c.StartsAt.IsZero() && !c.EndsAt.IsZero() && c.EndsAt.Sub(c.StartsAt) >= d {
				out = append(out, c)
			}
			continue
		}
		seen[fp] = true
		p, ok := a.pending[fp]
		if !ok {
			p = pending{name: c.Name(), since: now}
			a.pending[fp] = p
			a.log.Debug("alert pending", "alert", c.Name(), "labels", c.Labels, "for", d)
		}
		if now.Sub(p.since) < d {
			continue
		}
		// Kept until the alert's record fires: a notification still in
		// flight, or undelivered, does not start the wait again.
		if c.StartsAt.IsZero() {
			c.StartsAt = p.since
		}
		out = append(out, c)
	}
	for fp, p := range a.pending {
		if !seen[fp] && evaluated[p.name] {
			delete(a.pending, fp)
		}
	}
	return out
}
