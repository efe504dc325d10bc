package main

import (
	"fmt"
	"io"
	"os"
)

// runner is the lab's netlab.T: it keeps the cleanups to run when the lab
// ends and turns a fatal failure into a panic of type failure, which run
// recovers before it cleans up.
type runner struct {
	log      io.Writer
	cleanups []func()
	tmp      string
}

// failure is what runner's Fatal panics with.
type failure struct{ msg string }

func (r *runner) Helper()                           {}
func (r *runner) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }
func (r *runner) Errorf(format string, args ...any) { fmt.Fprintf(r.log, "lab: "+format+"\n", args...) }
func (r *runner) Logf(format string, args ...any)   { fmt.Fprintf(r.log, "lab: "+format+"\n", args...) }
func (r *runner) Fatal(args ...any)                 { panic(failure{fmt.Sprint(args...)}) }
func (r *runner) Fatalf(format string, args ...any) { panic(failure{fmt.Sprintf(format, args...)}) }
func (r *runner) Skip(args ...any)                  { r.Fatal(args...) }
func (r *runner) Skipf(format string, args ...any)  { r.Fatalf(format, args...) }

// TempDir returns a directory that is removed when the lab ends.
func (r *runner) TempDir() string {
	if r.tmp == "" {
		dir, err := os.MkdirTemp("", "vipkit-lab-")
		if err != nil {
			r.Fatalf("temporary directory: %v", err)
		}
		r.tmp = dir
	}
	return r.tmp
}

// cleanup runs the cleanups, newest first, as testing does, then removes
// the temporary directory.
func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
	}
}
