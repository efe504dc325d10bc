package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/vipkit/vipkit/internal/checksum"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

// The chaos suite: real vrrpd processes in network namespaces, faults
// injected from outside (nftables, signals, a raw socket), and what must
// hold asserted: one master, the address on it alone, the client served
// through it, state unchanged by bad input.

const (
	chaosInterval = 100 * time.Millisecond
	chaosVIP      = "192.0.2.100"
)

// soak is how many times longer the chaos tests run than in CI: the
// environment's VIPKIT_SOAK, 1 if unset (a soak: VIPKIT_SOAK=30 for ten
// minutes of loss and 300 partitions).
func soak(t *testing.T) int {
	v := os.Getenv("VIPKIT_SOAK")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "VIPKIT_SOAK=%q: want a number of times", v)
	require.Positive(t, n, "VIPKIT_SOAK")
	return n
}

// trio builds a, b and a client on a switch (192.0.2.1, .2 and .3), a and b
// serving their names on port 8080.
func trio(t *testing.T) (a, b, client *node) {
	a, b, client, _ = trioOn(t)
	return a, b, client
}

// trioOn is trio, and returns the switch too.
func trioOn(t *testing.T) (a, b, client *node, sw *netlab.Switch) {
	lab := netlab.New(t)
	sw = lab.Switch("sw")
	var nodes []*node
	for i, name := range []string{"a", "b", "client"} {
		h := lab.Host(name)
		ifc := sw.Attach(h)
		addr := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i+1))
		ifc.AddAddr(netip.PrefixFrom(addr, 24))
		nodes = append(nodes, &node{host: h, iface: ifc, addr: addr})
	}
	nodes[0].host.ServeName(8080)
	nodes[1].host.ServeName(8080)
	return nodes[0], nodes[1], nodes[2], sw
}

// vrrpdArgs are the flags of a chaos node of priority prio: 100 ms, no
// second burst of gratuitous ARPs (each burst is the reaction under test),
// unicast to peer when unicast is set.
func vrrpdArgs(n, peer *node, prio int, unicast bool, more ...string) []string {
	args := []string{"-priority", strconv.Itoa(prio), "-advert-int", chaosInterval.String(), "-garp-master-delay", "0"}
	if unicast {
		args = append(args, "-src", n.addr.String(), "-peer", peer.addr.String())
	}
	return append(args, more...)
}

// runPair starts vrrpd on a, priority 150, until it is master, then on b,
// priority 100, until it is backup, each with vrrpdArgs and more.
func runPair(t *testing.T, bin string, a, b *node, unicast bool, more ...string) {
	t.Helper()
	a.start(bin, vrrpdArgs(a, b, 150, unicast, more...)...)
	a.waitState(t, "MASTER", 10*time.Second)
	b.start(bin, vrrpdArgs(b, a, 100, unicast, more...)...)
	b.waitState(t, "BACKUP", 10*time.Second)
}

// nft loads ruleset into h's namespace.
func nft(t *testing.T, h *netlab.Host, ruleset string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "rules.nft")
	require.NoError(t, os.WriteFile(f, []byte(ruleset), 0o600))
	h.MustRun("nft", "-f", f)
}

// partition stops the switch forwarding VRRP, in both directions at once,
// until the returned heal is called, which restores both at once too, as a
// link that comes back does. The client's traffic still passes.
func partition(t *testing.T, sw *netlab.Switch) (heal func()) {
	t.Helper()
	nft(t, sw.Host(), `table bridge chaos_partition {
	chain forward { type filter hook forward priority 0; ip protocol vrrp drop; }
}
`)
	return func() { sw.Host().MustRun("nft", "delete", "table", "bridge", "chaos_partition") }
}

// lladdr is the MAC address in a line of ip neigh.
var lladdr = regexp.MustCompile(`lladdr (\S+)`)

