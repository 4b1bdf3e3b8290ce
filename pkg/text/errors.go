package text

import (
	"errors"
	"strings"
)

// Error is an error whose sentence is a catalogue message: Error gives it
// in English, Printer.Error in the printer's language. A wrapped cause (a
// driver's or the standard library's text) is appended after ": " as it is.
type Error struct {
	ID   string   // the message id
	Args []string // its arguments: identifiers, flag names, values, as they are
	Err  error    // the cause, or nil
}

// Errorf is the error of message id with args.
func Errorf(id string, args ...string) *Error { return &Error{ID: id, Args: args} }

// Wrap is the error of message id with args, caused by err.
func Wrap(err error, id string, args ...string) *Error { return &Error{ID: id, Args: args, Err: err} }

func (e *Error) Error() string { return NewPrinter(English, nil).Error(e) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Error renders err in p's language: every *Error in its chain from the
// catalogue, each cause after ": ". A wrapper that only adds text around
// its causes' (fmt.Errorf with %w, errors.Join) keeps its own text and
// renders the causes; any other error reads as its Error.
func (p *Printer) Error(err error) string {
	switch e := err.(type) {
	case nil:
		return ""
	case *Error:
		s := p.S(e.ID, e.Args...)
		if e.Err != nil {
			s += p.S("error.cause", p.Error(e.Err))
		}
		return s
	case interface{ Unwrap() []error }:
		return p.errors(err.Error(), e.Unwrap())
	}
	inner := errors.Unwrap(err)
	if inner == nil {
		return err.Error()
	}
	msg, im := err.Error(), inner.Error()
	if i := strings.LastIndex(msg, im); i >= 0 {
		return msg[:i] + p.Error(inner) + msg[i+len(im):]
	}
	return msg
}

// errors renders msg, the text of an error wrapping several, with the
// text of each of them rendered where msg holds it.
func (p *Printer) errors(msg string, errs []error) string {
	var b strings.Builder
	for _, x := range errs {
		if x == nil {
			continue
		}
		xm := x.Error()
		i := strings.Index(msg, xm)
		if i < 0 {
			continue
		}
		b.WriteString(msg[:i])
		b.WriteString(p.Error(x))
		msg = msg[i+len(xm):]
	}
	b.WriteString(msg)
	return b.String()
}
