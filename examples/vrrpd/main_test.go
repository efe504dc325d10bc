package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/internal/testkit/pcapio"
	"github.com/vipkit/vipkit/vrrp"
)

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-vrid", "51", "-vip", "192.0.2.100/24"},                                                           // no interface
		{"-interface", "lo", "-vip", "192.0.2.100/24"},                                                      // no vrid
		{"-interface", "lo", "-vrid", "256", "-vip", "192.0.2.100/24"},                                      // vrid too big
		{"-interface", "lo", "-vrid", "1", "-priority", "0", "-vip", "192.0.2.100/24"},                      // priority 0
		{"-interface", "lo", "-vrid", "1", "-version", "4", "-vip", "192.0.2.100/24"},                       // version
		{"-interface", "lo", "-vrid", "1", "-vip", "not-an-address"},                                        // vip
		{"-interface", "lo", "-vrid", "1"},                                                                  // no vip
		{"-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100", "-checksum", "crc"},                       // checksum
		{"-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100", "-advert-int", "15ms"},                    // interval
		{"-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100", "-version", "2", "-advert-int", "1500ms"}, // v2 interval
		{"-interface", "lo", "-vrid", "1", "-vip", "2001:db8::1", "-version", "2"},                          // IPv6 with v2
		{"-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100", "-src", "192.0.2.1"},                      // src without peer
		{"-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100", "-bogus"},                                 // unknown flag
		{"-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100", "extra"},                                  // argument
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		assert.Equal(t, 2, code, "%v: %s", args, stderr.String())
		assert.Empty(t, stdout.String())
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: not one line: %q", args, stderr.String())
		assert.True(t, strings.HasPrefix(stderr.String(), "vrrpd: "), "%q", stderr.String())
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-advert-int")
	assert.Contains(t, stderr.String(), "-checksum")
}

// node is a vrrpd process in a lab host.
type node struct {
	host  *netlab.Host
	iface *netlab.Iface
	addr  netip.Addr
	proc  *netlab.Process
}

// transitions parses the JSON lines vrrpd wrote so far.
func (n *node) transitions(t *testing.T) []vipcmd.Transition {
	trs, err := vipcmd.Transitions(n.proc.Output())
	require.NoError(t, err)
	return trs
}

// state returns the state of the last transition vrrpd reported.
func (n *node) state(t *testing.T) string {
	trs := n.transitions(t)
	if len(trs) == 0 {
		return ""
	}
	return trs[len(trs)-1].To
}

func (n *node) waitState(t *testing.T, state string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return n.state(t) == state }, within, time.Millisecond,
		"%s is %q, want %q:\n%s", n.host.Name(), n.state(t), state, n.proc.Output())
}

// pair builds two hosts on a switch, 192.0.2.1 and .2.
func pair(t *testing.T) (*node, *node) {
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	var nodes [2]*node
	for i := range nodes {
		h := lab.Host(fmt.Sprintf("h%d", i+1))
		ifc := sw.Attach(h)
		addr := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i+1))
		ifc.AddAddr(netip.PrefixFrom(addr, 24))
		nodes[i] = &node{host: h, iface: ifc, addr: addr}
	}
	return nodes[0], nodes[1]
}

func (n *node) start(bin string, args ...string) {
	n.proc = n.host.Start(append([]string{bin, "-interface", n.iface.Name(), "-vrid", "51", "-vip", "192.0.2.100/24"}, args...)...)
}

// adverts returns the times of the VRRP advertisements from src in the
// capture at path, with their priorities.
func adverts(t *testing.T, path string, src netip.Addr) (times []time.Time, prios []uint8) {
	t.Helper()
	pkts, err := pcapio.Read(path)
	require.NoError(t, err)
	var a vrrp.Advertisement
	for _, p := range pkts {
		if p.Protocol == vrrp.ProtocolNumber && p.Src == src && a.UnmarshalBinary(p.Payload) == nil {
			times = append(times, p.Time)
			prios = append(prios, a.Priority)
		}
	}
	return times, prios
}

