package netlab

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// A Program is the [T] of a program that builds a lab, such as the lab or
// the scale benchmark, where there is no testing.T. Logf writes a line
// "name: ..." to its log; Errorf does too and marks the program failed;
// Fatal and Skip stop the work in progress by panicking, which
// [Program.Recover] turns into an error; [Program.Close] runs the cleanups,
// newest first, as testing does.
type Program struct {
	name     string
	log      io.Writer
	cleanups []func()
	tmp      string // holds the directories TempDir makes
	failed   bool   // Errorf was called
}

// NewProgram returns the T of the program name, logging to log.
func NewProgram(name string, log io.Writer) *Program { return &Program{name: name, log: log} }

// stop is what a Program's Fatal and Skip panic with.
type stop struct{ msg string }

func (p *Program) Helper()          {}
func (p *Program) Cleanup(f func()) { p.cleanups = append(p.cleanups, f) }
func (p *Program) Logf(format string, args ...any) {
	fmt.Fprintf(p.log, p.name+": "+format+"\n", args...)
}
func (p *Program) Fatal(args ...any)                 { panic(stop{fmt.Sprint(args...)}) }
func (p *Program) Fatalf(format string, args ...any) { panic(stop{fmt.Sprintf(format, args...)}) }
func (p *Program) Skip(args ...any)                  { p.Fatal(args...) }
func (p *Program) Skipf(format string, args ...any)  { p.Fatalf(format, args...) }

func (p *Program) Errorf(format string, args ...any) {
	p.failed = true
	p.Logf(format, args...)
}

// TempDir returns a new directory; Close removes them all.
func (p *Program) TempDir() string {
	if p.tmp == "" {
		dir, err := os.MkdirTemp("", "vipkit-"+p.name+"-")
		if err != nil {
			p.Fatalf("temporary directory: %v", err)
		}
		p.tmp = dir
	}
	dir, err := os.MkdirTemp(p.tmp, "")
	if err != nil {
		p.Fatalf("temporary directory: %v", err)
	}
	return dir
}

// Recover, deferred directly (defer p.Recover(&err)), turns a Fatal or
// Skip of p in the function that deferred it into *err. Any other panic
// goes on.
func (p *Program) Recover(err *error) {
	if r := recover(); r != nil {
		s, ok := r.(stop)
		if !ok {
			panic(r)
		}
		*err = errors.New(s.msg)
	}
}

// Require returns nil when labs can be built here, or netlab's reason
// when they cannot (not Linux, not root, no ip command).
func (p *Program) Require() (err error) {
	defer p.Recover(&err)
	Require(p)
	return nil
}

// Close runs the cleanups, newest first, removes the temporary
// directories, and reports whether a cleanup failed (called Errorf).
func (p *Program) Close() error {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
	p.cleanups = nil
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
		p.tmp = ""
	}
	if p.failed {
		return errors.New("removing what was built failed (see above)")
	}
	return nil
}
