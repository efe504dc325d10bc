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
}

// A move is the VPC delivering the VIP to another ENI.
type move struct {
	at  time.Time
	eni string
}

// build makes the hosts and their network: one bridge on a LAN, the
// simulated VPC's vswitch otherwise.
func build(r *runner, cfg config) *world {
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
	w.cloud.OnMove(func(ip netip.Addr, eni string) {
		if ip == labVIP {
			w.movesMu.Lock()
			w.moves = append(w.moves, move{time.Now(), eni})
			w.movesMu.Unlock()
		}
	})
	w.vsw = vpcsim.NewVSwitch(w.lab, w.cloud)
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
// the owner of the MAC in the client's neighbour table on a LAN, the ENI
// the cloud delivers it to in a VPC.
func (w *world) holder() *node {
	if w.cloud != nil {
		id, _ := w.cloud.Holder(labVIP)
		for _, n := range []*node{w.lb1, w.lb2} {
			if id == eni(n) {
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

// short turns a host's namespace name into its lab name.
func (w *world) short(ns string) string { return strings.TrimPrefix(ns, w.lab.Prefix()+"-") }

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

// demo builds the lab, runs the failover and fills in res.
func demo(ctx context.Context, r *runner, cfg config, out io.Writer, res *result) (err error) {
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
		if p := recover(); p != nil { // the runner's Fatal: netlab could not go on
			f, ok := p.(failure)
			if !ok {
				panic(p)
			}
			err = errors.New(f.msg)
		}
		if err != nil && !errors.Is(err, errInterrupted) && w != nil {
			for _, n := range []*node{w.lb1, w.lb2} {
				if n.proc != nil {
					fmt.Fprintf(r.log, "--- %s's halb output:\n%s", n.name, n.proc.Output())
				}
			}
		}
	}()
	w = build(r, cfg)
	fmt.Fprintf(out, "lab: built namespaces %s-{%s}\n", w.lab.Prefix(), strings.Join(w.names(), ","))
	for _, be := range w.backends {
		be.host.ServeName(backendPort)
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
		_, err := w.client.host.AskName(netip.AddrPortFrom(labVIP, servicePort), time.Second)
		return err == nil
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, 10*time.Second, "lb1 to hold the VIP", func() bool { return w.holder() == w.lb1 }); err != nil {
		return err
	}
	fmt.Fprintf(out, "lab: lb1 (%v, priority %d) is MASTER and holds %v; lb2 (%v, priority %d) is BACKUP\n",
		w.lb1.addr, masterPriority, labVIP, w.lb2.addr, backupPriority)

	stop := make(chan struct{})
	probes := w.client.host.ConnectLoop(netip.AddrPortFrom(labVIP, servicePort), stop)
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
			<-probes
		}
	}()
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	killed := time.Now()
	fmt.Fprintf(out, "lab: the client connects to %v:%d every 5 ms; killing lb1's halb (SIGKILL, PID %d)\n", labVIP, servicePort, w.lb1.proc.PID())
	if err := w.lb1.proc.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select { // connections after this cannot have gone through lb1
	case <-w.lb1.proc.Done():
	case <-time.After(5 * time.Second):
		return errors.New("lb1's halb did not die of SIGKILL")
	}
	dead := time.Now()
	if err := waitFor(ctx, takeover, "lb2 to become master", func() bool { return w.lb2.state() == "MASTER" }); err != nil {
		return err
	}
	if err := waitFor(ctx, 15*time.Second, "the VIP to reach lb2", func() bool { return w.holder() == w.lb2 }); err != nil {
		return err
	}
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	close(stop)
	stopped = true
	tl := w.timeline(killed, dead, <-probes, wire.seen())
	tl.print(out, killed)
	if tl.detection != 0 {
		fmt.Fprintf(out, "lab: lb2 took over %.1f ms after lb1's last advertisement; Master_Down_Interval is %.1f ms\n", ms(tl.detection), ms(mdi))
	}
	if tl.outage == 0 {
		return errors.New("the client was never served through lb2")
	}
	res.OutageMs = tl.outage.Round(time.Millisecond).Milliseconds()
	fmt.Fprintf(out, "lab: outage %.1f ms (the client's last connection through lb1 to its first through lb2); Master_Down_Interval %.1f ms\n",
		ms(tl.outage), ms(mdi))
	fmt.Fprintf(out, "lab: lb2 (%v) now holds %v\n", w.lb2.addr, labVIP)
	return nil
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

// An event is one line of the timeline.
type event struct {
	at   time.Time
	what string
}

// A timeline is what happened around the kill, and the client's outage
// (0 if it was never served again).
type timeline struct {
	events    []event
	detection time.Duration // lb1's last advertisement to lb2's transition
	outage    time.Duration
}

// timeline puts together what the watcher on lb2's interface saw, lb2's
// transitions, the VPC's moves and the client's connections. Connections
// before killed went through lb1, those after dead (lb1's halb reaped)
// through lb2.
func (w *world) timeline(killed, dead time.Time, probes []netlab.Probe, frames []frame) timeline {
	var tl timeline
	add := func(at time.Time, format string, args ...any) {
		if !at.IsZero() {
			tl.events = append(tl.events, event{at, fmt.Sprintf(format, args...)})
		}
	}
	add(killed, "lb1 killed")
	var lastAdvert, firstAdvert, firstGARP time.Time
	for _, f := range frames {
		switch {
		case f.VRRP && f.Source == w.lb1.addr && f.At.Before(killed):
			lastAdvert = f.At
		case f.VRRP && f.Source == w.lb2.addr && f.At.After(killed) && firstAdvert.IsZero():
			firstAdvert = f.At
		case !f.VRRP && f.Source == labVIP && bytes.Equal(f.MAC, w.lb2.iface.MAC()) && f.At.After(killed) && firstGARP.IsZero():
			firstGARP = f.At
		}
	}
	add(lastAdvert, "last advertisement from lb1 seen on lb2's interface")
	add(firstAdvert, "lb2 sends its first advertisement as master")
	add(firstGARP, "lb2 sends its first gratuitous ARP for %v", labVIP)
	for _, t := range w.lb2.transitions() {
		if at, err := time.Parse(time.RFC3339Nano, t.Time); err == nil && at.After(killed) && t.To == "MASTER" {
			add(at, "lb2 becomes MASTER (%s)", t.Reason)
			if !lastAdvert.IsZero() && tl.detection == 0 {
				tl.detection = at.Sub(lastAdvert)
			}
		}
	}
	if w.cloud != nil {
		for _, c := range w.cloud.Calls() {
			if c.Time.After(dead) {
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
		if m.at.After(killed) {
			add(m.at, "the VPC delivers %v to %s", labVIP, m.eni)
		}
	}
	w.movesMu.Unlock()
	var lastServed, firstServed time.Time
	var firstBy string
	for _, p := range probes {
		switch {
		case p.Server != "" && p.At.Before(killed):
			lastServed = p.At
		case p.Server != "" && p.At.After(dead) && firstServed.IsZero():
			firstServed, firstBy = p.At, w.short(p.Server)
		}
	}
	add(lastServed, "the client's last connection through lb1")
	add(firstServed, "the client's first connection through lb2 (served by %s)", firstBy)
	if !firstServed.IsZero() && !lastServed.IsZero() {
		tl.outage = firstServed.Sub(lastServed)
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
