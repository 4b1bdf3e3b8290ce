// Package logtest gives tests a log sink that several goroutines may write
// at once, and a logger on it. It is test tooling: no product binary links it.
package logtest

import (
	"bytes"
	"log/slog"
	"sync"
)

// Buffer collects output written from several goroutines. The zero value
// is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger is a text logger writing into b.
func (l *Buffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, nil))
}
