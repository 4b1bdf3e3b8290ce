package report

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// table lays out the report's tables: each column as wide as its widest
// cell, text left-aligned, figures right-aligned, so the columns line up
// whatever the values.
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

// newTable starts a table with these column headings; a heading ending in
// ">" marks a right-aligned (numeric) column, the ">" is not printed.
func newTable(head ...string) *table {
	t := &table{}
	for _, h := range head {
		r := strings.HasSuffix(h, ">")
		t.head = append(t.head, strings.TrimSuffix(h, ">"))
		t.right = append(t.right, r)
	}
	return t
}

// row adds a row; each cell is printed with fmt's %v.
func (t *table) row(cells ...any) {
	r := make([]string, len(t.head))
	for i := range r {
		if i < len(cells) {
			r[i] = fmt.Sprint(cells[i])
		}
	}
	t.rows = append(t.rows, r)
}

// write prints the heading and the rows, indented by two spaces, columns
// two spaces apart, with no trailing blanks.
func (t *table) write(w io.Writer) {
	width := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], displayWidth(c))
		}
	}
	for _, r := range append([][]string{t.head}, t.rows...) {
		cells := make([]string, len(r))
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-displayWidth(c))
			if t.right[i] {
				cells[i] = pad + c
			} else {
				cells[i] = c + pad
			}
		}
		fmt.Fprintln(w, strings.TrimRight("  "+strings.Join(cells, "  "), " "))
	}
}

// displayWidth is how many terminal columns s takes: a Chinese character or
// a full-width punctuation mark takes two, everything else one.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r), r >= 0x3000 && r <= 0x303F, r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6:
			n += 2
		default:
			n++
		}
	}
	return n
}
