package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
	"github.com/vipkit/vipkit/vrrp"
)

// The lab's addresses, all in 192.0.2.0/24 (RFC 5737).
var (
	labSubnet = netip.MustParsePrefix("192.0.2.0/24")
	labVIP    = netip.MustParseAddr("192.0.2.100")
)

const (
	labVRID     = 51
	servicePort = 80   // halb listens here, on every address
	backendPort = 8080 // the backends answer with their name here
	// The priorities of the first master and of the backup that takes over.
	masterPriority, backupPriority = 150, 100
)

// A node is one host of the lab.
type node struct {
	name  string
	addr  netip.Addr
	host  *netlab.Host
	iface *netlab.Iface
	proc  *netlab.Process // halb, on the two balancers
}

// A world is the built lab.
type world struct {
	cfg      config
	lab      *netlab.Lab
	cloud    *vpcsim.Cloud   // nil on a LAN
	vsw      *vpcsim.VSwitch // nil on a LAN
	lb1, lb2 *node
	backends []*node
	client   *node

	movesMu sync.Mutex
	moves   []move // the VPC re-binding the VIP

	lb1Gone time.Time // when the lab saw lb1's killed halb exit
}

// A move is the VPC giving the VIP to another ENI, or routing it there.
type move struct {
	at     time.Time
	eni    string
	routed bool
}

// moved notes a move of ip, if it is the VIP.
func (w *world) moved(ip netip.Addr, eni string, routed bool) {
	if ip == labVIP {
		w.movesMu.Lock()
		w.moves = append(w.moves, move{time.Now(), eni, routed})
		w.movesMu.Unlock()
	}
}

// build makes the hosts and their network: one bridge on a LAN, the
// simulated VPC's vswitch otherwise.
func build(r *netlab.Program, cfg config) *world {
	w := &world{cfg: cfg, lab: netlab.New(r)}
	w.lb1, w.lb2 = &node{name: "lb1"}, &node{name: "lb2"}
	w.backends = []*node{{name: "be1"}, {name: "be2"}}
	w.client = &node{name: "client"}
	all := append([]*node{w.lb1, w.lb2, w.client}, w.backends...)
	for i, n := range all {
		n.addr = netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		n.host = w.lab.Host(n.name)
	}
	if cfg.mode == modeLAN {
		sw := w.lab.Switch("sw")
		for _, n := range all {
			n.iface = sw.Attach(n.host)
			n.iface.AddAddr(netip.PrefixFrom(n.addr, labSubnet.Bits()))
		}
		return w
	}
	w.cloud = vpcsim.NewCloud("AKIDvipkitlab", "vipkit-lab-secret")
	r.Cleanup(w.cloud.Close)
	w.cloud.AddSubnet("subnet-lab", labSubnet)
	for _, n := range all {
		w.cloud.AddInstance(instance(n), eni(n), nil, "subnet-lab", n.addr)
	}
	if cfg.mode == modeHAVIP {
		w.cloud.AddHaVip("havip-lab", labVIP, "subnet-lab")
	} else {
		w.cloud.AddPrivateIP(eni(w.lb1), labVIP)
	}
	// The cloud gives the address to another ENI, then the vswitch's own
	// OnMove function re-routes it there: the lab notes both.
	w.cloud.OnMove(func(ip netip.Addr, eni string) { w.moved(ip, eni, false) })
	w.vsw = vpcsim.NewVSwitch(w.lab, w.cloud)
	w.cloud.OnMove(func(ip netip.Addr, eni string) { w.moved(ip, eni, true) })
	for _, n := range all {
		n.iface = w.vsw.AddHost(n.host, instance(n))
	}
	return w
}

func instance(n *node) string { return "ins-" + n.name }
func eni(n *node) string      { return "eni-" + n.name }

