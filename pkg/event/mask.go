package event

import "settlemon/pkg/pan"

// containsCard reports whether data holds a card number in any spelling
// pkg/pan knows (separators, Unicode digits, JSON escapes, issuer ranges plus
// Luhn), and where it starts.
func containsCard(data []byte) (start int, ok bool) {
	start, _, ok = pan.Default().Find(data, 0)
	return start, ok
}