// neighMAC returns the MAC address of h's neighbour entry for addr, "" if
// it has none.
func neighMAC(h *netlab.Host, addr string) string {
	out, err := h.Run("ip", "neigh", "show", addr)
	if err != nil {
		return ""
	}
	if m := lladdr.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// holds reports whether n has the virtual address on its interface.
func (n *node) holds(t *testing.T) bool {
	return strings.Contains(n.host.MustRun("ip", "-4", "addr", "show", "dev", n.iface.Name()), chaosVIP+"/")
}

// TestSplitBrainHeal partitions VRRP between two vrrpd (nftables on the
// switch) until the backup is master too and the client's ARP
// entry follows it, then heals: the client's ARP entry must name the
// winner within one advertisement interval and 50 ms, every round, in
// multicast and unicast, with the default flags. The loser steps down
// with one advertisement of its own (higher_prio_send_advert), which the
// winner hears as a lower priority and answers with gratuitous ARPs. (With
// -higher-prio-send-advert=false, keepalived's default, it fails.)
func TestSplitBrainHeal(t *testing.T) {
	bin := netlab.Build(t)
	rounds := 10 * soak(t)
	for _, unicast := range []bool{false, true} {
		t.Run(map[bool]string{false: "multicast", true: "unicast"}[unicast], func(t *testing.T) {
			a, b, client, sw := trioOn(t)
			runPair(t, bin, a, b, unicast)
			stop := make(chan struct{})
			probes := client.host.ConnectLoop(netip.MustParseAddrPort(chaosVIP+":8080"), stop)
			require.Eventually(t, func() bool { return neighMAC(client.host, chaosVIP) == a.iface.MAC().String() }, 5*time.Second, 5*time.Millisecond,
				"the client never resolved the address to the master")

			var took []time.Duration
			for round := range rounds {
				heal := partition(t, sw)
				b.waitState(t, "MASTER", 5*time.Second)
				require.Eventually(t, func() bool { return neighMAC(client.host, chaosVIP) == b.iface.MAC().String() }, 5*time.Second, 2*time.Millisecond,
					"round %d: the partition did not move the client to b", round)
				heal()
				healed := time.Now()
				require.Eventually(t, func() bool { return neighMAC(client.host, chaosVIP) == a.iface.MAC().String() }, 5*time.Second, 2*time.Millisecond,
					"round %d: the client's ARP entry stayed on the loser", round)
				took = append(took, time.Since(healed))
				b.waitState(t, "BACKUP", 5*time.Second)
				require.Equal(t, "MASTER", a.state(t), "round %d", round)
				require.Eventually(t, func() bool { return a.holds(t) && !b.holds(t) }, 2*time.Second, 10*time.Millisecond,
					"round %d: the address is not on the master alone", round)
			}
			close(stop)
			served := <-probes
			t.Logf("from the heal to the client's ARP entry naming the winner: %v", took)
			for round, d := range took {
				assert.Less(t, d, chaosInterval+50*time.Millisecond, "round %d", round)
			}
			require.NotEmpty(t, served)
			// A probe gives up after 50 ms, which the last may do on a
			// loaded machine: the end is asked again, with time to answer.
			name, err := client.host.AskName(netip.MustParseAddrPort(chaosVIP+":8080"), 2*time.Second)
			require.NoError(t, err)
			assert.Equal(t, a.host.Name(), name, "the client is not served by the winner at the end")
		})
	}
}

// TestStallCoalesced freezes the master (SIGSTOP) for 2 s, while the
// backup takes over and its advertisements queue on the frozen master's
// socket, then thaws it (SIGCONT): it answers the queued lower priorities
// with at most one advertisement, not one each, keeps its cadence, and one
// master remains, holding the address alone.
func TestStallCoalesced(t *testing.T) {
	bin := netlab.Build(t)
	a, b, _ := trio(t)
	runPair(t, bin, a, b, false)
	capture := b.host.Capture(b.iface.Name(), "ip proto 112")
	time.Sleep(5 * chaosInterval)

	require.NoError(t, a.proc.Signal(syscall.SIGSTOP))
	b.waitState(t, "MASTER", 5*time.Second)
	time.Sleep(2 * time.Second)
	require.NoError(t, a.proc.Signal(syscall.SIGCONT))
	thawed := time.Now()
	b.waitState(t, "BACKUP", 5*time.Second)
	time.Sleep(5 * chaosInterval)
	path := capture.Stop()
	assert.Equal(t, "MASTER", a.state(t))
	require.Eventually(t, func() bool { return a.holds(t) && !b.holds(t) }, 2*time.Second, 10*time.Millisecond,
		"the address is not on the master alone")

	aTimes, _ := adverts(t, path, a.addr)
	var after []time.Time
	for _, at := range aTimes {
		if at.After(thawed.Add(-time.Second)) { // the capture's clock is the kernel's
			after = append(after, at)
		}
	}
	require.NotEmpty(t, after, "the thawed master sent nothing")
	var burst int
	for _, at := range after {
		if at.Sub(after[0]) < 50*time.Millisecond {
			burst++
		}
	}
	t.Logf("the thawed master sent %d advertisements in its first 50 ms", burst)
	assert.LessOrEqual(t, burst, 2, "the queued advertisements were answered one by one")
}

// A chaosPacket is a bad message sent at the routers, with what makes it
// bad.
type chaosPacket struct {
	name string
	msg  []byte
	ttl  int // 0: 255
}

// badPackets are every kind of bad input of the issue for routers of
// version v, each claiming priority 254, so that one taken for good would
// make the master step down: TTL, checksum, the other versions, unknown
// VRIDs, truncated at every length, a count larger than the payload, count
// 0, types 2 and 0; and in VRRPv2 the wrong password, no authentication,
// and a different interval.
func badPackets(t *testing.T, v vrrp.Version, src netip.Addr) []chaosPacket {
	encode := func(mod func(*vrrp.Advertisement)) []byte {
		a := vrrp.Advertisement{Version: v, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 254,
			Interval: chaosInterval, Addresses: []netip.Addr{netip.MustParseAddr(chaosVIP)}}
		if v == vrrp.Version2 {
			a.Interval, a.AuthType, a.AuthData = time.Second, vrrp.AuthSimple, [8]byte([]byte(chaosPass+"\x00\x00"))
		}
		if mod != nil {
			mod(&a)
		}
		b, err := a.Append(nil, src, vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		return b
	}
	good := encode(nil)
	// set changes byte i of a copy of b and gives it a good checksum, of
	// the message alone (VRRPv2's, and RFC 9568's, which vipkit accepts
	// by default): each message is bad for one reason.
	set := func(b []byte, i int, x byte) []byte {
		c := append([]byte(nil), b...)
		c[i], c[6], c[7] = x, 0, 0
		binary.BigEndian.PutUint16(c[6:], checksum.Fold(checksum.Add(0, c)))
		return c
	}
	pkts := []chaosPacket{
		{name: "TTL 64", msg: good, ttl: 64},
		{name: "checksum", msg: func() []byte { c := append([]byte(nil), good...); c[7] ^= 0xff; return c }()},
		{name: "version 1", msg: set(good, 0, 0x11)},
		{name: "version 4", msg: set(good, 0, 0x41)},
		{name: "unknown VRID", msg: set(good, 1, 52)},
		{name: "VRID 0", msg: set(good, 1, 0)},
		{name: "count beyond the payload", msg: set(good, 3, 5)},
		{name: "count 0", msg: set(append(good[:8:8], good[len(good)-authLen(v):]...), 3, 0)},
		{name: "type 2", msg: set(good, 0, byte(v)<<4|2)},
		{name: "type 0", msg: set(good, 0, byte(v)<<4)},
	}
	if v == vrrp.Version2 {
		pkts = append(pkts,
			chaosPacket{name: "version 3", msg: encode(func(a *vrrp.Advertisement) {
				a.Version, a.Interval, a.AuthType, a.AuthData = vrrp.Version3, chaosInterval, vrrp.AuthNone, [8]byte{}
			})},
			chaosPacket{name: "wrong password", msg: encode(func(a *vrrp.Advertisement) { a.AuthData = [8]byte([]byte("guessed!")) })},
			chaosPacket{name: "no authentication", msg: encode(func(a *vrrp.Advertisement) { a.AuthType, a.AuthData = vrrp.AuthNone, [8]byte{} })},
			chaosPacket{name: "interval 2 s", msg: encode(func(a *vrrp.Advertisement) { a.Interval = 2 * time.Second })})
	}
	for n := range len(good) {
		pkts = append(pkts, chaosPacket{name: fmt.Sprintf("truncated to %d bytes", n), msg: good[:n]})
	}
	return pkts
}

// authLen is the length of the authentication data at the end of a
// message of version v.
func authLen(v vrrp.Version) int {
	if v == vrrp.Version2 {
		return 8
	}
	return 0
}

// chaosPass is the VRRPv2 password of TestBadInputLeavesStateAlone.
const chaosPass = "s3cret"

// TestBadInputLeavesStateAlone sends every kind of bad message, a hundred
// of each, from a third host at a master and a backup, VRRPv3 and VRRPv2
// with a password: no transition, both alive, and at most a few log lines
// of discarded messages (once per 10 s per router and per interface). In
// unicast, a well-formed advertisement of priority 254 from a host that
// is not a peer changes nothing either. Then, in VRRPv3, a flood of 50,000
// advertisements a second of another VRID for 2 s at both: no takeover.
func TestBadInputLeavesStateAlone(t *testing.T) {
	bin := netlab.Build(t)
	for _, c := range []struct {
		name    string
		version vrrp.Version
		unicast bool
	}{{"v3", vrrp.Version3, false}, {"v2 with a password", vrrp.Version2, false}, {"v3 unicast", vrrp.Version3, true}} {
		t.Run(c.name, func(t *testing.T) {
			a, b, stranger := trio(t)
			var more []string
			if c.version == vrrp.Version2 {
				pass := filepath.Join(t.TempDir(), "pass")
				require.NoError(t, os.WriteFile(pass, []byte(chaosPass+"\n"), 0o600))
				more = []string{"-version", "2", "-advert-int", "1s", "-auth-pass-file", pass}
			}
			runPair(t, bin, a, b, c.unicast, more...)

			send := rawSender(t, stranger)
			started := time.Now()
			if c.unicast {
				good := badPackets(t, c.version, stranger.addr)[0].msg // well formed, TTL 255 once sent so
				for range 100 {
					send(good, vrrp.TTL, a.addr)
					send(good, vrrp.TTL, b.addr)
				}
			} else {
				for _, pkt := range badPackets(t, c.version, stranger.addr) {
					ttl := pkt.ttl
					if ttl == 0 {
						ttl = vrrp.TTL
					}
					for range 100 {
						send(pkt.msg, ttl, vrrp.MulticastGroupIPv4)
					}
				}
			}
			if c.version == vrrp.Version3 && !c.unicast {
				adv := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 52, Priority: 254,
					Interval: chaosInterval, Addresses: []netip.Addr{netip.MustParseAddr(chaosVIP)}}
				flood, err := adv.Append(nil, stranger.addr, vrrp.MulticastGroupIPv4, 0)
				require.NoError(t, err)
				floodStart, sent := time.Now(), 0
				for tick := floodStart; time.Since(floodStart) < 2*time.Second; tick = tick.Add(time.Millisecond) {
					for range 50 {
						send(flood, vrrp.TTL, vrrp.MulticastGroupIPv4)
						sent++
					}
					time.Sleep(time.Until(tick.Add(time.Millisecond)))
				}
				rate := float64(sent) / time.Since(floodStart).Seconds()
				t.Logf("flood at %.0f messages/s", rate)
				assert.Greater(t, rate, 25000.0, "the flood was too slow to show anything")
			}
			time.Sleep(5 * chaosInterval)

			for _, n := range []*node{a, b} {
				select {
				case <-n.proc.Done():
					t.Fatalf("%s died:\n%s", n.host.Name(), n.proc.Output())
				default:
				}
				logged := strings.Count(n.proc.Output(), "discarded a VRRP message")
				windows := int(time.Since(started)/(10*time.Second)) + 1
				assert.NotZero(t, logged, "%s logged no discarded message", n.host.Name())
				assert.LessOrEqual(t, logged, 2*windows, "%s: not rate-limited", n.host.Name())
			}
			assert.Len(t, a.transitions(t), 2, "a changed state (INIT→BACKUP→MASTER only):\n%s", a.proc.Output())
			assert.Len(t, b.transitions(t), 1, "b changed state (INIT→BACKUP only):\n%s", b.proc.Output())
			assert.True(t, a.holds(t) && !b.holds(t), "the address is not on the master alone")
		})
	}
}

// rawSender returns a func that sends a VRRP message from a raw socket of
// n's, with a TTL, to dst (the group leaves by n's interface).
func rawSender(t *testing.T, n *node) func(msg []byte, ttl int, dst netip.Addr) {
	t.Helper()
	var raw net.PacketConn
	require.NoError(t, n.host.Do(func() (err error) {
		raw, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}))
	t.Cleanup(func() { raw.Close() })
	p := ipv4.NewPacketConn(raw)
	require.NoError(t, p.SetMulticastInterface(n.iface.Interface()))
	last := -1
	return func(msg []byte, ttl int, dst netip.Addr) {
		t.Helper()
		if ttl != last {
			require.NoError(t, p.SetMulticastTTL(ttl))
			require.NoError(t, p.SetTTL(ttl))
			last = ttl
		}
		_, err := raw.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()})
		require.NoError(t, err)
	}
}