// startHalb runs halb on n, balancing over the backends, with peer as its
// unicast peer in a VPC.
func (w *world) startHalb(n, peer *node, priority int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{exe, nodeCommand, "-listen", ":" + strconv.Itoa(servicePort), "-health-interval", "100ms", "-drain", "1s",
		"-interface", n.iface.Name(), "-vrid", strconv.Itoa(labVRID), "-priority", strconv.Itoa(priority),
		"-version", strconv.Itoa(int(w.cfg.version)), "-advert-int", w.cfg.advert.String(),
		"-vip", netip.PrefixFrom(labVIP, labSubnet.Bits()).String()}
	for _, be := range w.backends {
		args = append(args, "-backend", netip.AddrPortFrom(be.addr, backendPort).String())
	}
	if w.vsw != nil {
		args = append(args, "-src", n.addr.String(), "-peer", peer.addr.String(),
			"-tencentcloud", w.cfg.mode, "-tencentcloud-endpoint", strings.TrimPrefix(w.vsw.APIURL(), "http://"),
			"-tencentcloud-scheme", "http", "-tencentcloud-metadata", w.vsw.MetadataURL(instance(n)))
	}
	n.proc = n.host.Start(args...)
	return nil
}

// transitions returns the transitions n's halb has reported.
func (n *node) transitions() []vipcmd.Transition {
	trs, _ := vipcmd.Transitions(n.proc.Output()) // halb writes only whole lines
	return trs
}

// state returns n's last reported state ("" before the first).
func (n *node) state() string {
	trs := n.transitions()
	if len(trs) == 0 {
		return ""
	}
	return trs[len(trs)-1].To
}

// holder says which balancer the client's traffic for the VIP goes to:
// the owner of the MAC in the client's neighbour table on a LAN, the one
// whose port the vswitch routes it to in a VPC.
func (w *world) holder() *node {
	if w.vsw != nil {
		port := w.vsw.Route(labVIP)
		for _, n := range []*node{w.lb1, w.lb2} {
			if port != "" && port == w.vsw.Port(instance(n)) {
				return n
			}
		}
		return nil
	}
	out, err := w.client.host.Run("ip", "neigh", "show", labVIP.String(), "dev", w.client.iface.Name())
	if err != nil {
		return nil
	}
	for _, n := range []*node{w.lb1, w.lb2} {
		if strings.Contains(out, " "+n.iface.MAC().String()+" ") {
			return n
		}
	}
	return nil
}

// errInterrupted is the error of a lab stopped by a signal.
var errInterrupted = errors.New("interrupted")

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return errInterrupted
	case <-time.After(d):
		return nil
	}
}

// waitFor polls cond until it holds, timeout passes or ctx ends.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", timeout, what)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// outageAllowance is what the lab allows the client's outage beyond
// Master_Down_Interval: the time for lb2 to claim the address once its
// timer fires (and for the VPC to follow) and for the client's next
// connection to get through, with room for a loaded machine. (The outage
// also includes the time from the client's last connection through lb1 to
// the kill, and excludes the time from lb1's last advertisement to the
// kill, a part of Master_Down_Interval already run.)
const outageAllowance = 500 * time.Millisecond

// outageLimit is the longest outage the lab calls a success.
func outageLimit(mdi time.Duration) time.Duration { return mdi + outageAllowance }

