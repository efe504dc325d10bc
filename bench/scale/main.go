// Command scale is vipkit's scale benchmark: two network namespaces, node a
// and node b, joined by veth links, each node running one virtual router
// per VRID per link (4 links × 250 VRIDs = 1000 routers per node by
// default), VRRPv3 multicast, node a master of every router (priority 200)
// and node b backup of every one (priority 100). It runs vipkit (1000
// vrrp.Routers in one process, this program re-executed in the namespace)
// and then keepalived (1000 vrrp_instances) in the same setup, one after the
// other, and prints a table and, last, one JSON line:
//
//	sudo go run ./bench/scale
//	sudo go run ./bench/scale -advert-int 10ms -window 60s
//	sudo go run ./bench/scale -advert-int 10ms -window 60s -rt-priority 10
//	sudo go run ./bench/scale -links 1 -vrids-per-link 5 -window 2s -impl vipkit
//	sudo go run ./bench/scale -flood 50000
//
// Each implementation is started on a alone, then on b; once a is master
// and b backup of every router and no router has changed state for a
// while (or -settle-timeout has passed: a node that flaps never settles,
// and the benchmark measures it anyway), and after -warmup, the benchmark
// measures each node over -window:
//
//   - CPU, as % of one core and in µs per advertisement sent (node a) or
//     received (node b), from utime+stime of every process of the node (a
//     keepalived and its VRRP child count together);
//   - RSS (VmRSS, and the peak VmHWM) and open file descriptors, summed
//     over the node's processes at the end of the window;
//   - advertisements sent and received per second, counted as packets on
//     the node's veths (the same count for both implementations), and as %
//     of nominal (routers / advert-int);
//   - transitions during the window: vipkit's from Router.Subscribe,
//     keepalived's from its "Entering ... STATE" log lines;
//   - drops of the namespace's raw sockets (/proc/net/raw, raw6) and of
//     its veths;
//   - for vipkit also goroutines, allocations per advertisement, and the
//     routers' own counters (messages of an unknown VRID counted once per
//     interface, not once per router).
//
// The ratio columns are vipkit / keepalived, node by node.
//
// With -flood N the benchmark itself floods node b, from the start of the
// warm-up to the end of the window, with N advertisements per second in
// all, spread evenly over the links (N/links each), of a VRID that no
// router runs: vrids-per-link+1 (so -vrids-per-link 254 at most, and
// -links 32 at most, for two more addresses per link). They look valid: the version of -version,
// priority 100, the interval of -advert-int, one virtual address, sent to
// 224.0.0.18 with TTL 255 from a second address of node a's end of each
// link (see addr.go), through raw sockets in a's namespace, a burst every
// millisecond on an absolute schedule, so that the average rate is exact.
// Node b must drop them all as unknown VRIDs: the table shows the flood
// rate achieved, vipkit's count of unknown VRIDs, the transitions in the
// window (none: no takeover) and the % of nominal that a sent (its
// advertisements on time). The flood is taken out of the veths' counts of
// advertisements, a's sent and b's received; b's CPU includes what the
// flood costs it. For the same on a loaded machine, run a load beside the
// benchmark (a go test -race build, say).
//
// With -rt-priority P both implementations run under the real-time policy
// SCHED_RR at priority P: vipkit's timers and sends (the threads of
// vrrp.SetRealtimePriority), keepalived's whole VRRP process (its global
// vrrp_rt_priority, with the largest vrrp_rlimit_rttime: at its default,
// 10 ms of CPU without blocking, and even at one second, the kernel kills
// its VRRP process as it starts a thousand instances at 10 ms).
//
// Each node runs in a session of its own (setsid), so that autogroup
// scheduling shares the CPU between the two nodes and the rest of the
// machine as it would between two daemons. The benchmark removes every
// namespace and process it made, also on Ctrl-C, SIGTERM, SIGHUP or
// failure. Its exit status is 0 when every implementation was measured, 1
// when not, 2 for bad flags or without the privileges: it needs root
// (CAP_SYS_ADMIN and CAP_NET_ADMIN for namespaces, CAP_NET_RAW for raw
// sockets), iproute2's ip command and, for -impl keepalived, keepalived.
//
// Numbers from a shared machine are noisy: the JSON line carries the load
// average at the end of each window.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == nodeCommand {
		os.Exit(nodeMain(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// The implementations.
const (
	implVipkit     = "vipkit"
	implKeepalived = "keepalived"
)

// config is what the command line asks for.
type config struct {
	links, vridsPerLink    int
	flood                  int // advertisements per second of the flood, over all links; 0: none
	advert, window, warmup time.Duration
	settleTimeout          time.Duration
	version                uint
	rtPriority             int // real-time priority of both implementations; 0: none
	impls                  []string
	keepalived             string // its path, when in impls
	quiet                  bool   // no progress lines
	logs                   string // a directory for the nodes' output
}

func (c config) routers() int { return c.links * c.vridsPerLink }

// floodVRID is the VRID of the flood: one that no router runs.
func (c config) floodVRID() uint8 { return uint8(c.vridsPerLink + 1) }

// floodPerLink is the flood's rate on each link: spread evenly over them.
func (c config) floodPerLink() float64 { return float64(c.flood) / float64(c.links) }

// nominal is the advertisements per second every router's master sends.
func (c config) nominal() float64 { return float64(c.routers()) / c.advert.Seconds() }

// usageError is a bad command line: exit status 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const usage = "sudo go run ./bench/scale [-links N] [-vrids-per-link N] [-advert-int D] [-window D] [-version 2|3] [-flood N] [-impl vipkit,keepalived]"

func parse(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		c     config
		impls string
	)
	fs.IntVar(&c.links, "links", 4, "veth links between the two nodes, one subnet each (1..64)")
	fs.IntVar(&c.vridsPerLink, "vrids-per-link", 250, "virtual routers per link and node, VRIDs 1..N (1..255)")
	fs.DurationVar(&c.advert, "advert-int", 100*time.Millisecond, "advertisement interval (VRRPv3: 10ms..40.95s in centiseconds; VRRPv2: whole seconds)")
	fs.DurationVar(&c.window, "window", 20*time.Second, "how long each implementation is measured")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "how long to wait, once the nodes have settled, before the window")
	fs.DurationVar(&c.settleTimeout, "settle-timeout", 30*time.Second, "how long to wait for a to be master and b backup of every router, quietly, before measuring anyway")
	fs.UintVar(&c.version, "version", 3, "VRRP version, 2 or 3")
	fs.IntVar(&c.flood, "flood", 0, fmt.Sprintf("during the warm-up and the window, flood node b with `N` advertisements per second in all (0..%d), spread over the links (N/links each), of a VRID no router runs (vrids-per-link+1); 0: no flood", maxFlood))
	fs.IntVar(&c.rtPriority, "rt-priority", 0, "run both implementations under SCHED_RR at this priority, 1..99: vipkit's timers (vrrp.SetRealtimePriority), keepalived's VRRP process (vrrp_rt_priority); 0: the ordinary policy")
	fs.StringVar(&impls, "impl", implVipkit+","+implKeepalived, "implementations to measure, in order, comma-separated: vipkit, keepalived")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines on standard error")
	fs.StringVar(&c.logs, "logs", "", "a directory to write each node's output to, as IMPL-NODE.log (vipkit's status lines, keepalived's log)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, "scale benchmarks vipkit against keepalived with many virtual routers between two network namespaces.")
		fmt.Fprintln(stderr, "usage:", usage)
		fs.PrintDefaults()
		return c, err
	} else if err != nil {
		return c, usageError{err}
	}
	if fs.NArg() > 0 {
		return c, usagef("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.links < 1 || c.links > maxLinks:
		return c, usagef("-links %d: need 1..%d", c.links, maxLinks)
	case c.vridsPerLink < 1 || c.vridsPerLink > 255:
		return c, usagef("-vrids-per-link %d: need 1..255", c.vridsPerLink)
	case c.window <= 0:
		return c, usagef("-window %v: need a positive duration", c.window)
	case c.warmup < 0 || c.settleTimeout <= 0:
		return c, usagef("-warmup and -settle-timeout: need positive durations")
	case c.version != 2 && c.version != 3:
		return c, usagef("-version %d: need 2 or 3", c.version)
	case c.rtPriority < 0 || c.rtPriority > 99:
		return c, usagef("-rt-priority %d: need 0 (none) or 1..99", c.rtPriority)
	case c.flood < 0 || c.flood > maxFlood:
		return c, usagef("-flood %d: need 0..%d advertisements per second", c.flood, maxFlood)
	case c.flood > 0 && c.vridsPerLink == 255:
		return c, usagef("-flood needs a VRID that no router runs: -vrids-per-link 254 at most")
	case c.flood > 0 && c.links > maxFloodLinks:
		return c, usagef("-flood needs two more addresses per link: -links %d at most", maxFloodLinks)
	}
	err := vrrp.Config{Interface: "eth0", VRID: 1, Version: vrrp.Version(c.version), AdvertInterval: c.advert,
		VirtualAddresses: []netip.Addr{vip(0)}}.Validate()
	if err != nil {
		return c, usagef("-advert-int %v with -version %d: %v", c.advert, c.version, strings.TrimPrefix(err.Error(), vrrp.ErrConfig.Error()+": "))
	}
	for _, name := range strings.Split(impls, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name != implVipkit && name != implKeepalived:
			return c, usagef("-impl %q: need vipkit, keepalived or both, comma-separated", impls)
		case slices.Contains(c.impls, name):
			return c, usagef("-impl %q names %s twice", impls, name)
		}
		c.impls = append(c.impls, name)
	}
	return c, nil
}

