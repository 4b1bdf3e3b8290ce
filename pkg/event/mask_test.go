package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true},     // Visa test number
		{"5555555555554444", true},     // Mastercard test number
		{"378282246310005", true},      // Amex test number
		{"6200000000000005", true},     // UnionPay test number
		{"4222222222222", true},        // 13-digit Visa test number
		{"79927398713", true},          // the textbook example
		{"4111111111111112", false},    // one digit off
		{"5555555555554445", false},    // one digit off
		{"79927398710", false},         // the textbook example, wrong check digit
		{"6200000000000050", false},    // transposed
		{"0000000000000000", true},     // all zeros pass (sum 0)
		{"1234567890123456", false},    //
		{"6217001234567890123", false}, //
	}
	for _, tt := range tests {
		if got := luhn([]byte(tt.in)); got != tt.want {
			t.Errorf("luhn(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if !luhn([]byte(luhnComplete("621700123456789012"))) {
		t.Error("luhnComplete does not complete")
	}
}

func TestMaskCardNumbers(t *testing.T) {
	pan := "4111111111111111"
	pan13 := "4222222222222"
	pan19 := luhnComplete("621700123456789012")
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"no digits", `{"a":"b"}`, `{"a":"b"}`},
		{"short numbers kept", `{"trace_no":"612345678901","amount":"1288.00"}`, `{"trace_no":"612345678901","amount":"1288.00"}`},
		{"Luhn-invalid kept", `{"x":"4111111111111112"}`, `{"x":"4111111111111112"}`},
		{"12 digits kept", `{"x":"411111111116"}`, `{"x":"411111111116"}`},
		{"20 digits kept", `{"x":"41111111111111111118"}`, `{"x":"41111111111111111118"}`},
		{"16-digit string", `{"card_bin":"` + pan + `"}`, `{"card_bin":"411111******1111"}`},
		{"13 digits", `{"x":"` + pan13 + `"}`, `{"x":"422222***2222"}`},
		{"19 digits", `{"x":"` + pan19 + `"}`, `{"x":"621700*********` + pan19[15:] + `"}`},
		{"number", `{"x":` + pan + `}`, `{"x":411111******1111}`},
		{"in text", `{"note":"card ` + pan + `, ok"}`, `{"note":"card 411111******1111, ok"}`},
		{"two numbers", `{"a":"` + pan + `","b":"` + pan13 + `"}`, `{"a":"411111******1111","b":"422222***2222"}`},
		{"at start and end", pan + "x" + pan, "411111******1111x411111******1111"},
		{"escaped digits", `{"x":"\u0034\u0031` + pan[2:] + `"}`, `{"x":"\u0034\u00311111******1111"}`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := MaskCardNumbers(in)
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if len(got) != len(in) {
				t.Errorf("length changed: %d -> %d", len(in), len(got))
			}
			if string(in) != tt.in {
				t.Error("input modified")
			}
			if len(in) > 0 && &got[0] == &in[0] {
				t.Error("result aliases the input")
			}
			for _, n := range []string{pan, pan13, pan19} {
				if tt.in != tt.want && bytes.Contains(got, []byte(n)) {
					t.Errorf("masked output still contains %s", n)
				}
			}
			if _, ok := containsCard(got); ok {
				t.Errorf("masked output %s still contains a card number", got)
			}
		})
	}
}

// TestMaskEscapedKeepsJSON checks that masking escaped digits keeps the
// payload valid JSON and that the decoded value is masked too.
func TestMaskEscapedKeepsJSON(t *testing.T) {
	var esc strings.Builder
	for _, d := range "4111111111111111" {
		esc.WriteString(`\u003` + string(d))
	}
	in := []byte(`{"x":"` + esc.String() + `"}`)
	if _, ok := containsCard(in); !ok {
		t.Fatal("escaped card number not detected")
	}
	out := MaskCardNumbers(in)
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("masked output is not JSON: %v: %s", err, out)
	}
	if m["x"] != "411111******1111" {
		t.Errorf("decoded masked value %q", m["x"])
	}
}

// TestMaskExamples checks that the examples contain nothing to mask.
func TestMaskExamples(t *testing.T) {
	for _, ex := range loadExamples(t) {
		if got := MaskCardNumbers(ex.data); !bytes.Equal(got, ex.data) {
			t.Errorf("%s: masking changed a card-free example", ex.name)
		}
	}
}

func FuzzMaskCardNumbers(f *testing.F) {
	f.Add([]byte(`{"x":"4111111111111111"}`))
	f.Add([]byte(`\u00341111111111111111`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := MaskCardNumbers(data)
		if len(out) != len(data) {
			t.Fatalf("length %d -> %d", len(data), len(out))
		}
		if _, ok := containsCard(out); ok {
			t.Fatalf("masked output %q still contains a card number", out)
		}
	})
}