// demo builds the lab, runs the failover and fills in res.
func demo(ctx context.Context, r *netlab.Program, cfg config, out io.Writer, res *result) (err error) {
	backup, err := vrrp.NewMachine(vrrp.MachineConfig{Version: cfg.version, Priority: backupPriority,
		AdvertInterval: cfg.advert, DownTimerAdverts: 3, Primary: netip.MustParseAddr("192.0.2.2")})
	if err != nil {
		return err
	}
	mdi := backup.MasterDownInterval()
	res.MasterDownMs = mdi.Round(time.Millisecond).Milliseconds()
	// How long a node may take to become master, or the VIP to follow.
	takeover := 2*mdi + 5*time.Second
	where := map[string]string{
		modeLAN:       "on one LAN (VRRP multicast, gratuitous ARP)",
		modeHAVIP:     "in a simulated Tencent Cloud VPC; the VIP is an HAVIP, which the SDN gives to whoever announces it by gratuitous ARP",
		modePrivateIP: "in a simulated Tencent Cloud VPC; the VIP is an ordinary private IP, which only the VPC API moves",
	}[cfg.mode]
	fmt.Fprintf(out, "lab: a client, two halb balancers (VRRPv%d, advert_int %v, VIP %v) and two backends, %s\n",
		cfg.version, cfg.advert, labVIP, where)

	var w *world
	defer func() {
		if err != nil && !errors.Is(err, errInterrupted) && w != nil {
			for _, n := range []*node{w.lb1, w.lb2} {
				if n.proc != nil {
					r.Logf("--- %s's halb output:\n%s", n.name, n.proc.Output())
				}
			}
		}
	}()
	defer r.Recover(&err) // netlab could not go on
	w = build(r, cfg)
	fmt.Fprintf(out, "lab: built namespaces %s-{%s}\n", w.lab.Prefix(), strings.Join(w.names(), ","))
	for _, be := range w.backends {
		serveBackend(r, be, backendPort)
	}
	wire, err := watch(w.lb2.iface)
	if err != nil {
		return fmt.Errorf("watching lb2's interface: %w", err)
	}
	r.Cleanup(wire.Close)

	if err := w.startHalb(w.lb1, w.lb2, masterPriority); err != nil {
		return err
	}
	if err := waitFor(ctx, takeover, "lb1 to become master", func() bool { return w.lb1.state() == "MASTER" }); err != nil {
		return err
	}
	if err := w.startHalb(w.lb2, w.lb1, backupPriority); err != nil {
		return err
	}
	if err := waitFor(ctx, 10*time.Second, "lb2 to become backup", func() bool { return w.lb2.state() == "BACKUP" }); err != nil {
		return err
	}
	if err := waitFor(ctx, 10*time.Second, "the client to be served through the VIP", func() bool {
		return strings.HasPrefix(w.askVIP(time.Second), outcomeOK+" ")
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, 10*time.Second, "lb1 to hold the VIP", func() bool { return w.holder() == w.lb1 }); err != nil {
		return err
	}
	fmt.Fprintf(out, "lab: lb1 (%v, priority %d) is MASTER and holds %v; lb2 (%v, priority %d) is BACKUP\n",
		w.lb1.addr, masterPriority, labVIP, w.lb2.addr, backupPriority)

	client, err := w.startClient()
	if err != nil {
		return err
	}
	if err := waitFor(ctx, 10*time.Second, "the client to be served through lb1", func() bool { return servedVia(client.Output(), w.lb1) }); err != nil {
		return err
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	killed := time.Now()
	fmt.Fprintf(out, "lab: the client connects to %v:%d every %d ms; killing lb1's halb (SIGKILL, PID %d)\n",
		labVIP, servicePort, attemptEvery.Milliseconds(), w.lb1.proc.PID())
	err = w.failover(ctx, client, takeover)
	// The timeline comes first, whatever happened: it is what tells why.
	if serr := client.Stop(); serr != nil && err == nil {
		err = fmt.Errorf("the client: %w", serr)
	}
	attempts := parseAttempts(client.Output())
	tl := w.timeline(killed, attempts, wire.seen())
	tl.print(out, killed)
	if tl.detection != 0 {
		fmt.Fprintf(out, "lab: lb2 took over %.1f ms after lb1's last advertisement; Master_Down_Interval is %.1f ms\n", ms(tl.detection), ms(mdi))
	}
	if tl.outage != 0 {
		res.OutageMs = tl.outage.Round(time.Millisecond).Milliseconds()
		fmt.Fprintf(out, "lab: outage %.1f ms (the client's last connection through lb1 to its first through lb2); Master_Down_Interval %.1f ms\n",
			ms(tl.outage), ms(mdi))
	}
	if s := tl.failures(); s != "" {
		fmt.Fprintf(out, "lab: the client's connections in between: %s\n", s)
	}
	if err != nil {
		return err
	}
	if err := tl.verdict(mdi); err != nil {
		return err
	}
	fmt.Fprintf(out, "lab: lb2 (%v) now holds %v\n", w.lb2.addr, labVIP)
	return nil
}

// failover kills lb1's halb and waits for lb2 to take over and to serve
// the client, and a moment more to see that it goes on doing so.
func (w *world) failover(ctx context.Context, client *netlab.Process, takeover time.Duration) error {
	if err := w.lb1.proc.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	// Only to be sure it is dead: the client's connections tell by
	// themselves which balancer served them, and the exit of a killed
	// process can take long to be seen on a loaded machine.
	select {
	case <-w.lb1.proc.Done():
		w.lb1Gone = time.Now()
	case <-time.After(10 * time.Second):
		return errors.New("lb1's halb did not die of SIGKILL")
	}
	if err := waitFor(ctx, takeover, "lb2 to become master", func() bool { return w.lb2.state() == "MASTER" }); err != nil {
		return err
	}
	if err := waitFor(ctx, 15*time.Second, "the VIP to reach lb2", func() bool { return w.holder() == w.lb2 }); err != nil {
		return err
	}
	if err := waitFor(ctx, 10*time.Second, "the client to be served through lb2", func() bool { return servedVia(client.Output(), w.lb2) }); err != nil {
		return err
	}
	return sleep(ctx, 300*time.Millisecond)
}

// names lists the lab's hosts.
func (w *world) names() []string {
	var names []string
	for _, n := range append([]*node{w.lb1, w.lb2, w.client}, w.backends...) {
		names = append(names, n.name)
	}
	if w.vsw != nil {
		return append(names, "vsw")
	}
	return append(names, "sw")
}

// balancer returns the balancer whose address is a, or nil.
func (w *world) balancer(a netip.Addr) *node {
	for _, n := range []*node{w.lb1, w.lb2} {
		if n.addr == a {
			return n
		}
	}
	return nil
}

// An event is one line of the timeline.
type event struct {
	at   time.Time
	what string
}

// A timeline is what happened around the kill, and what the lab makes of
// it. A zero time or duration is something that did not happen.
type timeline struct {
	events []event

	lastAdvert time.Time      // lb1's last advertisement, on lb2's interface
	takeover   time.Time      // lb2 becoming master after the kill
	lastLB1    time.Time      // the start of the client's last connection served through lb1 before lb2's first
	firstLB2   time.Time      // the start of the client's first connection served through lb2
	againLB1   time.Time      // the start of a connection served through lb1 after that
	detection  time.Duration  // lastAdvert to takeover
	outage     time.Duration  // lastLB1 to firstLB2
	between    map[string]int // outcomes of the client's connections between lastLB1 and firstLB2
}

// timeline puts together what the watcher on lb2's interface saw, lb2's
// transitions, the VPC's moves and the client's connections.
func (w *world) timeline(killed time.Time, attempts []attempt, frames []frame) timeline {
	tl := timeline{between: map[string]int{}}
	add := func(at time.Time, format string, args ...any) {
		if !at.IsZero() {
			tl.events = append(tl.events, event{at, fmt.Sprintf(format, args...)})
		}
	}
	add(killed, "lb1 killed")
	add(w.lb1Gone, "the lab sees lb1's halb exit")
	var firstAdvert, firstGARP time.Time
	for _, f := range frames {
		switch {
		case f.VRRP && f.Source == w.lb1.addr: // none can follow its death
			tl.lastAdvert = f.At
		case f.VRRP && f.Source == w.lb2.addr && f.At.After(killed) && firstAdvert.IsZero():
			firstAdvert = f.At
		case !f.VRRP && f.Source == labVIP && bytes.Equal(f.MAC, w.lb2.iface.MAC()) && f.At.After(killed) && firstGARP.IsZero():
			firstGARP = f.At
		}
	}
	add(tl.lastAdvert, "last advertisement from lb1 seen on lb2's interface")
	add(firstAdvert, "lb2 sends its first advertisement as master")
	add(firstGARP, "lb2 sends its first gratuitous ARP for %v", labVIP)
	for _, t := range w.lb2.transitions() {
		if at, err := time.Parse(time.RFC3339Nano, t.Time); err == nil && at.After(killed) && t.To == "MASTER" {
			add(at, "lb2 becomes MASTER (%s)", t.Reason)
			if tl.takeover.IsZero() {
				tl.takeover = at
			}
		}
	}
	if !tl.lastAdvert.IsZero() && !tl.takeover.IsZero() {
		tl.detection = tl.takeover.Sub(tl.lastAdvert)
	}
	if w.cloud != nil {
		for _, c := range w.cloud.Calls() {
			if c.Time.After(killed) {
				answer := "ok"
				if c.ErrCode != "" {
					answer = c.ErrCode
				}
				add(c.Time, "lb2 calls the VPC API: %s (%s)", c.Action, answer)
			}
		}
	}
	w.movesMu.Lock()
	for _, m := range w.moves {
		switch {
		case !m.at.After(killed):
		case m.routed:
			add(m.at, "the VPC delivers %v to %s (the vswitch's route is in place)", labVIP, m.eni)
		default:
			add(m.at, "the VPC gives %v to %s", labVIP, m.eni)
		}
	}
	w.movesMu.Unlock()

	// The client's connections, counted for the balancer that served them.
	var lastBy, firstBy string
	var refused time.Time
	for _, a := range attempts {
		if a.outcome == outcomeRefused && a.at.After(killed) && refused.IsZero() {
			refused = a.at
		}
		if a.outcome != outcomeOK {
			continue
		}
		switch w.balancer(a.via) {
		case w.lb1:
			if tl.firstLB2.IsZero() {
				tl.lastLB1, lastBy = a.at, a.backend
			} else if tl.againLB1.IsZero() {
				tl.againLB1 = a.at
			}
		case w.lb2:
			if tl.firstLB2.IsZero() {
				tl.firstLB2, firstBy = a.at, a.backend
			}
		}
	}
	add(tl.lastLB1, "the client's last connection through lb1 (served by %s)", lastBy)
	add(refused, "lb1's kernel refuses the client's connections (its halb's socket is closed)")
	add(tl.firstLB2, "the client's first connection through lb2 (served by %s)", firstBy)
	add(tl.againLB1, "the client is served through lb1 again")
	if !tl.lastLB1.IsZero() && !tl.firstLB2.IsZero() {
		tl.outage = tl.firstLB2.Sub(tl.lastLB1)
		for _, a := range attempts {
			if a.at.After(tl.lastLB1) && a.at.Before(tl.firstLB2) {
				tl.between[a.outcome]++
			}
		}
	}
	slices.SortStableFunc(tl.events, func(a, b event) int { return a.at.Compare(b.at) })
	return tl
}

// print writes the timeline, in milliseconds from the kill.
func (tl timeline) print(out io.Writer, killed time.Time) {
	fmt.Fprintln(out, "lab: timeline, ms from the kill:")
	for _, e := range tl.events {
		fmt.Fprintf(out, "  %8.1f  %s\n", ms(e.at.Sub(killed)), e.what)
	}
}

// failures says how the client's connections during the outage failed,
// or "" if none did.
func (tl timeline) failures() string {
	var parts []string
	for _, o := range []struct{ outcome, what string }{
		{outcomeUnanswered, "connected but not answered in time (lb1's halb dying with its socket still listening, or a slow proxy)"},
		{outcomeRefused, "refused (lb1's kernel: nothing listens there any more)"},
		{outcomeTimeout, "unanswered SYN"},
		{outcomeClosed, "closed without an answer"},
		{outcomeError, "other errors"},
	} {
		if n := tl.between[o.outcome]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o.what))
		}
	}
	return strings.Join(parts, ", ")
}

