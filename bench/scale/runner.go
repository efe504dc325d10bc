package main

import (
	"fmt"
	"io"
	"os"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// runner is the benchmark's netlab.T, as in examples/lab: it keeps the
// cleanups to run when the benchmark ends, remembers whether one of them
// failed, and turns a fatal failure or a skip into a panic (of type failure
// or skip) that run recovers.
type runner struct {
	log      io.Writer
	cleanups []func()
	tmp      string // holds the directories TempDir makes
	failed   bool   // Errorf was called
}

// failure is what runner's Fatal panics with; skip what its Skip does.
type (
	failure struct{ msg string }
	skip    struct{ msg string }
)

func (r *runner) Helper()                          {}
func (r *runner) Cleanup(f func())                 { r.cleanups = append(r.cleanups, f) }
func (r *runner) Logf(format string, args ...any)  { fmt.Fprintf(r.log, "scale: "+format+"\n", args...) }
func (r *runner) Fatal(args ...any)                { panic(failure{fmt.Sprint(args...)}) }
func (r *runner) Skip(args ...any)                 { panic(skip{fmt.Sprint(args...)}) }
func (r *runner) Skipf(format string, args ...any) { panic(skip{fmt.Sprintf(format, args...)}) }

func (r *runner) Errorf(format string, args ...any) {
	r.failed = true
	r.Logf(format, args...)
}

func (r *runner) Fatalf(format string, args ...any) {
	panic(failure{fmt.Sprintf(format, args...)})
}

// TempDir returns a new directory; all are removed when the benchmark ends.
func (r *runner) TempDir() string {
	if r.tmp == "" {
		dir, err := os.MkdirTemp("", "vipkit-scale-")
		if err != nil {
			r.Fatalf("temporary directory: %v", err)
		}
		r.tmp = dir
	}
	dir, err := os.MkdirTemp(r.tmp, "")
	if err != nil {
		r.Fatalf("temporary directory: %v", err)
	}
	return dir
}

// require returns netlab's message, and true, when the lab cannot be built
// here: not Linux, not root, or no ip command.
func (r *runner) require() (msg string, missing bool) {
	defer func() {
		if p := recover(); p != nil {
			s, ok := p.(skip)
			if !ok {
				panic(p)
			}
			msg, missing = s.msg, true
		}
	}()
	netlab.Require(r)
	return "", false
}

// guard runs fn and turns the runner's Fatal into an error.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(failure)
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("%s", f.msg)
		}
	}()
	return fn()
}

// cleanup runs the cleanups, newest first, as testing does, then removes
// the temporary directories.
func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
	}
}
