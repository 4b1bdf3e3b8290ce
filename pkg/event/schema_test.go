package event

import (
	"bytes"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"settlemon/schemas"
)

// compileSchemas compiles every schemas/events/<type>.schema.json with
// format assertions on (so "date-time" is checked too).
func compileSchemas(tb testing.TB) map[string]*jsonschema.Schema {
	tb.Helper()
	files, err := fs.Glob(schemas.Events, "events/*.schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := make(map[string]*jsonschema.Schema)
	for _, f := range files {
		data, err := fs.ReadFile(schemas.Events, f)
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		name := strings.TrimSuffix(path.Base(f), ".schema.json")
		if err := c.AddResource(f, doc); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		sch, err := c.Compile(f)
		if err != nil {
			tb.Fatalf("compiling %s: %v", f, err)
		}
		out[name] = sch
	}
	return out
}

func schemaValid(tb testing.TB, sch *jsonschema.Schema, data []byte) (bool, error) {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return false, err
	}
	err = sch.Validate(inst)
	return err == nil, err
}

func TestSchemasCoverEveryType(t *testing.T) {
	schs := compileSchemas(t)
	var names []string
	for n := range schs {
		names = append(names, n)
		if ParseType(n) == TypeUnknown {
			t.Errorf("schema %s.schema.json names no event type", n)
		}
	}
	sort.Strings(names)
	for typ := Type(1); typ < numTypes; typ++ {
		if schs[typ.String()] == nil {
			t.Errorf("no schema for %v (have %v)", typ, names)
		}
	}
}

func TestExamplesMatchSchemas(t *testing.T) {
	schs := compileSchemas(t)
	for _, ex := range loadExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			sch := schs[ex.name]
			if sch == nil {
				t.Fatalf("no schema for example %s", ex.name)
			}
			if ok, err := schemaValid(t, sch, ex.data); !ok {
				t.Errorf("example fails its schema: %v", err)
			}
			// An example of another type must fail this type's schema.
			other := "heartbeat"
			if ex.name == other {
				other = "authorization"
			}
			if ok, _ := schemaValid(t, schs[other], ex.data); ok {
				t.Errorf("example %s passes the %s schema", ex.name, other)
			}
		})
	}
}

// TestSchemaAgreesWithDecode mutates every field of every example in many
// ways and checks that the JSON Schema and Decode give the same verdict: the
// schemas are the published form of the rules Decode enforces.
func TestSchemaAgreesWithDecode(t *testing.T) {
	schs := compileSchemas(t)
	fields := []string{
		"event_id", "type", "occurred_at", "trace_no", "merchant_id", "terminal_id", "response_code",
		"card_bin", "card_last4", "currency", "amount", "fee", "mcc", "batch_id", "declared_count",
		"declared_total", "reason_code", "reason", "producer", "merchant_name", "registered_mcc",
		"settlement_mode", "fee_rate", "account_ref", "x_unknown",
	}
	values := []string{
		"", // delete
		`null`, `""`, `"0"`, `"1"`, `"12"`, `"12.5"`, `"12.50"`, `"0.00"`, `"0.01"`, `"-1"`, `"1.234"`,
		`"1e3"`, `" 1"`, `"abc"`, `"012"`, `"9999999999999999.99"`, `"10000000000000000"`,
		`12`, `0`, `-1`, `1.5`, `true`, `{}`, `[]`,
		`"5812"`, `"581"`, `"58a2"`, `"622848"`, `"62284"`, `"0427"`, `"00"`, `"000"`, `"CNY"`, `"cny"`,
		`"T1"`, `"D0"`, `"T2"`, `"0.0060"`, `"0.006"`, `"1.0"`, `"0.0000001"`, `"0"`,
		`"612345678901"`, `"6123 45678901"`, `"` + strings.Repeat("A", 32) + `"`, `"` + strings.Repeat("A", 33) + `"`,
		`"` + strings.Repeat("商", 64) + `"`, `"` + strings.Repeat("商", 65) + `"`,
		`"authorization"`, `"heartbeat"`, `"refund"`,
		`"2026-02-24T10:00:00+08:00"`, `"2026-02-24T10:00:00Z"`, `"2026-02-24T10:00:00.123-05:00"`,
		`"2026-02-24T10:00:00"`, `"2126-02-24T10:00:00Z"`, `"1999-12-31T23:59:59Z"`, `"2026-02-24"`,
		`"2026-02-30T10:00:00Z"`, `"2026-02-24T24:00:00Z"`,
		`"m\u0000"`, `"\u001b[31mred"`, `"a\u007f"`, `"a\u0085"`, `"a\u202eb"`, `"a\u2067b"`, `"a\u200bb"`, `"a\u00adb"`,
		`"a\u2028b"`, `"a\ufeffb"`, `"商\u200d户"`, `"\ufffd"`,
	}
	checked, accepted := 0, 0
	for _, ex := range loadExamples(t) {
		sch := schs[ex.name]
		src := sourceFor(ParseType(ex.name))
		for _, f := range fields {
			for _, v := range values {
				data := edit(t, ex.data, set(f, v))
				schemaOK, serr := schemaValid(t, sch, data)
				_, derr := Decode(src, data)
				checked++
				if derr == nil {
					accepted++
				}
				if schemaOK != (derr == nil) {
					t.Errorf("%s with %s=%s: schema valid=%v (%v), Decode error=%v",
						ex.name, f, v, schemaOK, serr, derr)
				}
			}
		}
	}
	if accepted == 0 || accepted == checked {
		t.Fatalf("%d of %d mutations accepted: the test does not discriminate", accepted, checked)
	}
	t.Logf("%d mutations, %d accepted by both", checked, accepted)
}

// TestInvalidRejectedByBoth lists documents that both the schema and Decode
// must reject.
func TestInvalidRejectedByBoth(t *testing.T) {
	schs := compileSchemas(t)
	auth := exampleOf(t, "authorization")
	tests := []struct {
		name   string
		data   []byte
		reason Reason
	}{
		{"missing trace_no", edit(t, auth, set("trace_no", "")), ReasonMissingField},
		{"three fraction digits", edit(t, auth, set("amount", `"1288.001"`)), ReasonBadAmount},
		{"amount as a number", edit(t, auth, set("amount", `1288`)), ReasonBadAmount},
		{"no offset", edit(t, auth, set("occurred_at", `"2026-02-24T10:15:32"`)), ReasonBadTimestamp},
		{"unknown type", edit(t, auth, set("type", `"refund"`)), ReasonUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, _ := schemaValid(t, schs["authorization"], tt.data); ok {
				t.Error("schema accepts it")
			}
			_, err := Decode(Auth, tt.data)
			if ReasonOf(err) != tt.reason {
				t.Errorf("Decode: %v, want reason %s", err, tt.reason)
			}
		})
	}
}
