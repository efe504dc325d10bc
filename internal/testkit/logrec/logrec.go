// Package logrec is a slog.Handler for tests that keeps the records it
// is handed, to count and look at what a component logged.
package logrec

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// A Record is one log record: its level, message and attributes, each
// attribute's value as text.
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// A Recorder keeps every record at Min or above. The attributes of
// Logger.With are not kept, only those of each record. Its methods are
// safe for concurrent use.
type Recorder struct {
	Min slog.Level

	mu      sync.Mutex
	records []Record
}

func (r *Recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.Min }
func (r *Recorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *Recorder) WithGroup(string) slog.Handler                { return r }

func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	kept := Record{Level: rec.Level, Message: rec.Message, Attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool { kept.Attrs[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	r.records = append(r.records, kept)
	r.mu.Unlock()
	return nil
}

// Find returns the records whose message is msg, in order.
func (r *Recorder) Find(msg string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.records {
		if rec.Message == msg {
			out = append(out, rec)
		}
	}
	return out
}

// Count returns how many records have a message that contains substr; ""
// counts them all.
func (r *Recorder) Count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if strings.Contains(rec.Message, substr) {
			n++
		}
	}
	return n
}
