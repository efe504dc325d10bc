package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// A proc is a node's process, started in a host with `ip netns exec` (which
// execs the command, so the PID is the command's) in a session of its own:
// the kernel's autogroup scheduling then treats each node as one group, as
// it treats a daemon started by an init system, instead of lumping both
// nodes into the benchmark's own session. Every process of the node (a
// keepalived and its VRRP child) is found by its session ID, which is the
// PID, so none is missed when the parent has gone.
type proc struct {
	name string
	cmd  *exec.Cmd
	pid  int

	mu       sync.Mutex
	tail     []string // the last lines of output
	exited   bool     // reaped: the PID may be reused, never signal it
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// tailLines is how many lines of a node's output are kept for errors.
const tailLines = 8

// startProc starts args in h with standard output and standard error on
// one pipe whose every line goes to onLine, from one goroutine, and to log
// if it is not nil.
func startProc(h *netlab.Host, name string, log io.Writer, onLine func(string), args ...string) (*proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", h.Name()}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w.Close()
	p.pid = p.cmd.Process.Pid
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				line = strings.TrimRight(line, "\r\n")
				p.mu.Lock()
				if len(p.tail) == tailLines {
					p.tail = append(p.tail[:0], p.tail[1:]...)
				}
				p.tail = append(p.tail, line)
				p.mu.Unlock()
				onLine(line)
				if log != nil {
					fmt.Fprintln(log, line)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exited, p.waitErr = true, err
		p.mu.Unlock()
		select { // a child left behind may hold the pipe open
		case <-readDone:
		case <-time.After(2 * time.Second):
		}
		r.Close()
		close(p.done)
	}()
	return p, nil
}

// Tail returns the last lines the process wrote.
func (p *proc) Tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// signal sends sig to the process unless it has been reaped.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	return p.cmd.Process.Signal(sig)
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exitErr says how the process ended, for a node that died early.
func (p *proc) exitErr() error {
	p.mu.Lock()
	err := p.waitErr
	p.mu.Unlock()
	if err == nil {
		err = errors.New("exited")
	}
	return fmt.Errorf("%s (PID %d) ended during the benchmark: %v; its last output:\n%s", p.name, p.pid, err, indent(p.Tail()))
}

// members returns the PIDs of the node's processes: those of its session.
func (p *proc) members() []int { return sessionMembers(p.pid) }

// stop ends the node: SIGTERM to the process, then after grace SIGKILL to
// every process of its session, each by PID. It returns once the process
// has been reaped and no process of the session is left.
func (p *proc) stop(grace time.Duration) error {
	p.stopOnce.Do(func() {
		if p.signal(syscall.SIGTERM) == nil {
			select {
			case <-p.done:
			case <-time.After(grace):
				p.stopErr = fmt.Errorf("%s (PID %d) did not stop within %v of SIGTERM; killed", p.name, p.pid, grace)
			}
		}
		// Whatever is left of the session (a VRRP child whose parent
		// died, say): SIGKILL, by PID, until none is left.
		deadline := time.Now().Add(10 * time.Second)
		for {
			left := p.members()
			if p.running() {
				p.signal(syscall.SIGKILL)
			}
			if len(left) == 0 && !p.running() {
				break
			}
			for _, pid := range left {
				if pid != p.pid {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if time.Now().After(deadline) {
				p.stopErr = errors.Join(p.stopErr, fmt.Errorf("%s: processes %v still there 10 s after SIGKILL", p.name, left))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return p.stopErr
}

func indent(s string) string {
	if s == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