// run runs the benchmark and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "scale: %v\n", err)
		return 2
	}
	r := netlab.NewProgram("scale", stderr)
	if err := r.Require(); err != nil {
		fmt.Fprintf(stderr, "scale: %s; run it as root: sudo go run ./bench/scale\n", strings.TrimPrefix(err.Error(), "netlab: "))
		return 2
	}
	if slices.Contains(cfg.impls, implKeepalived) {
		if cfg.keepalived, err = findKeepalived(); err != nil {
			fmt.Fprintf(stderr, "scale: %v; install it or run with -impl vipkit\n", err)
			return 2
		}
	}
	progress := stderr
	if cfg.quiet {
		progress = io.Discard
	}
	res := newResult(cfg)
	defer func() {
		if p := recover(); p != nil { // a bug: still remove what was built
			r.Close()
			panic(p)
		}
	}()
	err = bench(ctx, r, cfg, progress, res)
	fmt.Fprintln(progress, "scale: removing the namespaces and processes")
	if cerr := r.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("removing the namespaces or processes: %w", cerr)
	}
	res.finish()
	printTable(stdout, cfg, res)
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
		fmt.Fprintf(stderr, "scale: %v\n", err)
	}
	b, _ := json.Marshal(res)
	fmt.Fprintf(stdout, "%s\n", b)
	if !res.OK {
		return 1
	}
	return 0
}
