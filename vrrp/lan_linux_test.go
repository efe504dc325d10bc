package vrrp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

// lanNode is a host of a lab LAN running one vipkit router.
type lanNode struct {
	host   *netlab.Host
	iface  *netlab.Iface
	router *vrrp.Router
	events <-chan vrrp.Event
	stop   func()
}

// lan builds a switch with n hosts numbered from 1, each with the IPv4
// address prefix4.N/24 and the IPv6 address 2001:db8::N/64.
func lan(t *testing.T, n int) []*lanNode {
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	nodes := make([]*lanNode, n)
	for i := range nodes {
		h := lab.Host(fmt.Sprintf("h%d", i+1))
		ifc := sw.Attach(h)
		ifc.AddAddr(netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", i+1)))
		ifc.AddAddr(netip.MustParsePrefix(fmt.Sprintf("2001:db8::%d/64", i+1)))
		nodes[i] = &lanNode{host: h, iface: ifc}
	}
	return nodes
}

// start creates a router from cfg inside the node's host and runs it
// until the test ends or stop is called.
func (n *lanNode) start(t *testing.T, cfg vrrp.Config) {
	t.Helper()
	cfg.Interface = n.iface.Name()
	cfg.Logger = slog.New(slog.DiscardHandler)
	require.NoError(t, n.host.Do(func() error {
		var err error
		n.router, err = vrrp.NewRouter(cfg)
		return err
	}))
	n.events = n.router.Subscribe(context.Background())
	n.stop = runRouter(t, n.router)
}

// masters returns the nodes that are master.
func masters(nodes []*lanNode) []*lanNode {
	var m []*lanNode
	for _, n := range nodes {
		if n.router != nil && n.router.State() == vrrp.Master {
			m = append(m, n)
		}
	}
	return m
}

// converge waits until want is the only master and every other running
// node is backup.
func converge(t *testing.T, nodes []*lanNode, want *lanNode, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.router == nil || n.stop == nil {
				continue
			}
			s := n.router.State()
			if n == want && s != vrrp.Master || n != want && s != vrrp.Backup && s != vrrp.Initialize {
				return false
			}
		}
		return true
	}, within, time.Millisecond, "states: %v", states(nodes))
}

// states describes the state of each node, for failure messages.
func states(nodes []*lanNode) string {
	var s string
	for _, n := range nodes {
		if n.router != nil {
			st := n.router.Stats()
			s += fmt.Sprintf("[%v %v last master %v, %d received, %d sent] ", n.router.Source(), n.router.State(),
				n.router.LastMaster().Addr, st.AdvertsReceived, st.AdvertsSent)
		}
	}
	return s
}

// waitMaster returns the event of node's router becoming master after
// the time since.
func waitMaster(t *testing.T, n *lanNode, since time.Time) vrrp.Event {
	t.Helper()
	for {
		e := nextTransition(t, n.events)
		if e.To == vrrp.Master && !e.Time.Before(since) {
			return e
		}
	}
}

func TestLANElectionFailoverHandover(t *testing.T) {
	for _, family := range []string{"IPv4", "IPv6"} {
		t.Run(family, func(t *testing.T) {
			nodes := lan(t, 3)
			vip := netip.MustParseAddr("192.0.2.100")
			if family == "IPv6" {
				vip = netip.MustParseAddr("2001:db8::100")
			}
			cfg := func(prio uint8) vrrp.Config {
				return vrrp.Config{VRID: 51, Priority: prio, AdvertInterval: 100 * time.Millisecond, VirtualAddresses: []netip.Addr{vip}}
			}
			h1, h2, h3 := nodes[0], nodes[1], nodes[2]
			h1.start(t, cfg(150))
			waitMaster(t, h1, time.Time{})
			h2.start(t, cfg(100))
			h3.start(t, cfg(100))
			converge(t, nodes, h1, 2*time.Second)
			time.Sleep(300 * time.Millisecond) // several adverts: still exactly one master
			require.Len(t, masters(nodes), 1)

			// Graceful handover: h1 stops and sends priority 0; one of the
			// equal-priority backups takes over after Skew_Time, and the
			// other follows it.
			h1.stop()
			require.Eventually(t, func() bool { return len(masters(nodes)) == 1 }, 2*time.Second, time.Millisecond, states(nodes))
			// Both may have become master at once, the lower address
			// then yielding (RFC 5798 §6.4.3): let that settle.
			time.Sleep(300 * time.Millisecond)
			require.Len(t, masters(nodes), 1, states(nodes))
			winner, loser := h2, h3
			if h3.router.State() == vrrp.Master {
				winner, loser = h3, h2
			}
			converge(t, nodes, winner, 2*time.Second)
			assert.Equal(t, vrrp.ReasonMasterStepDown, winner.router.Stats().NewMasterReason)

			// Failover: the winner's link goes down without a word; the
			// loser waits Master_Down_Interval after its last advertisement.
			require.Eventually(t, func() bool { return loser.router.LastMaster().Addr == winner.router.Source() },
				time.Second, time.Millisecond)
			down := time.Now()
			winner.iface.SetUp(false)
			e := waitMaster(t, loser, down)
			last := loser.router.LastMaster()
			mdi := 300*time.Millisecond + (256-100)*100*time.Millisecond/256
			took := e.Time.Sub(last.Time)
			t.Logf("%s failover: %v from the last advertisement to master; Master_Down_Interval %v", family, took, mdi)
			assert.GreaterOrEqual(t, took, mdi, "backup took over before Master_Down_Interval")
			assert.Less(t, took, mdi+100*time.Millisecond)
			assert.Equal(t, vrrp.ReasonMasterDown, e.Reason)
		})
	}
}

