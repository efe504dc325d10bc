package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// clientCommand is the first argument that makes this program the lab's
// client, run inside the client's namespace.
const clientCommand = "client"

const (
	// attemptEvery is how often the client starts a connection, whether
	// or not the earlier ones have finished: a connection stuck on the
	// dead master never delays the next one.
	attemptEvery = 5 * time.Millisecond
	// attemptTimeout bounds each connection, the answer included. It is
	// below Linux's initial SYN retransmission timeout (1 s), so a
	// connection that succeeds did so with its first SYN, sent when it
	// started: the start of the first connection served through the new
	// master is when the client was served again, not when some retry
	// timer of an older connection fired.
	attemptTimeout = 500 * time.Millisecond
)

// The outcomes of a connection the client reports. A served connection
// is reported as "ok BACKEND BALANCER".
const (
	outcomeOK         = "ok"
	outcomeRefused    = "refused"    // a RST to the SYN: nothing listens there
	outcomeUnanswered = "unanswered" // connected, but no answer in time: a listener nobody accepts from
	outcomeClosed     = "closed"     // connected, then closed or reset without an answer
	outcomeTimeout    = "timeout"    // no answer to the SYN in time
	outcomeError      = "error"      // anything else (unreachable, ...)
)

// runClient is the lab's client: "lab client HOST:PORT" connects to
// HOST:PORT every attemptEvery until it is stopped (SIGTERM), and writes
// one line per connection to stdout, when it ends: the Unix time in
// nanoseconds it started, then its outcome.
func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "lab client: need one argument, HOST:PORT")
		return 2
	}
	dst := args[0]
	var (
		mu sync.Mutex // one line at a time
		wg sync.WaitGroup
	)
	tick := time.NewTicker(attemptEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return 0
		case <-tick.C:
		}
		wg.Go(func() {
			start := time.Now()
			line := strconv.FormatInt(start.UnixNano(), 10) + " " + connect(dst, start.Add(attemptTimeout)) + "\n"
			mu.Lock()
			io.WriteString(stdout, line)
			mu.Unlock()
		})
	}
}

// connect makes one connection to dst, reads the backend's answer until
// deadline and returns the outcome.
func connect(dst string, deadline time.Time) string {
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", dst)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return outcomeRefused
	case isTimeout(err):
		return outcomeTimeout
	case err != nil:
		return outcomeError
	}
	defer c.Close()
	c.SetDeadline(deadline)
	b, err := io.ReadAll(io.LimitReader(c, 256))
	name, via, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	switch {
	case ok && name != "" && via != "":
		return outcomeOK + " " + name + " " + via
	case isTimeout(err):
		return outcomeUnanswered
	}
	return outcomeClosed
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// An attempt is one connection of the client.
type attempt struct {
	at      time.Time
	outcome string     // one of the outcome constants
	backend string     // the backend that answered, when ok
	via     netip.Addr // the balancer the backend saw the connection from, when ok
}

// parseAttempts reads the client's output, in order of the attempts'
// starts. Lines it cannot read (there should be none) are skipped.
func parseAttempts(out string) []attempt {
	var as []attempt
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		a := attempt{at: time.Unix(0, ns), outcome: f[1]}
		if a.outcome == outcomeOK {
			if len(f) != 4 {
				continue
			}
			if a.via, err = netip.ParseAddr(f[3]); err != nil {
				continue
			}
			a.backend = f[2]
		}
		as = append(as, a)
	}
	slices.SortStableFunc(as, func(a, b attempt) int { return a.at.Compare(b.at) })
	return as
}

// serveBackend makes n a backend: on port, inside n's host, it answers
// each connection with n's name and the address the connection came from
// (the balancer that proxied it), then closes it. It stops at cleanup,
// before the host goes.
func serveBackend(r *netlab.Program, n *node, port uint16) {
	var ln net.Listener
	if err := n.host.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(netip.IPv4Unspecified(), port).String())
		return err
	}); err != nil {
		r.Fatalf("backend %s: %v", n.name, err)
	}
	r.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			from := ""
			if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
				from = ap.Addr().Unmap().String()
			}
			c.Write([]byte(n.name + " " + from))
			c.Close()
		}
	}()
}

// startClient runs the client in the client's host, connecting to the
// VIP's service.
func (w *world) startClient() (*netlab.Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return w.client.host.Start(exe, clientCommand, netip.AddrPortFrom(labVIP, servicePort).String()), nil
}

// servedVia says whether the client's output so far shows a connection
// served through n.
func servedVia(out string, n *node) bool {
	return strings.Contains(out, " "+n.addr.String()+"\n")
}

// askVIP makes one connection from the client's host to the VIP's
// service and returns the outcome.
func (w *world) askVIP(timeout time.Duration) string {
	var outcome string
	w.client.host.Do(func() error {
		outcome = connect(netip.AddrPortFrom(labVIP, servicePort).String(), time.Now().Add(timeout))
		return nil
	})
	return outcome
}
