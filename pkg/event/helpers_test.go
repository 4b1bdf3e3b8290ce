package event

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"
	"testing"

	"settlemon/pkg/pan"
	"settlemon/schemas"
)

// example is one example file of schemas/events/examples.
type example struct {
	name string // the event type, from the file name
	data []byte
}

func loadExamples(tb testing.TB) []example {
	tb.Helper()
	files, err := fs.Glob(schemas.Events, "events/examples/*.json")
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no examples in schemas.Events")
	}
	var out []example
	for _, f := range files {
		data, err := fs.ReadFile(schemas.Events, f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, example{name: strings.TrimSuffix(path.Base(f), ".json"), data: data})
	}
	return out
}

func exampleOf(tb testing.TB, typ string) []byte {
	tb.Helper()
	data, err := fs.ReadFile(schemas.Events, "events/examples/"+typ+".json")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// sourceFor returns a source on which t is allowed.
func sourceFor(t Type) Source {
	for s := Source(0); s < NumSources; s++ {
		if s.Allows(t) {
			return s
		}
	}
	return NumSources
}

// edit decodes the JSON object data, applies fn to it and re-encodes it.
// fn deletes a key with delete(m, k) and sets raw JSON with json.RawMessage.
func edit(tb testing.TB, data []byte, fn func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// set returns an edit that sets key k to the raw JSON v, or deletes k when v
// is "".
func set(k, v string) func(m map[string]any) {
	return func(m map[string]any) {
		if v == "" {
			delete(m, k)
			return
		}
		m[k] = json.RawMessage(v)
	}
}

// luhnComplete appends the check digit that makes prefix pass the Luhn check.
func luhnComplete(prefix string) string {
	for d := byte('0'); d <= '9'; d++ {
		s := prefix + string(d)
		if pan.Luhn([]byte(s)) {
			return s
		}
	}
	panic("unreachable")
}