// verdict returns what in the failover is not what the lab promises
// (see the package documentation), or nil.
func (tl timeline) verdict(mdi time.Duration) error {
	// The clocks compared are the kernel's (the wire), the halb nodes' and
	// the client's: one machine's, but printed to the microsecond.
	const slack = time.Millisecond
	switch {
	case tl.firstLB2.IsZero():
		return errors.New("the client was never served through lb2")
	case tl.lastLB1.IsZero():
		return errors.New("the client was never served through lb1")
	case !tl.againLB1.IsZero():
		return fmt.Errorf("the client was served through lb1 again, %.1f ms after its first connection through lb2", ms(tl.againLB1.Sub(tl.firstLB2)))
	case tl.outage > outageLimit(mdi):
		return fmt.Errorf("outage %.1f ms, over the lab's bound of %.1f ms (Master_Down_Interval %.1f ms + %.0f ms)",
			ms(tl.outage), ms(outageLimit(mdi)), ms(mdi), ms(outageAllowance))
	case tl.takeover.IsZero():
		return errors.New("lb2 did not report becoming master")
	case tl.lastAdvert.IsZero():
		return errors.New("no advertisement from lb1 was seen on lb2's interface, so the takeover's timing cannot be checked")
	case tl.detection < mdi-slack:
		return fmt.Errorf("lb2 took over %.1f ms after lb1's last advertisement, before Master_Down_Interval (%.1f ms) ran out",
			ms(tl.detection), ms(mdi))
	case tl.firstLB2.Before(tl.takeover.Add(-slack)):
		return fmt.Errorf("the client was served through lb2 %.1f ms before lb2 became master", ms(tl.takeover.Sub(tl.firstLB2)))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
