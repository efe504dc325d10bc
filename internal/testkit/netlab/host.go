package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Host is a network namespace of a [Lab]. Make one with [Lab.Host].
type Host struct {
	lab  *Lab
	name string

	mu     sync.Mutex
	nextIf int
}

// Name returns the name of the host's network namespace, as `ip netns`
// knows it: [Lab.Prefix], "-", then the name given to [Lab.Host].
func (h *Host) Name() string { return h.name }

// Path returns the path of the namespace's bind mount, /run/netns/NAME,
// which setns(2) and tools such as nsenter --net= accept.
func (h *Host) Path() string { return filepath.Join(netnsDir, h.name) }

// nextIfName returns the name of the next veth end made in h.
func (h *Host) nextIfName() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nextIf
	h.nextIf++
	return fmt.Sprintf("eth%d", n)
}

// sysctls writes "path=value" settings under /proc/sys inside the host. A
// net/ipv6 setting is skipped when the kernel has no IPv6.
func (h *Host) sysctls(settings ...string) {
	h.lab.t.Helper()
	err := h.Do(func() error {
		for _, s := range settings {
			key, value, _ := strings.Cut(s, "=")
			p := filepath.Join("/proc/sys", key)
			if strings.HasPrefix(key, "net/ipv6/") {
				if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
					continue
				}
			}
			if err := os.WriteFile(p, []byte(value+"\n"), 0o644); err != nil {
				return fmt.Errorf("sysctl %s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		h.lab.t.Fatalf("netlab: host %s: %v", h.name, err)
	}
}

// command returns the command that runs args in the host.
func (h *Host) command(args []string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.name}, args...)...)
}

// Run runs a command in the host (with `ip netns exec`, so it also sees the
// host's /sys and /etc/netns files) and returns its combined standard output
// and standard error. The error, when the command fails, holds the output
// too.
func (h *Host) Run(args ...string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("netlab: host %s: Run: no command", h.name)
	}
	out, err := h.command(args).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netlab: host %s: %s: %w: %s", h.name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// MustRun is [Host.Run] that fails the test (Fatal) when the command fails.
func (h *Host) MustRun(args ...string) string {
	h.lab.t.Helper()
	out, err := h.Run(args...)
	if err != nil {
		h.lab.t.Fatal(err)
	}
	return out
}

// Do runs fn on a goroutine locked to an OS thread that has been switched
// into the host's network namespace with setns(2), and returns fn's error.
// Sockets fn opens belong to the host and stay there after Do returns;
// close them before the test ends so that the namespace can go.
//
// Only fn's own goroutine is in the namespace: goroutines fn starts are
// not. Afterwards the thread is switched back to the namespace it came from;
// if that fails the thread is never unlocked, so the Go runtime ends it
// rather than reuse it, and Do returns an error. A panic in fn is raised
// again in Do's caller. fn must not call t.FailNow, t.Fatal or t.Skip:
// return an error instead.
func (h *Host) Do(fn func() error) error {
	return h.do(fn)
}

// Start starts a command in the host in the background and returns it once
// the process is in the host's network namespace (it may not yet have
// reached the command's main function). The
// command gets a process group of its own and is sent SIGKILL if the test
// binary dies. It is stopped with [Process.Stop] at cleanup if it still
// runs then. Its standard output and standard error are collected together
// and read with [Process.Output]. Start fails the test if the command cannot
// be started; a command that starts and then fails shows that in
// [Process.Wait].
func (h *Host) Start(args ...string) *Process {
	h.lab.t.Helper()
	if len(args) == 0 {
		h.lab.t.Fatalf("netlab: host %s: Start: no command", h.name)
	}
	p, err := startProcess(h, args)
	if err != nil {
		h.lab.t.Fatalf("netlab: host %s: start %s: %v", h.name, strings.Join(args, " "), err)
	}
	h.lab.addStopper(func() {
		select {
		case <-p.Done():
			return // it exited by itself; the test can see how with Wait
		default:
		}
		if err := p.Stop(); err != nil {
			h.lab.t.Errorf("netlab: cleanup: %v", err)
		}
	})
	return p
}

// captureReady bounds how long Capture waits for tcpdump to listen.
const captureReady = 10 * time.Second

// captureSettle is how long Capture.Stop lets tcpdump read the packets
// already received before it stops it.
const captureSettle = 200 * time.Millisecond

// A Capture is a tcpdump running in a host and writing a pcap file. Make
// one with [Host.Capture].
type Capture struct {
	proc *Process
	path string

	once sync.Once
}

// Capture starts `tcpdump -i iface -U --immediate-mode -w FILE [filter]` in
// the host and returns once tcpdump says it is listening, so a packet sent
// after Capture returns is captured. FILE is a new file in t.TempDir(); the
// filter is a pcap-filter(7) expression, "" for all packets. tcpdump keeps
// root's privileges (-Z root) so it can write there. Capture skips the test
// when tcpdump is not installed and fails it when tcpdump does not start
// listening. The capture is stopped at cleanup if [Capture.Stop] was not
// called.
func (h *Host) Capture(iface, filter string) *Capture {
	t := h.lab.t
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("netlab: needs tcpdump in PATH to capture packets")
	}
	f, err := os.CreateTemp(t.TempDir(), iface+"-*.pcap")
	if err != nil {
		t.Fatalf("netlab: capture file: %v", err)
	}
	path := f.Name()
	f.Close()
	args := []string{"tcpdump", "-i", iface, "-U", "--immediate-mode", "-Z", "root", "-w", path}
	if filter != "" {
		args = append(args, filter)
	}
	p, err := startProcess(h, args)
	if err != nil {
		t.Fatalf("netlab: host %s: start tcpdump: %v", h.name, err)
	}
	c := &Capture{proc: p, path: path}
	h.lab.addStopper(func() { c.Stop() })
	if !p.WaitOutput("listening on", captureReady) {
		c.Stop()
		t.Fatalf("netlab: host %s: tcpdump on %s did not start listening: %s", h.name, iface, strings.TrimSpace(p.Output()))
	}
	return c
}

// Stop stops tcpdump and returns the path of the pcap file, which stays
// until the test's TempDir is removed. Stop first waits a moment for tcpdump
// to write what it has received, then sends it SIGINT, and SIGKILL if it
// does not exit within the grace period. A failure is reported with
// t.Errorf. Calling Stop again returns the same path.
func (c *Capture) Stop() string {
	c.once.Do(func() {
		select {
		case <-c.proc.Done():
		default:
			time.Sleep(captureSettle)
		}
		err := c.proc.stop(syscall.SIGINT, DefaultGrace)
		if err != nil {
			c.proc.host.lab.t.Errorf("netlab: tcpdump: %v: %s", err, strings.TrimSpace(c.proc.Output()))
		}
	})
	return c.path
}

// Path returns the path of the pcap file. It is complete only after
// [Capture.Stop].
func (c *Capture) Path() string { return c.path }

// Output returns what tcpdump has written to standard error so far (after
// Stop: how many packets it captured and dropped).
func (c *Capture) Output() string { return c.proc.Output() }
