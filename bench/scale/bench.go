package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// errInterrupted is the error of a benchmark stopped by a signal.
var errInterrupted = errors.New("interrupted")

// stopGrace is how long a node has to stop after SIGTERM: keepalived
// removes a virtual address per router.
const stopGrace = 20 * time.Second

// A world is the built setup: two hosts joined by the links.
type world struct {
	cfg      config
	r        *netlab.Program
	a, b     *netlab.Host
	ifaces   []string
	exe      string
	progress io.Writer
}

// A node is one implementation running on one host.
type node struct {
	name   string // a or b
	host   *netlab.Host
	master bool
	proc   *proc
	query  func(context.Context) (nodeState, error)
}

// nodeState is what a node's routers say: their states now and the
// transitions since the node started.
type nodeState struct {
	Routers, Masters, Backups, Faults, Others int
	Transitions, ToMaster, ToBackup, ToFault  uint64
	vipkit                                    *nodeStatus // a vipkit node's whole line
}

func (s nodeState) String() string {
	return fmt.Sprintf("%d master, %d backup, %d fault, %d other; %d transitions since start", s.Masters, s.Backups, s.Faults, s.Others, s.Transitions)
}

// bench builds the setup and measures each implementation in turn.
func bench(ctx context.Context, r *netlab.Program, cfg config, progress io.Writer, res *result) (err error) {
	defer r.Recover(&err)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	w := &world{cfg: cfg, r: r, exe: exe, progress: progress}
	w.build()
	for _, impl := range cfg.impls {
		ir := &implResult{}
		if err := w.measure(ctx, impl, ir); err != nil {
			return fmt.Errorf("%s: %w", impl, err)
		}
		res.Implementations[impl] = ir
	}
	return nil
}

