package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long [Process.Stop] and [Capture.Stop] wait for a
// process to exit after the first signal before they send SIGKILL.
const DefaultGrace = 5 * time.Second

// waitDelay bounds how long a process's output is read after it exits (a
// child it left behind may hold the pipe open).
const waitDelay = 2 * time.Second

// A Process is a command running in the background in a host. Make one with
// [Host.Start].
type Process struct {
	host *Host
	args []string
	cmd  *exec.Cmd
	out  outBuffer

	// mu is held while signalling and while marking the process exited,
	// so a signal never reaches a PID that has been reaped and maybe
	// reused.
	mu     sync.Mutex
	exited bool

	done    chan struct{}
	waitErr error // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts args in h with its output collected.
func startProcess(h *Host, args []string) (*Process, error) {
	p := &Process{host: h, args: args, done: make(chan struct{})}
	p.out.changed = make(chan struct{})
	p.cmd = h.command(args)
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = &p.out
	p.cmd.SysProcAttr = sysProcAttr()
	p.cmd.WaitDelay = waitDelay
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go p.wait()
	p.waitEntered()
	return p, nil
}

// enterTimeout bounds how long startProcess waits for `ip netns exec` to
// switch the new process into the host's namespace.
const enterTimeout = 5 * time.Second

// waitEntered waits until the process is in the host's network namespace,
// has exited, or enterTimeout has passed, so that a process Start returns
// is never still in the test's own namespace.
func (p *Process) waitEntered() {
	deadline := time.Now().Add(enterTimeout)
	for !inNetns(p.cmd.Process.Pid, p.host.Path()) && time.Now().Before(deadline) {
		select {
		case <-p.done:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// wait waits for the process to exit, marks it exited while it is still a
// zombie (when the OS lets us wait without reaping), then reaps it.
func (p *Process) wait() {
	if waitNoReap(p.cmd.Process.Pid) == nil {
		p.markExited()
	}
	err := p.cmd.Wait()
	p.markExited()
	p.waitErr = err
	close(p.done)
}

func (p *Process) markExited() {
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
}

// PID returns the process ID. `ip netns exec` execs the command, so this
// is the command's own PID (and its process group ID).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// String returns the host and the command line.
func (p *Process) String() string {
	return fmt.Sprintf("%s: %s (pid %d)", p.host.name, strings.Join(p.args, " "), p.PID())
}

// Signal sends sig to the process (not to the rest of its process group).
// It returns [os.ErrProcessDone] once the process has exited.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	return p.cmd.Process.Signal(sig)
}

// signalGroup sends sig to the process's group, or to the process alone
// where process groups are not supported.
func (p *Process) signalGroup(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	if err := killGroup(p.cmd.Process.Pid, sig); err == nil || !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return p.cmd.Process.Signal(sig)
}

// Done returns a channel that is closed when the process has exited and
// its output has been read.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit by itself and returns its error as
// [exec.Cmd.Wait] does (an *exec.ExitError for a non-zero status).
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Output returns what the process has written so far to its standard
// output and standard error, interleaved as written.
func (p *Process) Output() string { return p.out.String() }

// WaitOutput waits until the output holds substr, and reports whether it
// did before the timeout ran out or the process exited.
func (p *Process) WaitOutput(substr string, timeout time.Duration) bool {
	return p.out.waitFor(substr, timeout, p.done)
}

// Stop stops the process: SIGTERM to its process group, then, if it has
// not exited within [DefaultGrace], SIGKILL. It returns once the process has
// exited and been reaped, so its PID is gone. Stop returns nil when the
// process exited after Stop signalled it, whatever its status; the error of
// [Process.Wait] when it had exited by itself before; and an error when it
// could not be ended. Calling Stop again returns the same result.
func (p *Process) Stop() error { return p.StopWithin(DefaultGrace) }

// StopWithin is [Process.Stop] with grace instead of [DefaultGrace].
func (p *Process) StopWithin(grace time.Duration) error {
	return p.stop(syscall.SIGTERM, grace)
}

// stop sends sig to the group, waits up to grace, then SIGKILLs the group.
func (p *Process) stop(sig syscall.Signal, grace time.Duration) error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			if p.waitErr != nil {
				p.stopErr = fmt.Errorf("netlab: %v had exited: %w", p, p.waitErr)
			}
			return
		default:
		}
		if err := p.signalGroup(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = fmt.Errorf("netlab: %v: %v: %w", p, sig, err)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
			p.stopErr = nil
			return
		case <-timer.C:
		}
		if err := p.signalGroup(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = errors.Join(p.stopErr, fmt.Errorf("netlab: %v: SIGKILL: %w", p, err))
		}
		select {
		case <-p.done:
			p.stopErr = nil
		case <-time.After(cmdTimeout):
			p.stopErr = errors.Join(p.stopErr, fmt.Errorf("netlab: %v: still running %v after SIGKILL", p, cmdTimeout))
		}
	})
	return p.stopErr
}

// outBuffer collects output and wakes those waiting for some of it.
type outBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on each write
}

func (o *outBuffer) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b.Write(b)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(b), nil
}

func (o *outBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor waits until the buffer holds substr, the timeout runs out or done
// is closed.
func (o *outBuffer) waitFor(substr string, timeout time.Duration, done <-chan struct{}) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		o.mu.Lock()
		found := strings.Contains(o.b.String(), substr)
		changed := o.changed
		o.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		case <-done:
			return strings.Contains(o.String(), substr)
		}
	}
}