// poissonLimit returns the least k such that a Poisson variable of mean
// lambda exceeds k with a probability below p.
func poissonLimit(lambda, p float64) int {
	term := math.Exp(-lambda) // P(X = 0)
	cdf := term
	k := 0
	for 1-cdf >= p {
		k++
		term *= lambda / float64(k)
		cdf += term
	}
	return k
}

// TestRandomLoss drops a share of the advertisements that reach the backup
// (nftables numgen random) for 20 s: it takes over only when three in a row
// are lost, so the takeovers stay within what p³ predicts, a new master
// each time hands back at once (preempt), and the loss measured is the one
// asked for.
func TestRandomLoss(t *testing.T) {
	bin := netlab.Build(t)
	window := 20 * time.Second * time.Duration(soak(t))
	for _, loss := range []int{5, 20} {
		t.Run(fmt.Sprintf("%d%%", loss), func(t *testing.T) {
			a, b, _ := trio(t)
			runPair(t, bin, a, b, false)
			nft(t, b.host, fmt.Sprintf(`table inet chaos_loss {
	chain in {
		type filter hook input priority 0;
		ip protocol vrrp numgen random mod 100 < %d counter drop
		ip protocol vrrp counter accept
	}
}
`, loss))
			before := len(b.transitions(t))
			time.Sleep(window)
			counters := regexp.MustCompile(`counter packets (\d+)`).FindAllStringSubmatch(b.host.MustRun("nft", "list", "table", "inet", "chaos_loss"), -1)
			b.host.MustRun("nft", "delete", "table", "inet", "chaos_loss")
			require.Len(t, counters, 2)
			dropped, _ := strconv.Atoi(counters[0][1])
			passed, _ := strconv.Atoi(counters[1][1])
			measured := float64(dropped) / float64(dropped+passed)

			takeovers := 0
			for _, tr := range b.transitions(t)[before:] {
				if tr.To == "MASTER" {
					takeovers++
				}
			}
			p := float64(loss) / 100
			predicted := window.Seconds() / chaosInterval.Seconds() * p * p * p * (1 - p)
			t.Logf("loss %d%%: measured %.3f of %d advertisements; %d takeovers in %v, p³ predicts %.2f", loss, measured, dropped+passed, takeovers, window, predicted)
			// Binomial: 5 standard deviations of the fraction dropped of
			// this many is below one chance in a million.
			n := float64(dropped + passed)
			assert.Positive(t, dropped, "no loss applied")
			assert.InDelta(t, p, measured, 5*math.Sqrt(p*(1-p)/n), "the loss asked for was not the loss applied")
			// Poisson: more than this is below one chance in 10,000.
			limit := poissonLimit(predicted, 1e-4)
			assert.LessOrEqual(t, takeovers, limit, "the backup takes over on fewer than three lost advertisements")
			b.waitState(t, "BACKUP", 5*time.Second)
			assert.Equal(t, "MASTER", a.state(t))
			require.Eventually(t, func() bool { return a.holds(t) && !b.holds(t) }, 2*time.Second, 10*time.Millisecond,
				"the address is not on the master alone")
		})
	}
}