func TestLANPreemptAndNoPreempt(t *testing.T) {
	nodes := lan(t, 2)
	h1, h2 := nodes[0], nodes[1]
	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	h1.start(t, vrrp.Config{VRID: 7, Priority: 100, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip, NoPreempt: true})
	waitMaster(t, h1, time.Time{})

	// A higher-priority router with nopreempt stays backup.
	h2.start(t, vrrp.Config{VRID: 7, Priority: 200, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip, NoPreempt: true})
	converge(t, nodes, h1, time.Second)
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, vrrp.Backup, h2.router.State(), "nopreempt router preempted")
	h2.stop()

	// With preempt (the default) and a delay, it takes over once the
	// delay has passed.
	h2.router = nil
	h2.start(t, vrrp.Config{VRID: 7, Priority: 200, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip,
		PreemptDelay: 700 * time.Millisecond})
	started := time.Now()
	e := waitMaster(t, h2, started)
	assert.GreaterOrEqual(t, e.Time.Sub(started), 700*time.Millisecond, "preempted before preempt_delay")
	assert.Equal(t, vrrp.ReasonPreempted, e.Reason)
	converge(t, nodes, h2, time.Second)
}

func TestLANUnicast(t *testing.T) {
	nodes := lan(t, 3)
	h1, h2, h3 := nodes[0], nodes[1], nodes[2]
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	h1.start(t, vrrp.Config{VRID: 9, Priority: 150, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip,
		UnicastSource: a1, UnicastPeers: []netip.Addr{a2}})
	h2.start(t, vrrp.Config{VRID: 9, Priority: 100, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip,
		UnicastSource: a2, UnicastPeers: []netip.Addr{a1}})
	// h3 speaks multicast on the same VRID: the unicast pair does not hear
	// it, except as a stranger.
	h3.start(t, vrrp.Config{VRID: 9, Priority: 250, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	converge(t, nodes[:2], h1, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, vrrp.Master, h1.router.State())
	assert.Equal(t, vrrp.Backup, h2.router.State())
	assert.Equal(t, vrrp.Master, h3.router.State())
	assert.Positive(t, h2.router.Stats().PeerErrors, "the multicast stranger was not seen as one")
	assert.Equal(t, a1, h2.router.LastMaster().Addr)
}

// uplinked is two nodes on a switch, 192.0.2.1 and .2, the first with n
// uplinks, eth1 onwards, to a host of their own.
func uplinked(t *testing.T, n int) (n1, n2 *lanNode, uplinks []*netlab.Iface) {
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	h1, h2, up := lab.Host("h1"), lab.Host("h2"), lab.Host("up")
	n1 = &lanNode{host: h1, iface: sw.Attach(h1)}
	n2 = &lanNode{host: h2, iface: sw.Attach(h2)}
	n1.iface.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	n2.iface.AddAddr(netip.MustParsePrefix("192.0.2.2/24"))
	for i := range n {
		l, _ := lab.Link(h1, up)
		require.Equal(t, fmt.Sprintf("eth%d", i+1), l.Name())
		uplinks = append(uplinks, l)
	}
	return n1, n2, uplinks
}

// TestLANLinkFault takes down the router's own interface, then a tracked
// uplink's far end (no carrier): each puts the master in FAULT, the
// backup takes over, and the master preempts again once the link is back
// (keepalived's track_interface).
func TestLANLinkFault(t *testing.T) {
	n1, n2, uplinks := uplinked(t, 1)
	h1, up1 := n1.host, uplinks[0]

	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	n1.start(t, vrrp.Config{VRID: 5, Priority: 150, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip,
		TrackInterfaces: []string{"eth1"}})
	waitMaster(t, n1, time.Time{})
	n2.start(t, vrrp.Config{VRID: 5, Priority: 100, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	nodes := []*lanNode{n1, n2}
	converge(t, nodes, n1, time.Second)

	for _, c := range []struct {
		name string
		link *netlab.Iface
	}{
		{"own interface down", n1.iface},
		{"tracked uplink loses carrier", up1.Peer()},
	} {
		t.Run(c.name, func(t *testing.T) {
			since := time.Now()
			c.link.SetUp(false)
			for e := nextTransition(t, n1.events); e.To != vrrp.Fault; e = nextTransition(t, n1.events) {
			}
			waitMaster(t, n2, since)

			since = time.Now()
			c.link.SetUp(true)
			e := nextTransition(t, n1.events)
			assert.Equal(t, vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, transitionOf(e))
			assert.Equal(t, vrrp.ReasonPreempted, waitMaster(t, n1, since).Reason)
			converge(t, nodes, n1, time.Second)
		})
	}

	// A tracked interface is followed by name: deleted, it is down; made
	// again (a new index), it is up again, as keepalived follows it.
	t.Run("tracked uplink deleted and made again", func(t *testing.T) {
		since := time.Now()
		h1.MustRun("ip", "link", "del", "eth1")
		for e := nextTransition(t, n1.events); e.To != vrrp.Fault; e = nextTransition(t, n1.events) {
		}
		waitMaster(t, n2, since)

		since = time.Now()
		h1.MustRun("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1peer")
		h1.MustRun("ip", "link", "set", "eth1peer", "up")
		h1.MustRun("ip", "link", "set", "eth1", "up")
		e := nextTransition(t, n1.events)
		assert.Equal(t, vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, transitionOf(e))
		assert.Equal(t, vrrp.ReasonPreempted, waitMaster(t, n1, since).Reason)
		converge(t, nodes, n1, time.Second)
	})
}

// TestLANWeightedInterface: interfaces with a weight move the priority,
// never to FAULT (keepalived's track_interface NAME weight W [reverse]):
// eth1's -60 applies while it is down, eth2's 30 reverse takes 30 while it
// is up. The backup preempts the lowered master, and is preempted back.
func TestLANWeightedInterface(t *testing.T) {
	n1, n2, uplinks := uplinked(t, 2)
	eth1, eth2 := uplinks[0], uplinks[1]

	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	n1.start(t, vrrp.Config{VRID: 6, Priority: 150, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip,
		WeightedInterfaces: []vrrp.WeightedInterface{{Name: "eth1", Weight: -60}, {Name: "eth2", Weight: 30, Reverse: true}}})
	waitMaster(t, n1, time.Time{})
	assert.Equal(t, uint8(120), n1.router.Priority(), "eth2 up takes 30")
	n2.start(t, vrrp.Config{VRID: 6, Priority: 100, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	nodes := []*lanNode{n1, n2}
	converge(t, nodes, n1, time.Second)

	since := time.Now()
	eth1.Peer().SetUp(false) // no carrier
	waitMaster(t, n2, since)
	assert.Equal(t, uint8(60), n1.router.Priority())
	converge(t, nodes, n2, time.Second)
	assert.Equal(t, vrrp.Backup, n1.router.State(), "a weighted interface never means FAULT")

	since = time.Now()
	eth1.Peer().SetUp(true)
	assert.Equal(t, vrrp.ReasonPreempted, waitMaster(t, n1, since).Reason)
	assert.Equal(t, uint8(120), n1.router.Priority())
	eth2.Peer().SetUp(false)
	require.Eventually(t, func() bool { return n1.router.Priority() == 150 }, 2*time.Second, time.Millisecond, "eth2 down gives the 30 back")
	converge(t, nodes, n1, time.Second)
}

// TestLANCraftedPackets sends crafted packets from a raw socket of another
// host to a running router: each changes its counter and nothing else.
// This proves on a real socket what the fake one cannot: the TTL and the
// addresses the kernel reports.
func TestLANCraftedPackets(t *testing.T) {
	nodes := lan(t, 3)
	h1, h2 := nodes[0], nodes[1]
	peer := netip.MustParseAddr("192.0.2.2")
	cfg := vrrp.Config{VRID: 51, Version: vrrp.Version2, Priority: 100, AdvertInterval: 10 * time.Second,
		VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}, AuthPass: "pw"}
	h1.start(t, cfg)
	waitState(t, h1.router, vrrp.Backup, time.Second)

	var raw *ipv4.RawConn
	require.NoError(t, h2.host.Do(func() error {
		c, err := net.ListenPacket("ip4:112", "192.0.2.2")
		if err == nil {
			raw, err = ipv4.NewRawConn(c)
		}
		return err
	}))
	t.Cleanup(func() { raw.Close() })
	send := func(t *testing.T, msg []byte, src netip.Addr, ttl int, dst netip.Addr) {
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(msg), TTL: ttl,
			Protocol: vrrp.ProtocolNumber, Src: src.AsSlice(), Dst: dst.AsSlice()}
		require.NoError(t, raw.WriteTo(h, msg, nil))
	}
	advert := func(mod func(*vrrp.Advertisement)) []byte {
		a := vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
			Interval: 10 * time.Second, AuthType: vrrp.AuthSimple, AuthData: [8]byte{'p', 'w'},
			Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		if mod != nil {
			mod(&a)
		}
		b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		return b
	}
	group := vrrp.MulticastGroupIPv4
	cases := []struct {
		name    string
		msg     []byte
		ttl     int
		counter func(vrrp.Stats) uint64
	}{
		{"TTL 254", advert(nil), 254, func(s vrrp.Stats) uint64 { return s.TTLErrors }},
		{"bad checksum", func() []byte { b := advert(nil); b[7]++; return b }(), 255, func(s vrrp.Stats) uint64 { return s.ChecksumErrors }},
		{"unknown VRID", advert(func(a *vrrp.Advertisement) { a.VRID = 99 }), 255, func(s vrrp.Stats) uint64 { return s.VRIDErrors }},
		{"wrong password", advert(func(a *vrrp.Advertisement) { a.AuthData = [8]byte{'x'} }), 255, func(s vrrp.Stats) uint64 { return s.AuthErrors }},
		{"wrong interval", advert(func(a *vrrp.Advertisement) { a.Interval = time.Second }), 255, func(s vrrp.Stats) uint64 { return s.IntervalErrors }},
		{"truncated", advert(nil)[:9], 255, func(s vrrp.Stats) uint64 { return s.LengthErrors }},
		{"version 3", func() []byte {
			a := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
				Interval: 10 * time.Second, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
			b, err := a.Append(nil, peer, group, 0)
			require.NoError(t, err)
			return b
		}(), 255, func(s vrrp.Stats) uint64 { return s.VersionErrors }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h1.router.Stats()
			send(t, c.msg, peer, c.ttl, group)
			require.Eventually(t, func() bool { return c.counter(h1.router.Stats()) == c.counter(before)+1 },
				time.Second, time.Millisecond, "%+v", h1.router.Stats())
			after := h1.router.Stats()
			assert.Equal(t, badTotal(before)+1, badTotal(after))
			assert.Equal(t, before.AdvertsReceived, after.AdvertsReceived)
			assert.Equal(t, vrrp.Backup, h1.router.State())
		})
	}
	// The good packet is heard, with the sender's address.
	send(t, advert(nil), peer, 255, group)
	require.Eventually(t, func() bool { return h1.router.Stats().AdvertsReceived == 1 }, time.Second, time.Millisecond)
	assert.Equal(t, peer, h1.router.LastMaster().Addr)
}

// TestLANSharedSocket runs two virtual routers on each of two hosts: they
// share one raw socket per host and are told apart by VRID, each host
// master of one.
func TestLANSharedSocket(t *testing.T) {
	nodes := lan(t, 2)
	vip := func(n int) []netip.Addr { return []netip.Addr{netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 100+n))} }
	cfg := func(vrid, prio uint8) vrrp.Config {
		return vrrp.Config{VRID: vrid, Priority: prio, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip(int(vrid))}
	}
	a1, a2 := *nodes[0], *nodes[0]
	b1, b2 := *nodes[1], *nodes[1]
	a1.start(t, cfg(1, 200))
	a2.start(t, cfg(2, 100))
	b1.start(t, cfg(1, 100))
	b2.start(t, cfg(2, 200))
	converge(t, []*lanNode{&a1, &b1}, &a1, 2*time.Second)
	converge(t, []*lanNode{&a2, &b2}, &b2, 2*time.Second)
	time.Sleep(200 * time.Millisecond)
	for _, n := range []*lanNode{&a1, &a2, &b1, &b2} {
		s := n.router.Stats()
		assert.Zero(t, s.VRIDErrors, "VRID %d: another VRID's advertisements reached it", n.router.Config().VRID)
	}
	assert.Positive(t, b1.router.Stats().AdvertsReceived)
	assert.Positive(t, a2.router.Stats().AdvertsReceived)
	assert.Equal(t, vrrp.Master, a1.router.State())
	assert.Equal(t, vrrp.Master, b2.router.State())
	// One raw socket of protocol 112 (0x70) per host.
	raw := nodes[0].host.MustRun("cat", "/proc/net/raw")
	assert.Equal(t, 1, strings.Count(raw, ":0070 "), "raw sockets of host 1:\n%s", raw)
}

// TestSourceIsNotAVirtualAddress: a router other than the owner never
// sends from a virtual address, even one the interface holds first (left
// over from an earlier run); with no other address it is refused, saying
// that the owner has priority 255. The owner sends from its own.
func TestSourceIsNotAVirtualAddress(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	vip := netip.MustParseAddr("192.0.2.100")
	ifc.AddAddr(netip.PrefixFrom(vip, 24))
	cfg := vrrp.Config{Interface: "eth0", VRID: 7, Priority: 100, VirtualAddresses: []netip.Addr{vip},
		Logger: slog.New(slog.DiscardHandler)}
	source := func(cfg vrrp.Config) (src netip.Addr, err error) {
		err = h.Do(func() error {
			r, err := vrrp.NewRouter(cfg)
			if err == nil {
				src = r.Source()
				r.Close()
			}
			return err
		})
		return src, err
	}

	_, err := source(cfg)
	var ce *vrrp.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Interface", ce.Field)
	assert.Contains(t, ce.Reason, "no IPv4 address but the virtual ones")
	assert.Contains(t, ce.Reason, "priority 255")

	owner := cfg
	owner.Priority = 255
	src, err := source(owner)
	require.NoError(t, err)
	assert.Equal(t, vip, src)

	ifc.AddAddr(netip.MustParsePrefix("192.0.2.1/24")) // after the virtual one
	src, err = source(cfg)
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("192.0.2.1"), src)
}