// TestFailover kills (SIGKILL) and freezes (SIGSTOP) the master vrrpd and
// measures, on the wire, the time from its last advertisement to the
// backup's first, against Master_Down_Interval; then stops it (SIGTERM)
// and measures the handover against Skew_Time.
func TestFailover(t *testing.T) {
	bin := netlab.Build(t)
	for _, interval := range []time.Duration{100 * time.Millisecond, 10 * time.Millisecond} {
		t.Run(interval.String(), func(t *testing.T) {
			mdi := 3*interval + (256-100)*interval/256
			skew := (256 - 100) * interval / 256
			for _, how := range []string{"SIGKILL", "SIGSTOP", "SIGTERM"} {
				t.Run(how, func(t *testing.T) {
					a, b := pair(t)
					a.start(bin, "-priority", "150", "-advert-int", interval.String())
					a.waitState(t, "MASTER", 5*time.Second)
					b.start(bin, "-priority", "100", "-advert-int", interval.String())
					b.waitState(t, "BACKUP", 5*time.Second)
					capture := b.host.Capture(b.iface.Name(), "ip proto 112")
					time.Sleep(5 * interval)
					require.Equal(t, "MASTER", a.state(t))

					switch how {
					case "SIGKILL":
						require.NoError(t, a.proc.Signal(syscall.SIGKILL))
					case "SIGSTOP":
						require.NoError(t, a.proc.Signal(syscall.SIGSTOP))
					case "SIGTERM":
						require.NoError(t, a.proc.Signal(syscall.SIGTERM))
					}
					b.waitState(t, "MASTER", 5*time.Second)
					time.Sleep(5 * interval)
					if how == "SIGSTOP" {
						// A wakes up, still master with the higher priority:
						// B yields, and one master remains.
						require.NoError(t, a.proc.Signal(syscall.SIGCONT))
						b.waitState(t, "BACKUP", 5*time.Second)
						assert.Equal(t, "MASTER", a.state(t))
					}
					if how == "SIGTERM" {
						require.NoError(t, a.proc.Wait(), "vrrpd did not exit 0 on SIGTERM:\n%s", a.proc.Output())
						assert.Equal(t, "INIT", a.state(t))
					}
					path := capture.Stop()

					aTimes, aPrios := adverts(t, path, a.addr)
					bTimes, _ := adverts(t, path, b.addr)
					require.NotEmpty(t, aTimes)
					require.NotEmpty(t, bTimes)
					// A's last advertisement before B's first.
					lastIdx := 0
					for i, at := range aTimes {
						if at.Before(bTimes[0]) {
							lastIdx = i
						}
					}
					last := aTimes[lastIdx]
					if how == "SIGTERM" {
						assert.Equal(t, uint8(0), aPrios[lastIdx], "the last advertisement of a stopping master has priority 0")
					}
					took := bTimes[0].Sub(last)
					want, name := mdi, "Master_Down_Interval"
					if how == "SIGTERM" {
						want, name = skew, "Skew_Time"
					}
					t.Logf("advert-int %v, %s: backup's first advertisement %v after the master's last; %s %v (off by %v)",
						interval, how, took.Round(time.Microsecond), name, want, (took - want).Round(time.Microsecond))
					assert.GreaterOrEqual(t, took, want-time.Millisecond, "took over before %s", name)
					assert.Less(t, took, want+50*time.Millisecond)
				})
			}
		})
	}
}