// TestLinkDownUp takes the master's link down: it goes to FAULT, gives the
// address up, and the backup takes over; up again, the master preempts it
// back, and the address is on it alone each time.
func TestLinkDownUp(t *testing.T) {
	bin := netlab.Build(t)
	a, b, _ := trio(t)
	runPair(t, bin, a, b, false)
	for round := range 3 {
		a.iface.SetUp(false)
		a.waitState(t, "FAULT", 5*time.Second)
		b.waitState(t, "MASTER", 5*time.Second)
		require.Eventually(t, func() bool { return b.holds(t) && !a.holds(t) }, 2*time.Second, 10*time.Millisecond,
			"round %d: the address is not on the new master alone", round)
		a.iface.SetUp(true)
		a.waitState(t, "MASTER", 5*time.Second)
		b.waitState(t, "BACKUP", 5*time.Second)
		require.Eventually(t, func() bool { return a.holds(t) && !b.holds(t) }, 2*time.Second, 10*time.Millisecond,
			"round %d: the address is not on the master alone", round)
	}
}

// TestLowerPriorityStranger: a stranger sends the master a thousand
// well-formed advertisements of a lower priority in a second. The master
// answers at most once an interval, logs it once, announces the address
// at most once a second (the rest held), and stays master.
func TestLowerPriorityStranger(t *testing.T) {
	bin := netlab.Build(t)
	a, b, stranger := trio(t)
	status := filepath.Join(t.TempDir(), "a.json")
	a.start(bin, vrrpdArgs(a, b, 150, false, "-status-file", status)...)
	a.waitState(t, "MASTER", 5*time.Second)
	b.start(bin, vrrpdArgs(b, a, 100, false)...)
	b.waitState(t, "BACKUP", 5*time.Second)
	readStatus := func() (bursts, held uint64) {
		t.Helper()
		require.NoError(t, a.proc.Signal(syscall.SIGUSR1))
		var s struct {
			HAVIP struct {
				Bursts          uint64 `json:"bursts"`
				ReannouncesHeld uint64 `json:"reannounces_held"`
			} `json:"havip"`
		}
		time.Sleep(200 * time.Millisecond) // SIGUSR1 is handled at once; the file is replaced whole
		b, err := os.ReadFile(status)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &s))
		return s.HAVIP.Bursts, s.HAVIP.ReannouncesHeld
	}
	bursts0, held0 := readStatus()

	adv := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 50,
		Interval: chaosInterval, Addresses: []netip.Addr{netip.MustParseAddr(chaosVIP)}}
	lower, err := adv.Append(nil, stranger.addr, vrrp.MulticastGroupIPv4, 0)
	require.NoError(t, err)
	capture := stranger.host.Capture(stranger.iface.Name(), "ip proto 112")
	send := rawSender(t, stranger)
	start := time.Now()
	for i := range 1000 {
		send(lower, vrrp.TTL, vrrp.MulticastGroupIPv4)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Millisecond)))
	}
	flood := time.Since(start)
	time.Sleep(5 * chaosInterval)
	path := capture.Stop()

	aTimes, _ := adverts(t, path, a.addr)
	var during int
	for _, at := range aTimes {
		if !at.Before(start) && at.Before(start.Add(flood)) {
			during++
		}
	}
	bursts, held := readStatus()
	t.Logf("in %v of flood: %d advertisements from the master (%.0f intervals), %d bursts, %d requests held",
		flood.Round(time.Millisecond), during, flood.Seconds()/chaosInterval.Seconds(), bursts-bursts0, held-held0)
	intervals := int(flood/chaosInterval) + 1
	assert.LessOrEqual(t, during, 2*intervals, "more than an answer and a tick an interval")
	assert.LessOrEqual(t, bursts-bursts0, uint64(flood/time.Second)+1, "more than a burst a second")
	assert.Greater(t, held-held0, uint64(0), "nothing held: was the flood heard at all?")
	assert.LessOrEqual(t, strings.Count(a.proc.Output(), "master received a lower-priority advertisement"), 1, "not rate-limited")
	assert.Equal(t, "MASTER", a.state(t))
	assert.Equal(t, "BACKUP", b.state(t))
}
