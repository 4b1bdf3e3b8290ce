package event

import (
	"bytes"
	"testing"

	"settlemon/pkg/pan"
)

// TestMaskExamples checks that the contract's examples hold nothing a card
// scan would flag.
func TestMaskExamples(t *testing.T) {
	for _, ex := range loadExamples(t) {
		if got := pan.Default().Mask(ex.data); !bytes.Equal(got, ex.data) {
			t.Errorf("%s: masking changed a card-free example", ex.name)
		}
	}
}