// build makes the two hosts and links them, with the flood's source
// address on a's end of each link if there is a flood. IPv6 is turned off
// on the links so that they carry nothing but VRRP once the nodes run.
func (w *world) build() {
	lab := netlab.New(w.r)
	w.a, w.b = lab.Host("a"), lab.Host("b")
	for l := range w.cfg.links {
		ia, ib := lab.Link(w.a, w.b)
		if ia.Name() != ifaceName(l) || ib.Name() != ifaceName(l) {
			w.r.Fatalf("link %d is %s–%s, want %s on both hosts", l, ia, ib, ifaceName(l))
		}
		ia.AddAddr(nodeAddr(l, w.cfg.links, 1))
		ib.AddAddr(nodeAddr(l, w.cfg.links, 2))
		if w.cfg.flood > 0 {
			ia.AddAddr(nodeAddr(l, w.cfg.links, floodSrcHost)) // secondary: the nodes send from .1
		}
		w.ifaces = append(w.ifaces, ia.Name())
	}
	for _, h := range []*netlab.Host{w.a, w.b} {
		err := h.Do(func() error {
			for _, name := range w.ifaces {
				p := "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6"
				if _, err := os.Stat(p); err != nil {
					continue // no IPv6 in this kernel
				}
				if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			w.r.Fatalf("host %s: turning IPv6 off: %v", h.Name(), err)
		}
	}
	fmt.Fprintf(w.progress, "scale: built namespaces %s and %s, %d veth links (%v...), %d routers per node\n",
		w.a.Name(), w.b.Name(), w.cfg.links, nodeAddr(0, w.cfg.links, 1).Masked(), w.cfg.routers())
}

// start starts impl on n and registers its stop with the runner.
func (w *world) start(ctx context.Context, impl string, n *node) error {
	prio := 100
	if n.master {
		prio = 200
	}
	role := map[bool]string{true: "master", false: "backup"}[n.master]
	fmt.Fprintf(w.progress, "scale: %s: starting node %s (%s, priority %d)\n", impl, n.name, role, prio)
	switch impl {
	case implVipkit:
		v := newVipkitNode()
		p, err := startProc(n.host, "vipkit node "+n.name, w.logFile(impl, n), v.onLine, w.exe, nodeCommand,
			"-links", strconv.Itoa(w.cfg.links), "-vrids-per-link", strconv.Itoa(w.cfg.vridsPerLink),
			"-advert-int", w.cfg.advert.String(), "-version", strconv.Itoa(int(w.cfg.version)), "-priority", strconv.Itoa(prio),
			"-rt-priority", strconv.Itoa(w.cfg.rtPriority))
		if err != nil {
			return err
		}
		n.proc = p
		w.registerStop(p)
		if err := v.waitReady(ctx, p, time.Minute); err != nil {
			return err
		}
		n.query = func(ctx context.Context) (nodeState, error) { return v.query(ctx, p) }
	case implKeepalived:
		dir := w.r.TempDir()
		conf := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(conf, []byte(keepalivedConf(w.cfg, n.name, n.master)), 0o600); err != nil {
			return err
		}
		k := newKeepalivedNode(w.cfg.routers())
		p, err := startProc(n.host, "keepalived "+n.name, w.logFile(impl, n), k.onLine, keepalivedArgs(w.cfg.keepalived, conf, dir)...)
		if err != nil {
			return err
		}
		n.proc = p
		w.registerStop(p)
		n.query = func(context.Context) (nodeState, error) {
			if !p.running() {
				return nodeState{}, p.exitErr()
			}
			return k.snapshot(), nil
		}
	}
	return nil
}

// logFile returns the file, in -logs, that keeps n's output, or nil.
func (w *world) logFile(impl string, n *node) io.Writer {
	if w.cfg.logs == "" {
		return nil
	}
	path := filepath.Join(w.cfg.logs, impl+"-"+n.name+".log")
	f, err := os.Create(path)
	if err != nil {
		w.r.Fatalf("-logs: %v", err)
	}
	w.r.Cleanup(func() { f.Close() })
	return f
}

// registerStop makes the runner's cleanup stop p, if nothing has yet.
func (w *world) registerStop(p *proc) {
	w.r.Cleanup(func() {
		if err := p.stop(stopGrace); err != nil {
			w.r.Errorf("%v", err)
		}
	})
}

// waitFor polls the nodes' states until cond holds (true), timeout passes
// (false), ctx ends or a node dies (an error).
func (w *world) waitFor(ctx context.Context, timeout time.Duration, nodes []*node, cond func([]nodeState) bool) (bool, []nodeState, error) {
	deadline := time.Now().Add(timeout)
	for {
		states := make([]nodeState, len(nodes))
		for i, n := range nodes {
			s, err := n.query(ctx)
			if err != nil {
				return false, nil, err
			}
			states[i] = s
		}
		if cond(states) {
			return true, states, nil
		}
		if time.Now().After(deadline) {
			return false, states, nil
		}
		if err := w.sleep(ctx, 200*time.Millisecond, nodes); err != nil {
			return false, nil, err
		}
	}
}

// sleep waits d, failing early if ctx ends or a node dies.
func (w *world) sleep(ctx context.Context, d time.Duration, nodes []*node) error {
	end := time.Now().Add(d)
	for {
		for _, n := range nodes {
			if !n.proc.running() {
				return n.proc.exitErr()
			}
		}
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errInterrupted
		case <-time.After(min(left, 250*time.Millisecond)):
		}
	}
}

// measure runs impl on both nodes, waits for them to settle, starts the
// flood if there is one, measures them over the window, stops the flood
// and then the nodes, filling in ir.
func (w *world) measure(ctx context.Context, impl string, ir *implResult) error {
	cfg := w.cfg
	n := cfg.routers()
	a := &node{name: "a", host: w.a, master: true}
	b := &node{name: "b", host: w.b}
	note := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		ir.Notes = append(ir.Notes, msg)
		fmt.Fprintf(w.progress, "scale: %s: %s\n", impl, msg)
	}

	// a alone becomes master of everything, then b starts beside it.
	if err := w.start(ctx, impl, a); err != nil {
		return err
	}
	began := time.Now()
	ok, st, err := w.waitFor(ctx, cfg.settleTimeout, []*node{a}, func(s []nodeState) bool { return s[0].Masters == n })
	if err != nil {
		return err
	}
	if ok {
		fmt.Fprintf(w.progress, "scale: %s: node a is master of all %d routers after %.1f s\n", impl, n, time.Since(began).Seconds())
	} else {
		note("node a alone was not master of every router within %v: %v", cfg.settleTimeout, st[0])
	}
	if err := w.start(ctx, impl, b); err != nil {
		return err
	}
	began = time.Now()
	quiet := max(time.Second, 10*cfg.advert)
	var lastTr uint64
	lastChange := time.Now()
	ok, st, err = w.waitFor(ctx, cfg.settleTimeout, []*node{a, b}, func(s []nodeState) bool {
		if tr := s[0].Transitions + s[1].Transitions; tr != lastTr {
			lastTr, lastChange = tr, time.Now()
		}
		return s[0].Masters == n && s[1].Backups == n && time.Since(lastChange) >= quiet
	})
	if err != nil {
		return err
	}
	ir.Settled, ir.SettleS = ok, round(time.Since(began).Seconds(), 1)
	if ok {
		fmt.Fprintf(w.progress, "scale: %s: settled after %.1f s (a master and b backup of every router, no transition for %v); warming up %v\n",
			impl, ir.SettleS, quiet, cfg.warmup)
	} else {
		note("not settled within %v (a: %v; b: %v); measuring anyway", cfg.settleTimeout, st[0], st[1])
	}
	var flood *flooder
	if cfg.flood > 0 {
		if flood, err = w.startFlood(); err != nil {
			return err
		}
		defer flood.close() // on failure; after the window it is closed already
		fmt.Fprintf(w.progress, "scale: %s: flooding b with %d advertisements/s of VRID %d (%.0f per link)\n",
			impl, cfg.flood, cfg.floodVRID(), cfg.floodPerLink())
	}
	if err := w.sleep(ctx, cfg.warmup, []*node{a, b}); err != nil {
		return err
	}

	// The window.
	fmt.Fprintf(w.progress, "scale: %s: measuring for %v\n", impl, cfg.window)
	s0, err := w.snapshot(ctx, flood, a, b)
	if err != nil {
		return err
	}
	if err := w.sleep(ctx, cfg.window, []*node{a, b}); err != nil {
		return err
	}
	s1, err := w.snapshot(ctx, flood, a, b)
	if err != nil {
		return err
	}
	if flood != nil {
		if failed, err := flood.close(); failed > 0 {
			note("flood: %d writes failed, the first: %v", failed, err)
		}
	}
	ir.LoadAvg = loadAvg()
	ir.A = nodeResultFrom(cfg, true, s0[0], s1[0])
	ir.B = nodeResultFrom(cfg, false, s0[1], s1[1])
	ir.WindowS = round(s1[0].sample.at.Sub(s0[0].sample.at).Seconds(), 3)
	ir.FloodSentPerS = round(floodRate(s0[0].sample, s1[0].sample), 1)
	fmt.Fprintf(w.progress, "scale: %s: a %.1f%% CPU, sent %.0f/s; b %.1f%% CPU, received %.0f/s; flood %.0f/s; transitions a %d, b %d; load average %.2f\n",
		impl, ir.A.CPUPct, ir.A.SentPerS, ir.B.CPUPct, ir.B.ReceivedPerS, ir.FloodSentPerS, ir.A.Transitions, ir.B.Transitions, ir.LoadAvg)

	// b first, so that a's stop makes nobody take over.
	var errs []error
	for _, nd := range []*node{b, a} {
		if err := nd.proc.stop(stopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// A reading is a node's state and sample at one moment.
type reading struct {
	state  nodeState
	sample sample
}

// snapshot reads both nodes, and with their samples the flood's count
// (flood nil: no flood): for the start of the window the states first, for its end
// the samples first, so that the transitions counted cover the whole
// window.
func (w *world) snapshot(ctx context.Context, flood *flooder, nodes ...*node) ([]reading, error) {
	out := make([]reading, len(nodes))
	var err error
	for i, n := range nodes {
		if out[i].state, err = n.query(ctx); err != nil {
			return nil, err
		}
	}
	for i, n := range nodes {
		if out[i].sample, err = take(n.host, w.ifaces, n.proc.members(), flood); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	return out, nil
}

// vipkitNode follows a vipkit node's status lines.
type vipkitNode struct {
	mu      sync.Mutex
	last    nodeStatus
	ready   bool
	changed chan struct{} // closed and replaced on each status line
}

func newVipkitNode() *vipkitNode { return &vipkitNode{changed: make(chan struct{})} }

// onLine takes one line of the node's output.
func (v *vipkitNode) onLine(line string) {
	var s nodeStatus
	if json.Unmarshal([]byte(line), &s) != nil || s.Kind == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last = s
	if s.Kind == "ready" {
		v.ready = true
	}
	close(v.changed)
	v.changed = make(chan struct{})
}

// waitReady waits for the node's ready line: every router created and
// running, and SIGUSR1 handled.
func (v *vipkitNode) waitReady(ctx context.Context, p *proc, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		v.mu.Lock()
		ready, last, ch := v.ready, v.last, v.changed
		v.mu.Unlock()
		if ready {
			return nil
		}
		if last.Kind == "error" {
			return fmt.Errorf("%s: %s", p.name, last.Error)
		}
		select {
		case <-ch:
		case <-p.done:
			return p.exitErr()
		case <-ctx.Done():
			return errInterrupted
		case <-timer.C:
			return fmt.Errorf("%s (PID %d) not ready within %v; its last output:\n%s", p.name, p.pid, timeout, indent(p.Tail()))
		}
	}
}

// query asks the node for a status line with SIGUSR1 and waits for it.
func (v *vipkitNode) query(ctx context.Context, p *proc) (nodeState, error) {
	v.mu.Lock()
	seq := v.last.Seq
	v.mu.Unlock()
	if err := p.signal(syscall.SIGUSR1); err != nil {
		return nodeState{}, p.exitErr()
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		v.mu.Lock()
		last, ch := v.last, v.changed
		v.mu.Unlock()
		if last.Seq > seq {
			return nodeState{Routers: last.Routers, Masters: last.Masters, Backups: last.Backups, Faults: last.Faults, Others: last.Others,
				Transitions: last.Transitions, ToMaster: last.ToMaster, ToBackup: last.ToBackup, ToFault: last.ToFault, vipkit: &last}, nil
		}
		select {
		case <-ch:
		case <-p.done:
			return nodeState{}, p.exitErr()
		case <-ctx.Done():
			return nodeState{}, errInterrupted
		case <-timer.C:
			return nodeState{}, fmt.Errorf("%s (PID %d) gave no status within 10 s of SIGUSR1", p.name, p.pid)
		}
	}
}