// TestLANSourceAddressFollowed: a master whose source address is removed
// sends from another address of the interface; with none left it goes to
// FAULT, saying why, and the backup takes over; an address back, it
// returns. Never a master that cannot advertise.
func TestLANSourceAddressFollowed(t *testing.T) {
	nodes := lan(t, 2)
	n1, n2 := nodes[0], nodes[1]
	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	n1.iface.AddAddr(netip.MustParsePrefix("192.0.2.11/24"))
	n1.start(t, vrrp.Config{VRID: 9, Priority: 150, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	waitMaster(t, n1, time.Time{})
	n2.start(t, vrrp.Config{VRID: 9, Priority: 100, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	converge(t, nodes, n1, time.Second)
	require.Equal(t, netip.MustParseAddr("192.0.2.1"), n1.router.Source())

	// The primary goes (the secondary with it, unless the kernel promotes
	// it): the router follows whatever address the interface keeps.
	n1.host.MustRun("sysctl", "-qw", "net.ipv4.conf.eth0.promote_secondaries=1")
	n1.host.MustRun("ip", "addr", "del", "192.0.2.1/24", "dev", "eth0")
	require.Eventually(t, func() bool { return n1.router.Source() == netip.MustParseAddr("192.0.2.11") }, 2*time.Second, time.Millisecond,
		"source %v", n1.router.Source())
	converge(t, nodes, n1, time.Second)

	since := time.Now()
	n1.host.MustRun("ip", "addr", "del", "192.0.2.11/24", "dev", "eth0")
	for e := nextTransition(t, n1.events); e.To != vrrp.Fault; e = nextTransition(t, n1.events) {
	}
	waitMaster(t, n2, since)

	since = time.Now()
	n1.host.MustRun("ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	e := nextTransition(t, n1.events)
	assert.Equal(t, vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, transitionOf(e))
	waitMaster(t, n1, since) // preempts again
	converge(t, nodes, n1, time.Second)
	assert.Equal(t, netip.MustParseAddr("192.0.2.1"), n1.router.Source())
}

// TestRoutersShareTheHost: a hundred routers on one interface share one
// raw socket and one rtnetlink monitor of the namespace (its two
// sockets), not two sockets each; and run.
func TestRoutersShareTheHost(t *testing.T) {
	nodes := lan(t, 1)
	n := nodes[0]
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(entries)
	}
	before := fds()
	var routers []*vrrp.Router
	for vrid := 1; vrid <= 100; vrid++ {
		require.NoError(t, n.host.Do(func() error {
			r, err := vrrp.NewRouter(vrrp.Config{Interface: n.iface.Name(), VRID: uint8(vrid), Priority: 255,
				AdvertInterval: 100 * time.Millisecond, VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
				Logger: slog.New(slog.DiscardHandler)})
			routers = append(routers, r)
			return err
		}))
	}
	opened := fds() - before
	assert.LessOrEqual(t, opened, 6, "%d descriptors for 100 routers", opened)
	for _, r := range routers {
		runRouter(t, r)
	}
	for _, r := range routers {
		waitState(t, r, vrrp.Master, 2*time.Second)
	}
}

// TestLANInterfaceMadeAgain deletes a router's own interface and makes it
// again with the same name and address, as VLANs, bonds and hot-plugged
// NICs are: the router is in FAULT while it is gone and, without a
// restart, advertises on the new one (a new index) once it is back: the
// master takes mastership back, the backup follows the master again.
func TestLANInterfaceMadeAgain(t *testing.T) {
	nodes := lan(t, 2)
	n1, n2 := nodes[0], nodes[1]
	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	n1.start(t, vrrp.Config{VRID: 6, Priority: 150, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	waitMaster(t, n1, time.Time{})
	n2.start(t, vrrp.Config{VRID: 6, Priority: 100, AdvertInterval: 50 * time.Millisecond, VirtualAddresses: vip})
	converge(t, nodes, n1, time.Second)

	// gone deletes n's interface and returns a func that makes it again
	// with addr.
	gone := func(t *testing.T, n *lanNode) (remake func(addr string)) {
		t.Helper()
		index := n.iface.Index()
		n.iface.Delete()
		return func(addr string) {
			t.Helper()
			n.iface.Make()
			n.iface.AddAddr(netip.MustParsePrefix(addr))
			require.NotEqual(t, index, n.iface.Index(), "the interface made again has a new index")
		}
	}
	t.Run("under the master", func(t *testing.T) {
		since := time.Now()
		remake := gone(t, n1)
		for e := nextTransition(t, n1.events); e.To != vrrp.Fault; e = nextTransition(t, n1.events) {
		}
		waitMaster(t, n2, since)

		since = time.Now()
		remake("192.0.2.1/24")
		e := nextTransition(t, n1.events)
		assert.Equal(t, vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, transitionOf(e))
		assert.Equal(t, vrrp.ReasonPreempted, waitMaster(t, n1, since).Reason)
		converge(t, nodes, n1, time.Second) // n2 hears n1 on its new interface
		assert.Equal(t, netip.MustParseAddr("192.0.2.1"), n1.router.Source())
	})
	t.Run("under the backup", func(t *testing.T) {
		remake := gone(t, n2)
		for e := nextTransition(t, n2.events); e.To != vrrp.Fault; e = nextTransition(t, n2.events) {
		}
		remake("192.0.2.2/24")
		e := nextTransition(t, n2.events)
		assert.Equal(t, vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, transitionOf(e))
		received := n2.router.Stats().AdvertsReceived
		require.Eventually(t, func() bool { return n2.router.Stats().AdvertsReceived >= received+5 }, 2*time.Second, time.Millisecond,
			"the backup hears the master on its new interface")
		converge(t, nodes, n1, time.Second)
		assert.Equal(t, netip.MustParseAddr("192.0.2.1"), n2.router.LastMaster().Addr)
	})
}
