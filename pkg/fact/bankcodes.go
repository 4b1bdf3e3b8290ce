package fact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"

	"settlemon/schemas"
)

// BankCodes is a catalogue of bank return codes: which payout-failure reason
// each code a paying bank returns maps to (DESIGN §7: bank return codes are
// data). The bundled one is schemas/bank/return-codes.json; an operator may
// load another with LoadBankCodes. It is immutable once parsed.
type BankCodes struct {
	version string
	codes   map[string]PayoutFailure // by upper-cased code
}

type bankCodesFile struct {
	Catalogue   string `json:"catalogue"`
	Version     string `json:"version"`
	Description string `json:"description"`
	Codes       []struct {
		Code        string `json:"code"`
		Reason      string `json:"reason"`
		Description string `json:"description"`
	} `json:"codes"`
}

// ParseBankCodes parses and validates a catalogue. It rejects unknown
// fields, a missing version, a code that is empty, longer than 64 bytes or
// holds a control or invisible character, a code listed twice (ignoring
// ASCII case), and a reason that is not one of the seven.
func ParseBankCodes(data []byte) (*BankCodes, error) {
	var f bankCodesFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding bank return codes: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding bank return codes: data after the top-level object")
	}
	if f.Version == "" {
		return nil, errors.New("bank return codes: version is not set")
	}
	c := &BankCodes{version: f.Version, codes: make(map[string]PayoutFailure, len(f.Codes))}
	for i, e := range f.Codes {
		if e.Code == "" || len(e.Code) > 64 || strings.IndexFunc(e.Code, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) }) >= 0 {
			return nil, fmt.Errorf("bank return codes %s: entry %d: code %q must be 1-64 bytes without spaces, control or invisible characters", f.Version, i+1, e.Code)
		}
		r := PayoutFailure(e.Reason)
		if _, ok := failureActions[r]; !ok {
			return nil, fmt.Errorf("bank return codes %s: code %s: reason %q is not one of %s", f.Version, e.Code, e.Reason, strings.Join(reasonNames(), ", "))
		}
		k := normCode(e.Code)
		if _, dup := c.codes[k]; dup {
			return nil, fmt.Errorf("bank return codes %s: code %s is listed twice", f.Version, e.Code)
		}
		c.codes[k] = r
	}
	if len(c.codes) == 0 {
		return nil, fmt.Errorf("bank return codes %s lists no code", f.Version)
	}
	return c, nil
}

// LoadBankCodes reads and parses a catalogue file.
func LoadBankCodes(path string) (*BankCodes, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bank return codes: %w", err)
	}
	c, err := ParseBankCodes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

var defaultBankCodes = sync.OnceValue(func() *BankCodes {
	c, err := ParseBankCodes(schemas.BankReturnCodes)
	if err != nil {
		panic(err) // the embedded catalogue is tested
	}
	return c
})

// DefaultBankCodes returns the bundled catalogue.
func DefaultBankCodes() *BankCodes { return defaultBankCodes() }

// Version is the catalogue's version, recorded on every payout_failed
// anomaly it mapped.
func (c *BankCodes) Version() string { return c.version }

// Len is the number of codes listed.
func (c *BankCodes) Len() int { return len(c.codes) }

// Map returns the reason of a bank return code, ignoring ASCII case; known
// is false for a code the catalogue does not list, which maps to
// OtherFailure.
func (c *BankCodes) Map(code string) (r PayoutFailure, known bool) {
	if r, ok := c.codes[code]; ok { // codes are usually written as listed
		return r, true
	}
	if r, ok := c.codes[normCode(code)]; ok {
		return r, true
	}
	return OtherFailure, false
}

func normCode(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

func reasonNames() []string {
	out := make([]string, 0, len(failureReasons))
	for _, r := range failureReasons {
		out = append(out, string(r))
	}
	return out
}