// TestVIPFollowsMaster runs two vrrpd with their addresses and a client
// that connects to the virtual address in a loop. The master is killed:
// the client's ARP entry flips to the backup's MAC and its connections
// reach the backup, after an outage measured against
// Master_Down_Interval. Restarted, the killed node first removes the
// address it left behind.
func TestVIPFollowsMaster(t *testing.T) {
	bin := netlab.Build(t)
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	var nodes []*node
	for i, name := range []string{"h1", "h2", "client"} {
		h := lab.Host(name)
		ifc := sw.Attach(h)
		addr := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i+1))
		ifc.AddAddr(netip.PrefixFrom(addr, 24))
		nodes = append(nodes, &node{host: h, iface: ifc, addr: addr})
	}
	a, b, client := nodes[0], nodes[1], nodes[2]
	vip := netip.MustParseAddr("192.0.2.100")
	const interval = 100 * time.Millisecond
	mdi := 3*interval + (256-100)*interval/256
	a.host.ServeName(8080)
	b.host.ServeName(8080)
	a.start(bin, "-priority", "150", "-advert-int", interval.String(), "-garp-master-delay", "0")
	a.waitState(t, "MASTER", 5*time.Second)
	b.start(bin, "-priority", "100", "-advert-int", interval.String(), "-garp-master-delay", "0")
	b.waitState(t, "BACKUP", 5*time.Second)
	assert.Contains(t, a.host.MustRun("ip", "-4", "addr", "show", "dev", "eth0"), "192.0.2.100/24")
	assert.NotContains(t, b.host.MustRun("ip", "-4", "addr", "show", "dev", "eth0"), "192.0.2.100")

	stop := make(chan struct{})
	results := client.host.ConnectLoop(netip.AddrPortFrom(vip, 8080), stop)
	time.Sleep(300 * time.Millisecond)
	assert.Contains(t, client.host.MustRun("ip", "neigh", "show", vip.String()), a.iface.MAC().String())

	killed := time.Now()
	require.NoError(t, a.proc.Signal(syscall.SIGKILL))
	b.waitState(t, "MASTER", 5*time.Second)
	require.Eventually(t, func() bool {
		return strings.Contains(client.host.MustRun("ip", "neigh", "show", vip.String()), b.iface.MAC().String())
	}, 2*time.Second, 5*time.Millisecond, "the client's ARP entry did not flip to the backup")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	probes := <-results

	// The outage: from the last connection the old master served to the
	// first the new one served.
	var lastA, firstB time.Time
	for _, p := range probes {
		if p.Server == a.host.Name() && p.At.Before(killed) {
			lastA = p.At
		}
		if p.Server == b.host.Name() && firstB.IsZero() {
			firstB = p.At
		}
	}
	require.False(t, lastA.IsZero(), "the client never reached the master")
	require.False(t, firstB.IsZero(), "the client never reached the backup")
	for _, p := range probes {
		if p.At.After(firstB) {
			assert.Equal(t, b.host.Name(), p.Server, "after failover the client reached %q at %v", p.Server, p.At.Sub(killed))
		}
	}
	outage := firstB.Sub(lastA)
	t.Logf("LAN outage %v (last connection to the master to first to the backup); Master_Down_Interval %v", outage.Round(time.Millisecond), mdi)
	assert.Less(t, outage, mdi+200*time.Millisecond)

	// The killed node left its address behind; restarted with a lower
	// priority it comes back as backup and removes it.
	assert.Contains(t, a.host.MustRun("ip", "-4", "addr", "show", "dev", "eth0"), "192.0.2.100/24", "SIGKILL cleaned up?")
	a.start(bin, "-priority", "50", "-advert-int", interval.String())
	a.waitState(t, "BACKUP", 5*time.Second)
	require.Eventually(t, func() bool {
		return !strings.Contains(a.host.MustRun("ip", "-4", "addr", "show", "dev", "eth0"), "192.0.2.100")
	}, 2*time.Second, 10*time.Millisecond, "the stale address stayed after restart")
}

// TestAddressOwner runs vrrpd as the address owner: -priority 255 with a
// virtual address that is eth0's own, bare or with eth0's prefix length.
// It becomes master at once (reason owner; not after Master_Down_Interval,
// 3.6 s at the default -advert-int), adds no host prefix of the address,
// and on SIGTERM exits 0 and leaves the address on eth0.
func TestAddressOwner(t *testing.T) {
	bin := netlab.Build(t)
	for _, vip := range []string{"2001:db8::1", "2001:db8::1/64", "192.0.2.1/24"} {
		own := netip.MustParsePrefix(map[bool]string{true: "2001:db8::1/64", false: "192.0.2.1/24"}[strings.Contains(vip, ":")])
		t.Run(vip, func(t *testing.T) {
			lab := netlab.New(t)
			h := lab.Host("owner")
			eth0, _ := lab.Link(h, lab.Host("peer"))
			eth0.AddAddr(own)
			family := "-4"
			if own.Addr().Is6() {
				family = "-6"
			}
			addrs := func() string { return h.MustRun("ip", family, "addr", "show", "dev", eth0.Name()) }
			if own.Addr().Is6() { // advertisements go from the link-local address
				require.Eventually(t, func() bool { return strings.Contains(addrs(), "fe80::") }, 5*time.Second, 10*time.Millisecond)
			}
			n := &node{host: h, iface: eth0}
			n.proc = h.Start(bin, "-interface", eth0.Name(), "-vrid", "1", "-priority", "255", "-vip", vip)
			n.waitState(t, "MASTER", 2*time.Second)
			trs := n.transitions(t)
			require.NotEmpty(t, trs)
			assert.Equal(t, []string{"INIT", "MASTER", "owner"}, []string{trs[0].From, trs[0].To, trs[0].Reason})
			time.Sleep(200 * time.Millisecond) // the client follows the router
			hostPrefix := fmt.Sprintf("%v/%d", own.Addr(), own.Addr().BitLen())
			assert.Contains(t, addrs(), own.String())
			assert.NotContains(t, addrs(), hostPrefix, "the owner added its own address again")

			require.NoError(t, n.proc.Signal(syscall.SIGTERM))
			require.NoError(t, n.proc.Wait(), "vrrpd did not exit 0 on SIGTERM:\n%s", n.proc.Output())
			assert.Equal(t, "INIT", n.state(t))
			assert.Contains(t, addrs(), own.String(), "the owner removed the interface's own address:\n%s", n.proc.Output())
		})
	}
}

// TestInterfaceMadeAgain deletes the interface of a running vrrpd and
// makes it again with the same name and address, under the master and
// under the backup: the node is in FAULT while it is gone, the address on
// the other node; once the interface is back the node takes its place
// again without a restart, and the address is on the master only.
func TestInterfaceMadeAgain(t *testing.T) {
	bin := netlab.Build(t)
	a, b := pair(t)
	a.start(bin, "-priority", "150", "-advert-int", "100ms", "-garp-master-delay", "0")
	a.waitState(t, "MASTER", 5*time.Second)
	b.start(bin, "-priority", "100", "-advert-int", "100ms", "-garp-master-delay", "0")
	b.waitState(t, "BACKUP", 5*time.Second)
	hasVIP := func(n *node) bool {
		out, err := n.host.Run("ip", "-4", "addr", "show", "dev", "eth0")
		return err == nil && strings.Contains(out, "192.0.2.100/24")
	}
	vipOnlyOn := func(t *testing.T, want *node, others ...*node) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, n := range others {
				if hasVIP(n) {
					return false
				}
			}
			return hasVIP(want)
		}, 5*time.Second, 10*time.Millisecond, "the address is not on %s alone", want.host.Name())
	}
	vipOnlyOn(t, a, b)

	for _, c := range []struct {
		name         string
		gone, master *node
	}{{"under the master", a, b}, {"under the backup", b, a}} {
		t.Run(c.name, func(t *testing.T) {
			c.gone.iface.Delete()
			c.gone.waitState(t, "FAULT", 5*time.Second)
			c.master.waitState(t, "MASTER", 5*time.Second)
			vipOnlyOn(t, c.master)

			c.gone.iface.Make()
			c.gone.iface.AddAddr(netip.PrefixFrom(c.gone.addr, 24))
			a.waitState(t, "MASTER", 5*time.Second)
			b.waitState(t, "BACKUP", 5*time.Second)
			vipOnlyOn(t, a, b)
			for _, n := range []*node{a, b} {
				select {
				case <-n.proc.Done():
					t.Fatalf("%s exited:\n%s", n.host.Name(), n.proc.Output())
				default:
				}
			}
		})
	}
}
