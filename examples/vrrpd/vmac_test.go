package main

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/keepalived"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// The virtual MAC (-vmac, RFC 5798 §7.3) end to end: vrrpd processes in
// network namespaces, what they send read off the wire by tshark, what
// they leave on the hosts read by ip(8) and /proc/sys.

// The virtual MACs of the VRIDs these tests use, written out rather than
// computed as vrrpd computes them.
const (
	vmacVRID6 = 52 // 0x34
	vmac4     = "00:00:5e:00:01:33"
	vmac6     = "00:00:5e:00:02:34"
	vmacName4 = "vrrp.51"
	vmacName6 = "vrrp6.52"
	vmacVIP6  = "2001:db8::100"
	vmacLL6   = "fe80::100"
)

// vmacStart starts vrrpd on n for vrid with the virtual addresses vips and
// more flags.
func vmacStart(bin string, n *node, vrid int, vips []string, more ...string) {
	args := []string{bin, "-interface", n.iface.Name(), "-vrid", strconv.Itoa(vrid)}
	for _, v := range vips {
		args = append(args, "-vip", v)
	}
	n.proc = n.host.Start(append(args, more...)...)
}

// vmacTshark decodes the capture at pcap with tshark (IP header checksums
// checked) and returns, for each packet that matches the display filter,
// its fields. It skips the test without tshark.
func vmacTshark(t *testing.T, pcap, filter string, fields ...string) []map[string]string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("needs tshark for an independent decode")
	}
	args := []string{"-r", pcap, "-n", "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=/t", "-E", "aggregator=,"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tshark %s: %s", strings.Join(args, " "), stderr.String())
	var rows []map[string]string
	for line := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		vals := strings.Split(line, "\t")
		row := map[string]string{}
		for i, f := range fields {
			if i < len(vals) {
				row[f] = vals[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// vmacSummary is tshark's one-line summary of each packet of pcap that
// matches filter, for failure messages.
func vmacSummary(t *testing.T, pcap, filter string) string {
	t.Helper()
	cmd := exec.Command("tshark", "-r", pcap, "-n", "-t", "ad", "-Y", filter)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// vmacEpoch parses tshark's frame.time_epoch.
func vmacEpoch(t *testing.T, s string) time.Time {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	require.NoError(t, err, "frame.time_epoch %q", s)
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	require.NoError(t, err, "frame.time_epoch %q", s)
	return time.Unix(n, ns)
}

// vmacSysctlFile is the /proc/sys file of a per-interface setting: family
// "ipv4" or "ipv6", ifname, key.
func vmacSysctlFile(family, ifname, key string) string {
	return filepath.Join("/proc/sys/net", family, "conf", ifname, key)
}

// vmacReadSysctl reads a /proc/sys file in h's namespace; "" if it is not
// there.
func vmacReadSysctl(h *netlab.Host, path string) string {
	var v string
	h.Do(func() error {
		b, err := os.ReadFile(path)
		v = strings.TrimSpace(string(b))
		return err
	})
	return v
}

// vmacWriteSysctl writes a /proc/sys file in h's namespace.
func vmacWriteSysctl(t *testing.T, h *netlab.Host, path, v string) {
	t.Helper()
	require.NoError(t, h.Do(func() error { return os.WriteFile(path, []byte(v+"\n"), 0o644) }))
}

// vmacParentARP returns eth0's arp_ignore and arp_filter in n's host.
func vmacParentARP(n *node) [2]string {
	return [2]string{
		vmacReadSysctl(n.host, vmacSysctlFile("ipv4", n.iface.Name(), "arp_ignore")),
		vmacReadSysctl(n.host, vmacSysctlFile("ipv4", n.iface.Name(), "arp_filter")),
	}
}

// vmacSetParentARP sets eth0's arp_ignore and arp_filter in n's host.
func vmacSetParentARP(t *testing.T, n *node, v [2]string) {
	t.Helper()
	vmacWriteSysctl(t, n.host, vmacSysctlFile("ipv4", n.iface.Name(), "arp_ignore"), v[0])
	vmacWriteSysctl(t, n.host, vmacSysctlFile("ipv4", n.iface.Name(), "arp_filter"), v[1])
}

// vmacLinkDetails is `ip -d link show dev name` in h, and whether it is there.
func vmacLinkDetails(h *netlab.Host, name string) (string, bool) {
	out, err := h.Run("ip", "-d", "link", "show", "dev", name)
	return out, err == nil
}

var vmacIfindexRE = regexp.MustCompile(`^(\d+): `)

// vmacIfindex returns the index of the interface name in h, 0 if there is
// none.
func vmacIfindex(h *netlab.Host, name string) int {
	out, err := h.Run("ip", "-o", "link", "show", "dev", name)
	if err != nil {
		return 0
	}
	m := vmacIfindexRE.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// vmacAddrs is `ip addr show dev name` of family ("-4", "-6") in h, "" when
// the interface is not there.
func vmacAddrs(h *netlab.Host, family, name string) string {
	out, err := h.Run("ip", family, "addr", "show", "dev", name)
	if err != nil {
		return ""
	}
	return out
}

// vmacCheckLink asserts that n has the macvlan name on eth0 with mac, in
// bridge mode, making no IPv6 address of its own, answering ARP only for
// its own addresses, and with IPv6 off when it is an IPv4 one.
func vmacCheckLink(t *testing.T, n *node, name, mac string, ipv6 bool) {
	t.Helper()
	out, ok := vmacLinkDetails(n.host, name)
	require.True(t, ok, "%s: no interface %s:\n%s", n.host.Name(), name, n.proc.Output())
	assert.Contains(t, out, name+"@"+n.iface.Name()+":", "%s: not on %s", name, n.iface.Name())
	assert.Contains(t, out, "link/ether "+mac+" ", "%s: MAC", name)
	assert.Contains(t, out, "macvlan mode bridge ", "%s: not a bridge-mode macvlan", name)
	assert.Contains(t, out, "addrgenmode none", "%s: makes a link-local address of its own", name)
	assert.Regexp(t, `<[^>]*\bUP\b`, out, "%s is not up", name)
	assert.Equal(t, "1", vmacReadSysctl(n.host, vmacSysctlFile("ipv4", name, "arp_ignore")), "%s: arp_ignore", name)
	assert.Equal(t, "1", vmacReadSysctl(n.host, vmacSysctlFile("ipv6", name, "addr_gen_mode")), "%s: addr_gen_mode", name)
	if ipv6 {
		assert.Equal(t, "0", vmacReadSysctl(n.host, vmacSysctlFile("ipv6", name, "disable_ipv6")), "%s: IPv6 off on an IPv6 one", name)
	} else {
		assert.Equal(t, "1", vmacReadSysctl(n.host, vmacSysctlFile("ipv6", name, "disable_ipv6")), "%s: IPv6 on on an IPv4 one", name)
	}
	assert.Equal(t, [2]string{"1", "1"}, vmacParentARP(n), "%s: the parent's arp_ignore, arp_filter while the macvlan is there", n.host.Name())
}

// vmacFDBPort returns the switch port the bridge has learnt mac on, "" if
// none.
func vmacFDBPort(sw *netlab.Switch, mac string) string {
	out, err := sw.Host().Run("bridge", "fdb", "show", "br", "br0")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == mac && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

// vmacNeighSamples samples h's neighbour entry for addr every 5 ms until stop
// is closed, then delivers each distinct MAC seen ("" for no entry, or
// one without an address) with how often.
func vmacNeighSamples(h *netlab.Host, addr string, stop <-chan struct{}) <-chan map[string]int {
	out := make(chan map[string]int, 1)
	go func() {
		seen := map[string]int{}
		for {
			select {
			case <-stop:
				out <- seen
				return
			case <-time.After(5 * time.Millisecond):
			}
			seen[neighMAC(h, addr)]++
		}
	}()
	return out
}

// vmacWaitExit waits up to within for n's vrrpd to exit by itself and returns
// Wait's error.
func vmacWaitExit(t *testing.T, n *node, within time.Duration) error {
	t.Helper()
	select {
	case <-n.proc.Done():
		return n.proc.Wait()
	case <-time.After(within):
		t.Fatalf("%s: vrrpd still runs after %v:\n%s", n.host.Name(), within, n.proc.Output())
		return nil
	}
}

// vmacTransitionTime is the time of n's first transition to state.
func vmacTransitionTime(t *testing.T, n *node, state string) time.Time {
	t.Helper()
	for _, tr := range n.transitions(t) {
		if tr.To == state {
			at, err := time.Parse(time.RFC3339Nano, tr.Time)
			require.NoError(t, err)
			return at
		}
	}
	t.Fatalf("%s never became %s", n.host.Name(), state)
	return time.Time{}
}

// TestVirtualMAC runs two vrrpd -vmac and a client on a switch, IPv4
// multicast. On the wire: the master's advertisements leave from
// 00:00:5e:00:01:33 with its own IP address, good checksums (IP and
// VRRP); its gratuitous ARPs and ARP replies for the virtual address name
// the virtual MAC, in the Ethernet header and in the ARP sender; the
// nodes' own addresses still resolve to their own MACs; the backup's
// port never carries a frame from the virtual MAC. On the hosts: the
// bridge-mode macvlan vrrp.51 with that MAC, addrgenmode none, IPv6 off,
// arp_ignore 1, the parent's arp_ignore and arp_filter 1; the virtual
// address on the master's macvlan alone, never on eth0. The master
// stops (SIGTERM): the client's ARP entry stays the virtual MAC, sampled
// through the failover, the switch learns it on the backup's port, and
// TCP reaches the new master; the stopped node's macvlan is gone and its
// parent's sysctls are what they were before it started.
func TestVirtualMAC(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client, sw := trioOn(t)
	vip := netip.MustParseAddr(chaosVIP)
	// Values vrrpd does not set, to see them put back: a 2, b 0.
	before := map[*node][2]string{a: {"2", "0"}, b: {"0", "0"}}
	for n, v := range before {
		vmacSetParentARP(t, n, v)
	}
	clientCap := client.host.Capture(client.iface.Name(), "")
	// What leaves a and b from the virtual MAC, as the switch receives it.
	aPort := sw.Host().Capture(a.iface.Peer().Name(), "inbound and ether src "+vmac4)
	bPort := sw.Host().Capture(b.iface.Peer().Name(), "inbound and ether src "+vmac4)

	a.start(bin, vrrpdArgs(a, b, 150, false, "-vmac")...)
	a.waitState(t, "MASTER", 10*time.Second)
	vmacCheckLink(t, a, vmacName4, vmac4, false)
	assert.Empty(t, strings.TrimSpace(vmacAddrs(a.host, "-6", vmacName4)), "an IPv4 macvlan with IPv6 addresses")
	require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(a.host, "-4", vmacName4), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond,
		"the master's macvlan does not hold the address:\n%s", a.proc.Output())
	assert.False(t, a.holds(t), "the master holds the address on eth0 too")

	b.start(bin, vrrpdArgs(b, a, 100, false, "-vmac")...)
	b.waitState(t, "BACKUP", 10*time.Second)
	vmacCheckLink(t, b, vmacName4, vmac4, false)
	assert.Empty(t, strings.TrimSpace(vmacAddrs(b.host, "-6", vmacName4)))
	assert.NotContains(t, vmacAddrs(b.host, "-4", vmacName4), chaosVIP, "the backup's macvlan holds the address")
	assert.False(t, b.holds(t), "the backup holds the address on eth0")

	// The client reaches the master through the virtual MAC; the nodes'
	// own addresses resolve to their own MACs (arp_ignore on the
	// macvlan), the virtual one to the virtual MAC only.
	client.host.MustRun("ip", "neigh", "flush", "dev", client.iface.Name())
	name, err := client.host.AskName(netip.AddrPortFrom(vip, 8080), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, a.host.Name(), name)
	assert.Equal(t, vmac4, neighMAC(client.host, chaosVIP), "the client's ARP entry for the address, after one TCP connection to it")
	for _, n := range []*node{a, b} {
		require.NoError(t, client.host.Ping(n.addr, 2*time.Second))
		assert.Equal(t, n.iface.MAC().String(), neighMAC(client.host, n.addr.String()), "the client's ARP entry for %v", n.addr)
	}
	assert.Equal(t, a.iface.Peer().Name(), vmacFDBPort(sw, vmac4), "the switch learnt the virtual MAC elsewhere than on the master's port")

	// A second of steady state, then the master stops.
	time.Sleep(time.Second)
	assert.Equal(t, "MASTER", a.state(t))
	assert.Equal(t, "BACKUP", b.state(t))
	bPath := bPort.Stop()
	bFrames := vmacTshark(t, bPath, "", "frame.number")
	assert.Empty(t, bFrames, "the backup sent frames from the virtual MAC while backup (they draw the master's traffic):\n%s", vmacSummary(t, bPath, ""))

	stopNeigh := make(chan struct{})
	samples := vmacNeighSamples(client.host, chaosVIP, stopNeigh)
	stopConns := make(chan struct{})
	probes := client.host.ConnectLoop(netip.AddrPortFrom(vip, 8080), stopConns)
	time.Sleep(300 * time.Millisecond)
	stopped := time.Now()
	require.NoError(t, a.proc.Signal(syscall.SIGTERM))
	b.waitState(t, "MASTER", 5*time.Second)
	require.NoError(t, vmacWaitExit(t, a, 10*time.Second), "vrrpd did not exit 0 on SIGTERM:\n%s", a.proc.Output())
	require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(b.host, "-4", vmacName4), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond,
		"the new master's macvlan does not hold the address:\n%s", b.proc.Output())
	require.Eventually(t, func() bool { return vmacFDBPort(sw, vmac4) == b.iface.Peer().Name() }, 5*time.Second, 5*time.Millisecond,
		"the switch did not learn the virtual MAC on the new master's port")
	time.Sleep(500 * time.Millisecond)
	close(stopConns)
	close(stopNeigh)
	seen := <-samples
	t.Logf("the client's ARP entry for %s through the failover: %v", chaosVIP, seen)
	assert.Equal(t, []string{vmac4}, vmacKeys(seen), "the client's ARP entry changed in the failover")

	// The stopped node: no macvlan, the parent as before.
	_, there := vmacLinkDetails(a.host, vmacName4)
	assert.False(t, there, "the stopped node left its macvlan")
	assert.Equal(t, before[a], vmacParentARP(a), "the stopped node's arp_ignore, arp_filter are not what they were")
	assert.False(t, a.holds(t))

	// The client reaches the new master, through the same MAC.
	name, err = client.host.AskName(netip.AddrPortFrom(vip, 8080), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, b.host.Name(), name, "TCP to the address did not reach the new master")
	require.NoError(t, client.host.Ping(vip, 2*time.Second))
	assert.Equal(t, vmac4, neighMAC(client.host, chaosVIP))
	vmacCheckLink(t, b, vmacName4, vmac4, false)
	assert.False(t, b.holds(t), "the new master holds the address on eth0")

	var lastA, firstB time.Time
	for _, p := range <-probes {
		if p.Server == a.host.Name() {
			lastA = p.At
		}
		if p.Server == b.host.Name() && firstB.IsZero() {
			firstB = p.At
		}
	}
	require.False(t, lastA.IsZero(), "the client never reached the master")
	require.False(t, firstB.IsZero(), "the client never reached the new master")
	outage := firstB.Sub(lastA)
	t.Logf("SIGTERM to the master: TCP outage %v (last connection served by a to first by b)", outage.Round(time.Millisecond))
	assert.Less(t, outage, time.Second, "a clean handover (Skew_Time %v) took long", (256-100)*chaosInterval/256)

	// b stops too and cleans up as a did.
	require.NoError(t, b.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vmacWaitExit(t, b, 10*time.Second), "vrrpd did not exit 0 on SIGTERM:\n%s", b.proc.Output())
	_, there = vmacLinkDetails(b.host, vmacName4)
	assert.False(t, there, "the stopped node left its macvlan")
	assert.Equal(t, before[b], vmacParentARP(b), "the stopped node's arp_ignore, arp_filter are not what they were")

	// The wire, as tshark reads it.
	path := clientCap.Stop()
	aPath := aPort.Stop()
	advs := vmacTshark(t, path, "vrrp", "frame.time_epoch", "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.ttl", "ip.checksum.status",
		"vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.checksum.status", "vrrp.ip_addr")
	require.NotEmpty(t, advs)
	var fromA, fromB int
	var lastAdvA, firstAdvB time.Time
	for _, r := range advs {
		assert.Equal(t, vmac4, r["eth.src"], "advertisement %v", r)
		assert.Equal(t, "01:00:5e:00:00:12", r["eth.dst"], "advertisement %v", r)
		assert.Equal(t, "224.0.0.18", r["ip.dst"])
		assert.Equal(t, "255", r["ip.ttl"])
		assert.Equal(t, "1", r["ip.checksum.status"], "IP header checksum (1 is good) %v", r)
		assert.Equal(t, "3", r["vrrp.version"])
		assert.Equal(t, "51", r["vrrp.virt_rtr_id"])
		assert.Equal(t, "1", r["vrrp.checksum.status"], "VRRP checksum (1 is good) %v", r)
		assert.Equal(t, chaosVIP, r["vrrp.ip_addr"])
		at := vmacEpoch(t, r["frame.time_epoch"])
		switch r["ip.src"] {
		case a.addr.String():
			fromA++
			if at.Before(stopped.Add(time.Second)) {
				lastAdvA = at
			}
			if r["vrrp.prio"] != "0" {
				assert.Equal(t, "150", r["vrrp.prio"])
			}
		case b.addr.String():
			fromB++
			if firstAdvB.IsZero() {
				firstAdvB = at
			}
			assert.True(t, at.After(stopped), "b advertised before a stopped: %v", r)
			if r["vrrp.prio"] != "0" {
				assert.Equal(t, "100", r["vrrp.prio"])
			}
		default:
			t.Errorf("an advertisement from %s", r["ip.src"])
		}
	}
	assert.NotZero(t, fromA)
	assert.NotZero(t, fromB)
	t.Logf("%d advertisements from a, %d from b, all from %s; b's first %v after a's last (priority 0)", fromA, fromB, vmac4,
		firstAdvB.Sub(lastAdvA).Round(time.Microsecond))
	assert.Empty(t, vmacTshark(t, path, "_ws.malformed || _ws.expert.severity >= 0x00800000", "frame.number"),
		"tshark finds malformed or erroneous packets:\n%s", vmacSummary(t, path, "_ws.malformed || _ws.expert.severity >= 0x00800000"))

	// ARP about the virtual address: always from the virtual MAC, in the
	// Ethernet header and as the sender; gratuitous ones from each master.
	arps := vmacTshark(t, path, "arp.src.proto_ipv4 == "+chaosVIP, "frame.time_epoch", "eth.src", "arp.opcode", "arp.isgratuitous", "arp.src.hw_mac")
	var garpA, garpB, foreign int
	for _, r := range arps {
		if r["eth.src"] != vmac4 || r["arp.src.hw_mac"] != vmac4 {
			foreign++
		}
		if r["arp.isgratuitous"] == "1" {
			assert.Equal(t, vmac4, r["arp.src.hw_mac"], "gratuitous ARP %v", r)
			if vmacEpoch(t, r["frame.time_epoch"]).Before(stopped) {
				garpA++
			} else {
				garpB++
			}
		}
	}
	t.Logf("gratuitous ARPs for %s from %s: %d from a, %d from b", chaosVIP, vmac4, garpA, garpB)
	assert.Zero(t, foreign, "ARP with the virtual address as sender from another MAC than the virtual one (a: %v, b: %v), "+
		"which moves the client's entry off the virtual MAC:\n%s", a.iface.MAC(), b.iface.MAC(), vmacSummary(t, path, "arp"))
	assert.NotZero(t, garpA, "no gratuitous ARP from the first master")
	assert.NotZero(t, garpB, "no gratuitous ARP from the new master")
	// ARP about the nodes' own addresses: from their own MACs.
	for _, n := range []*node{a, b} {
		for _, r := range vmacTshark(t, path, "arp.src.proto_ipv4 == "+n.addr.String(), "eth.src", "arp.src.hw_mac") {
			assert.Equal(t, n.iface.MAC().String(), r["arp.src.hw_mac"], "ARP for %v: %v", n.addr, r)
		}
	}

	// What left a from the virtual MAC: nothing before it was master,
	// and only VRRP and ARP.
	masterAt := vmacTransitionTime(t, a, "MASTER")
	aRows := vmacTshark(t, aPath, "", "frame.time_epoch", "frame.protocols")
	require.NotEmpty(t, aRows)
	assert.False(t, vmacEpoch(t, aRows[0]["frame.time_epoch"]).Before(masterAt.Add(-time.Millisecond)),
		"a sent from the virtual MAC at %v, before it became master at %v", aRows[0]["frame.time_epoch"], masterAt)
	for _, r := range aRows {
		p := r["frame.protocols"]
		assert.True(t, strings.HasSuffix(p, ":vrrp") || strings.HasSuffix(p, ":arp") || strings.Contains(p, ":tcp") || strings.Contains(p, ":icmp"),
			"a sent %s from the virtual MAC", p)
	}
}

// vmacKeys returns m's keys, sorted.
func vmacKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// vmacLinkLocal waits for the link-local address of n's eth0 and returns it.
func vmacLinkLocal(t *testing.T, n *node) string {
	t.Helper()
	re := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`)
	var ll string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(vmacAddrs(n.host, "-6", n.iface.Name()))
		if m != nil {
			ll = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "%s: no link-local address on %s", n.host.Name(), n.iface.Name())
	return ll
}

// TestVirtualMACIPv6 is TestVirtualMAC for IPv6, VRID 52, with the
// virtual router's link-local address fe80::100 first and 2001:db8::100:
// the advertisements leave from 00:00:5e:00:02:34 with the node's own
// link-local source, the unsolicited neighbour advertisements from the
// virtual MAC with the Router and Override flags and the virtual MAC as
// target link-layer address; the client's neighbour entries are the
// virtual MAC, through a failover too; the backup's macvlan vrrp6.52,
// without an address of its own, sends nothing (no MLD report, no router
// solicitation).
func TestVirtualMACIPv6(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client, sw := trioOn(t)
	for i, n := range []*node{a, b, client} {
		n.iface.AddAddr(netip.MustParsePrefix(fmt.Sprintf("2001:db8::%d/64", i+1)))
	}
	lls := map[string]*node{vmacLinkLocal(t, a): a, vmacLinkLocal(t, b): b}
	vmacLinkLocal(t, client)
	vips := []string{vmacLL6 + "/64", vmacVIP6 + "/64"}
	clientCap := client.host.Capture(client.iface.Name(), "")
	bPort := sw.Host().Capture(b.iface.Peer().Name(), "inbound and ether src "+vmac6)

	vmacStart(bin, a, vmacVRID6, vips, vrrpdArgs(a, b, 150, false, "-vmac")...)
	a.waitState(t, "MASTER", 10*time.Second)
	vmacCheckLink(t, a, vmacName6, vmac6, true)
	require.Eventually(t, func() bool {
		out := vmacAddrs(a.host, "-6", vmacName6)
		return strings.Contains(out, vmacLL6+"/64") && strings.Contains(out, vmacVIP6+"/64")
	}, 5*time.Second, 10*time.Millisecond, "the master's macvlan does not hold the addresses:\n%s", a.proc.Output())
	assert.NotContains(t, vmacAddrs(a.host, "-6", a.iface.Name()), vmacVIP6, "the master holds the address on eth0")

	vmacStart(bin, b, vmacVRID6, vips, vrrpdArgs(b, a, 100, false, "-vmac")...)
	b.waitState(t, "BACKUP", 10*time.Second)
	vmacCheckLink(t, b, vmacName6, vmac6, true)
	assert.Empty(t, strings.TrimSpace(vmacAddrs(b.host, "-6", vmacName6)), "the backup's macvlan has addresses")
	assert.NotContains(t, vmacAddrs(b.host, "-6", b.iface.Name()), vmacVIP6)

	vip := netip.MustParseAddr(vmacVIP6)
	name, err := client.host.AskName(netip.AddrPortFrom(vip, 8080), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, a.host.Name(), name)
	assert.Equal(t, vmac6, neighMAC(client.host, vmacVIP6), "the client's neighbour entry for %s", vmacVIP6)
	require.NoError(t, client.host.Ping(netip.MustParseAddr(vmacLL6+"%"+client.iface.Name()), 2*time.Second))
	assert.Equal(t, vmac6, neighMAC(client.host, vmacLL6), "the client's neighbour entry for %s", vmacLL6)
	assert.Equal(t, a.iface.Peer().Name(), vmacFDBPort(sw, vmac6))

	time.Sleep(time.Second)
	bPath := bPort.Stop()
	assert.Empty(t, vmacTshark(t, bPath, "", "frame.number"),
		"the backup sent frames from the virtual MAC while backup:\n%s", vmacSummary(t, bPath, ""))

	stopNeigh := make(chan struct{})
	samples := vmacNeighSamples(client.host, vmacVIP6, stopNeigh)
	time.Sleep(200 * time.Millisecond)
	stopped := time.Now()
	require.NoError(t, a.proc.Signal(syscall.SIGTERM))
	b.waitState(t, "MASTER", 5*time.Second)
	require.NoError(t, vmacWaitExit(t, a, 10*time.Second), "vrrpd did not exit 0 on SIGTERM:\n%s", a.proc.Output())
	require.Eventually(t, func() bool { return vmacFDBPort(sw, vmac6) == b.iface.Peer().Name() }, 5*time.Second, 5*time.Millisecond,
		"the switch did not learn the virtual MAC on the new master's port")
	time.Sleep(300 * time.Millisecond)
	close(stopNeigh)
	seen := <-samples
	t.Logf("the client's neighbour entry for %s through the failover: %v", vmacVIP6, seen)
	assert.Equal(t, []string{vmac6}, vmacKeys(seen), "the client's neighbour entry changed in the failover")
	name, err = client.host.AskName(netip.AddrPortFrom(vip, 8080), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, b.host.Name(), name, "TCP to the address did not reach the new master")
	assert.Equal(t, vmac6, neighMAC(client.host, vmacVIP6))
	_, there := vmacLinkDetails(a.host, vmacName6)
	assert.False(t, there, "the stopped node left its macvlan")

	path := clientCap.Stop()
	advs := vmacTshark(t, path, "vrrp", "frame.time_epoch", "eth.src", "eth.dst", "ipv6.src", "ipv6.dst", "ipv6.hlim",
		"vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.checksum.status", "vrrp.ipv6_addr")
	require.NotEmpty(t, advs)
	count := map[*node]int{}
	for _, r := range advs {
		assert.Equal(t, vmac6, r["eth.src"], "advertisement %v", r)
		assert.Equal(t, "33:33:00:00:00:12", r["eth.dst"], "advertisement %v", r)
		assert.Equal(t, "ff02::12", r["ipv6.dst"])
		assert.Equal(t, "255", r["ipv6.hlim"])
		assert.Equal(t, "3", r["vrrp.version"])
		assert.Equal(t, "52", r["vrrp.virt_rtr_id"])
		assert.Equal(t, "1", r["vrrp.checksum.status"], "VRRP checksum (1 is good) %v", r)
		assert.Equal(t, vmacLL6+","+vmacVIP6, r["vrrp.ipv6_addr"])
		n, ok := lls[r["ipv6.src"]]
		if !assert.True(t, ok, "an advertisement from %s, not a node's own link-local address", r["ipv6.src"]) {
			continue
		}
		count[n]++
		if n == b {
			assert.True(t, vmacEpoch(t, r["frame.time_epoch"]).After(stopped), "b advertised before a stopped: %v", r)
		}
	}
	t.Logf("%d advertisements from a, %d from b, all from %s", count[a], count[b], vmac6)
	assert.NotZero(t, count[a])
	assert.NotZero(t, count[b])
	assert.Empty(t, vmacTshark(t, path, "_ws.malformed || _ws.expert.severity >= 0x00800000", "frame.number"),
		"tshark finds malformed or erroneous packets:\n%s", vmacSummary(t, path, "_ws.malformed || _ws.expert.severity >= 0x00800000"))

	// Neighbour advertisements of the virtual addresses.
	nas := vmacTshark(t, path, "icmpv6.type == 136 && (icmpv6.nd.na.target_address == "+vmacVIP6+" || icmpv6.nd.na.target_address == "+vmacLL6+")",
		"frame.time_epoch", "eth.src", "ipv6.dst", "icmpv6.checksum.status", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o",
		"icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr")
	unsolicited := map[string]int{}
	var solicitedR []string
	for _, r := range nas {
		assert.Equal(t, vmac6, r["eth.src"], "NA %v", r)
		assert.Equal(t, "1", r["icmpv6.checksum.status"], "NA %v", r)
		if r["icmpv6.opt.linkaddr"] != "" {
			assert.Equal(t, vmac6, r["icmpv6.opt.linkaddr"], "NA %v", r)
		}
		if r["icmpv6.nd.na.flag.s"] == "0" {
			assert.Equal(t, "1", r["icmpv6.nd.na.flag.r"], "an unsolicited NA without the Router flag: %v", r)
			assert.Equal(t, "1", r["icmpv6.nd.na.flag.o"], "an unsolicited NA without the Override flag: %v", r)
			assert.Equal(t, vmac6, r["icmpv6.opt.linkaddr"], "NA %v", r)
			assert.Equal(t, "ff02::1", r["ipv6.dst"])
			who := "a"
			if vmacEpoch(t, r["frame.time_epoch"]).After(stopped) {
				who = "b"
			}
			unsolicited[who+" "+r["icmpv6.nd.na.target_address"]]++
		} else {
			solicitedR = append(solicitedR, r["icmpv6.nd.na.flag.r"])
		}
	}
	t.Logf("unsolicited NAs from %s: %v; the kernel's solicited NAs' Router flags: %v", vmac6, unsolicited, solicitedR)
	for _, who := range []string{"a", "b"} {
		for _, target := range []string{vmacLL6, vmacVIP6} {
			assert.NotZero(t, unsolicited[who+" "+target], "no unsolicited NA for %s from %s", target, who)
		}
	}
}

// TestVirtualMACTransmitBase runs -vmac -vmac-xmit-base: the
// advertisements leave from each node's own MAC, while the address is on
// the macvlan and resolves to the virtual MAC. b names its macvlan with
// -vmac-interface.
func TestVirtualMACTransmitBase(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client, sw := trioOn(t)
	clientCap := client.host.Capture(client.iface.Name(), "")
	bPort := sw.Host().Capture(b.iface.Peer().Name(), "inbound and ether src "+vmac4)
	runPair(t, bin, a, b, false, "-vmac", "-vmac-xmit-base")
	vmacCheckLink(t, a, vmacName4, vmac4, false)
	require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(a.host, "-4", vmacName4), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond,
		"the master's macvlan does not hold the address:\n%s", a.proc.Output())
	assert.False(t, a.holds(t), "the address is on eth0")

	vip := netip.MustParseAddr(chaosVIP)
	name, err := client.host.AskName(netip.AddrPortFrom(vip, 8080), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, a.host.Name(), name)
	assert.Equal(t, vmac4, neighMAC(client.host, chaosVIP), "the client's ARP entry for the address, after one TCP connection to it")
	time.Sleep(500 * time.Millisecond)

	// b takes over, with its macvlan named its own way.
	require.NoError(t, b.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vmacWaitExit(t, b, 10*time.Second))
	bPath := bPort.Stop()
	assert.Empty(t, vmacTshark(t, bPath, "", "frame.number"), "the backup sent from the virtual MAC:\n%s", vmacSummary(t, bPath, ""))
	b.start(bin, vrrpdArgs(b, a, 100, false, "-vmac", "-vmac-xmit-base", "-vmac-interface", "vm51")...)
	b.waitState(t, "BACKUP", 10*time.Second)
	vmacCheckLink(t, b, "vm51", vmac4, false)
	_, there := vmacLinkDetails(b.host, vmacName4)
	assert.False(t, there)
	stopped := time.Now()
	require.NoError(t, a.proc.Signal(syscall.SIGTERM))
	b.waitState(t, "MASTER", 5*time.Second)
	require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(b.host, "-4", "vm51"), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond,
		"the new master's macvlan does not hold the address:\n%s", b.proc.Output())
	assert.False(t, b.holds(t))
	require.Eventually(t, func() bool {
		name, err := client.host.AskName(netip.AddrPortFrom(vip, 8080), 200*time.Millisecond)
		return err == nil && name == b.host.Name()
	}, 5*time.Second, 10*time.Millisecond, "TCP to the address did not reach the new master")
	assert.Equal(t, vmac4, neighMAC(client.host, chaosVIP), "the client's ARP entry for the address, after TCP to the new master")
	time.Sleep(300 * time.Millisecond)

	path := clientCap.Stop()
	advs := vmacTshark(t, path, "vrrp", "frame.time_epoch", "eth.src", "ip.src", "ip.checksum.status", "vrrp.checksum.status")
	require.NotEmpty(t, advs)
	macs := map[string]string{a.addr.String(): a.iface.MAC().String(), b.addr.String(): b.iface.MAC().String()}
	var fromB int
	for _, r := range advs {
		want, ok := macs[r["ip.src"]]
		require.True(t, ok, "advertisement from %s", r["ip.src"])
		assert.Equal(t, want, r["eth.src"], "with -vmac-xmit-base an advertisement from %s left from %s", r["ip.src"], r["eth.src"])
		assert.Equal(t, "1", r["vrrp.checksum.status"])
		if r["ip.src"] == b.addr.String() && vmacEpoch(t, r["frame.time_epoch"]).After(stopped) {
			fromB++
		}
	}
	assert.NotZero(t, fromB)
	t.Logf("%d advertisements, each from its node's own MAC", len(advs))
	arps := vmacTshark(t, path, "arp.src.proto_ipv4 == "+chaosVIP, "eth.src", "arp.src.hw_mac", "arp.isgratuitous")
	require.NotEmpty(t, arps)
	foreign := 0
	for _, r := range arps {
		if r["eth.src"] != vmac4 || r["arp.src.hw_mac"] != vmac4 {
			foreign++
		}
	}
	assert.Zero(t, foreign, "ARP with the virtual address as sender from another MAC than the virtual one (a: %v, b: %v):\n%s",
		a.iface.MAC(), b.iface.MAC(), vmacSummary(t, path, "arp"))
}

// TestVirtualMACStale starts vrrpd where a macvlan of its name and
// virtual MAC on eth0 is left over (by hand, in bridge and in
// keepalived's private mode, with the address on it; and by a vrrpd
// killed with SIGKILL): vrrpd replaces it (a new index, bridge mode) and
// becomes master, the address on the new one.
func TestVirtualMACStale(t *testing.T) {
	bin := netlab.Build(t)
	for _, mode := range []string{"bridge", "private", "SIGKILL"} {
		t.Run(mode, func(t *testing.T) {
			a, _ := pair(t)
			if mode == "SIGKILL" {
				a.start(bin, "-advert-int", "100ms", "-vmac")
				a.waitState(t, "MASTER", 10*time.Second)
				require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(a.host, "-4", vmacName4), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond)
				require.NoError(t, a.proc.Signal(syscall.SIGKILL))
				vmacWaitExit(t, a, 10*time.Second)
				t.Logf("after SIGKILL the parent's arp_ignore, arp_filter are %v (the run's)", vmacParentARP(a))
			} else {
				a.host.MustRun("ip", "link", "add", "link", a.iface.Name(), "name", vmacName4, "address", vmac4, "type", "macvlan", "mode", mode)
				a.host.MustRun("ip", "addr", "add", chaosVIP+"/24", "dev", vmacName4)
				a.host.MustRun("ip", "link", "set", vmacName4, "up")
			}
			stale := vmacIfindex(a.host, vmacName4)
			require.NotZero(t, stale, "no stale macvlan")
			a.start(bin, "-advert-int", "100ms", "-vmac")
			a.waitState(t, "MASTER", 10*time.Second)
			fresh := vmacIfindex(a.host, vmacName4)
			assert.NotZero(t, fresh)
			assert.NotEqual(t, stale, fresh, "the stale macvlan (index %d) was kept", stale)
			vmacCheckLink(t, a, vmacName4, vmac4, false)
			require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(a.host, "-4", vmacName4), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond,
				"the new macvlan does not hold the address:\n%s", a.proc.Output())
			t.Logf("stale %s index %d replaced by %d", vmacName4, stale, fresh)
			require.NoError(t, a.proc.Signal(syscall.SIGTERM))
			require.NoError(t, vmacWaitExit(t, a, 10*time.Second), "%s", a.proc.Output())
			_, there := vmacLinkDetails(a.host, vmacName4)
			assert.False(t, there)
			t.Logf("after a clean stop the parent's arp_ignore, arp_filter are %v (0 0 before the first run)", vmacParentARP(a))
		})
	}
}

// TestVirtualMACForeign starts vrrpd where an interface of the macvlan's
// name is not one it made: a macvlan of another MAC, a veth renamed (with
// the virtual MAC), a macvlan of the virtual MAC on another parent, and
// -vmac-interface naming eth0 itself. vrrpd exits non-zero at once with
// an error that names the interface, leaving it as it was (index, MAC,
// kind, addresses) and the parent's sysctls too.
func TestVirtualMACForeign(t *testing.T) {
	bin := netlab.Build(t)
	for _, c := range []struct {
		name  string
		iface string
		make  [][]string
		more  []string
	}{
		{"macvlan of another MAC", vmacName4, [][]string{{"ip", "link", "add", "link", "eth0", "name", vmacName4, "address", "02:00:00:00:00:51", "type", "macvlan", "mode", "bridge"}}, nil},
		{"veth renamed", vmacName4, [][]string{
			{"ip", "link", "add", "vx0", "address", vmac4, "type", "veth", "peer", "name", "vx1"},
			{"ip", "link", "set", "vx0", "name", vmacName4},
		}, nil},
		{"macvlan on another parent", vmacName4, [][]string{
			{"ip", "link", "add", "vy0", "type", "veth", "peer", "name", "vy1"},
			{"ip", "link", "add", "link", "vy0", "name", vmacName4, "address", vmac4, "type", "macvlan", "mode", "bridge"},
		}, nil},
		{"the parent itself", "eth0", nil, []string{"-vmac-interface", "eth0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, _ := pair(t)
			vmacSetParentARP(t, a, [2]string{"0", "0"})
			for _, cmd := range c.make {
				a.host.MustRun(cmd...)
			}
			a.host.MustRun("ip", "addr", "add", "198.51.100.7/32", "dev", c.iface)
			before, _ := vmacLinkDetails(a.host, c.iface)
			index := vmacIfindex(a.host, c.iface)
			require.NotZero(t, index)
			a.start(bin, append([]string{"-advert-int", "100ms", "-vmac"}, c.more...)...)
			err := vmacWaitExit(t, a, 10*time.Second)
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "vrrpd did not fail: %v\n%s", err, a.proc.Output())
			assert.NotZero(t, exit.ExitCode())
			out := a.proc.Output()
			t.Logf("exit %d: %s", exit.ExitCode(), strings.TrimSpace(out[strings.LastIndex(strings.TrimRight(out, "\n"), "\n")+1:]))
			assert.Regexp(t, `(?m)^vrrpd: .*`+regexp.QuoteMeta(c.iface)+`\b`, out, "the error does not name the interface")
			assert.Empty(t, a.transitions(t), "vrrpd ran")
			after, _ := vmacLinkDetails(a.host, c.iface)
			assert.Equal(t, index, vmacIfindex(a.host, c.iface), "the foreign interface was replaced")
			assert.Equal(t, before, after, "the foreign interface changed")
			assert.Contains(t, vmacAddrs(a.host, "-4", c.iface), "198.51.100.7/32")
			assert.Equal(t, [2]string{"0", "0"}, vmacParentARP(a), "the parent's sysctls changed")
		})
	}
}

// TestVirtualMACInterfaceMadeAgain deletes the master's eth0 and makes it
// again (a new interface, its sysctls the defaults): the node takes the
// master's place back on a macvlan made again on the new eth0, and the
// new eth0 must be set up as the first was, arp_ignore and arp_filter 1,
// so that it does not answer ARP for the virtual address with its own
// MAC; when vrrpd stops, they are what they were.
func TestVirtualMACInterfaceMadeAgain(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client, _ := trioOn(t)
	vmacSetParentARP(t, a, [2]string{"0", "0"}) // as a new interface's, below
	runPair(t, bin, a, b, false, "-vmac")
	vmacCheckLink(t, a, vmacName4, vmac4, false)

	a.iface.Delete()
	a.waitState(t, "FAULT", 5*time.Second)
	b.waitState(t, "MASTER", 5*time.Second)
	_, there := vmacLinkDetails(a.host, vmacName4)
	assert.False(t, there, "the macvlan outlived its parent")
	a.iface.Make()
	// What a new interface gets: conf/default's (vrrpd may have set the
	// new eth0's already).
	newDefaults := [2]string{vmacReadSysctl(a.host, vmacSysctlFile("ipv4", "default", "arp_ignore")), vmacReadSysctl(a.host, vmacSysctlFile("ipv4", "default", "arp_filter"))}
	a.iface.AddAddr(netip.PrefixFrom(a.addr, 24))
	a.waitState(t, "MASTER", 10*time.Second)
	b.waitState(t, "BACKUP", 5*time.Second)
	t.Logf("the new eth0's arp_ignore, arp_filter: %v (conf/default) when made, %v with vrrpd master on it", newDefaults, vmacParentARP(a))
	vmacCheckLink(t, a, vmacName4, vmac4, false)
	require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(a.host, "-4", vmacName4), chaosVIP+"/24") }, 5*time.Second, 10*time.Millisecond,
		"the macvlan made again does not hold the address:\n%s", a.proc.Output())
	assert.False(t, a.holds(t))

	// Who answers the client's ARP requests for the address.
	capture := client.host.Capture(client.iface.Name(), "arp")
	for range 3 {
		client.host.MustRun("ip", "neigh", "flush", "dev", client.iface.Name())
		require.NoError(t, client.host.Ping(netip.MustParseAddr(chaosVIP), 2*time.Second))
		time.Sleep(50 * time.Millisecond)
	}
	path := capture.Stop()
	replies := vmacTshark(t, path, "arp.opcode == 2 && arp.src.proto_ipv4 == "+chaosVIP, "eth.src", "arp.src.hw_mac")
	require.NotEmpty(t, replies)
	own := 0
	for _, r := range replies {
		if r["arp.src.hw_mac"] != vmac4 {
			own++
		}
	}
	assert.Zero(t, own, "ARP replies for the virtual address from the new eth0's own MAC %v:\n%s", a.iface.MAC(), vmacSummary(t, path, "arp"))

	require.NoError(t, a.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vmacWaitExit(t, a, 10*time.Second), "%s", a.proc.Output())
	_, there = vmacLinkDetails(a.host, vmacName4)
	assert.False(t, there, "the stopped node left its macvlan")
	assert.Equal(t, newDefaults, vmacParentARP(a), "the new eth0's arp_ignore, arp_filter are not what they were")
}

// TestVirtualMACTwoDaemons runs two vrrpd -vmac on one eth0, VRIDs 51 and
// 61, as one runs a vrrpd per virtual router. While either runs, eth0's
// arp_ignore and arp_filter must stay 1, or eth0 answers ARP for the
// other's address with its own MAC; once both have stopped they must be
// what they were before the first started.
func TestVirtualMACTwoDaemons(t *testing.T) {
	bin := netlab.Build(t)
	a, _, client, _ := trioOn(t)
	vmacSetParentARP(t, a, [2]string{"0", "0"})
	first := &node{host: a.host, iface: a.iface, addr: a.addr}
	second := &node{host: a.host, iface: a.iface, addr: a.addr}
	vmacStart(bin, first, 51, []string{"192.0.2.100/24"}, "-advert-int", "100ms", "-vmac", "-garp-master-delay", "0")
	first.waitState(t, "MASTER", 10*time.Second)
	vmacStart(bin, second, 61, []string{"192.0.2.101/24"}, "-advert-int", "100ms", "-vmac", "-garp-master-delay", "0")
	second.waitState(t, "MASTER", 10*time.Second)
	vmacCheckLink(t, first, "vrrp.51", vmac4, false)
	vmacCheckLink(t, second, "vrrp.61", "00:00:5e:00:01:3d", false)
	require.Eventually(t, func() bool { return strings.Contains(vmacAddrs(a.host, "-4", "vrrp.61"), "192.0.2.101/24") }, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, first.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vmacWaitExit(t, first, 10*time.Second), "%s", first.proc.Output())
	assert.Equal(t, [2]string{"1", "1"}, vmacParentARP(a), "eth0's arp_ignore, arp_filter while vrrp.61 is still on it")

	capture := client.host.Capture(client.iface.Name(), "arp")
	for range 3 {
		client.host.MustRun("ip", "neigh", "flush", "dev", client.iface.Name())
		require.NoError(t, client.host.Ping(netip.MustParseAddr("192.0.2.101"), 2*time.Second))
		time.Sleep(50 * time.Millisecond)
	}
	path := capture.Stop()
	own := 0
	replies := vmacTshark(t, path, "arp.opcode == 2 && arp.src.proto_ipv4 == 192.0.2.101", "arp.src.hw_mac")
	require.NotEmpty(t, replies)
	for _, r := range replies {
		if r["arp.src.hw_mac"] != "00:00:5e:00:01:3d" {
			own++
		}
	}
	assert.Zero(t, own, "ARP replies for 192.0.2.101 from eth0's own MAC %v:\n%s", a.iface.MAC(), vmacSummary(t, path, "arp"))

	require.NoError(t, second.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vmacWaitExit(t, second, 10*time.Second), "%s", second.proc.Output())
	assert.Equal(t, [2]string{"0", "0"}, vmacParentARP(a), "eth0's arp_ignore, arp_filter after both stopped")
}

// startVMACKeepalived runs keepalived in h with one VRRPv3 vrrp_instance
// on eth0 with use_vmac, VRID 51, advert_int 1.
func startVMACKeepalived(t *testing.T, h *netlab.Host, prio int) *keepalived.Process {
	t.Helper()
	conf := fmt.Sprintf(`global_defs {
  router_id vk1
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  use_vmac
  virtual_router_id 51
  priority %d
  advert_int 1
  virtual_ipaddress {
    %s/24
  }
}
`, prio, chaosVIP)
	return keepalived.Start(t, h, conf)
}

// vmacOneMaster samples for d that exactly one of keepalived and vrrpd is
// master, keepalived when wantKeepalived.
func vmacOneMaster(t *testing.T, k *keepalived.Process, n *node, wantKeepalived bool, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		kMaster, vMaster := k.State() == "MASTER", n.state(t) == "MASTER"
		require.True(t, kMaster != vMaster, "keepalived %s, vrrpd %s: not exactly one master:\n%s\n%s", k.State(), n.state(t), k.Output(), n.proc.Output())
		require.Equal(t, wantKeepalived, kMaster, "keepalived %s, vrrpd %s", k.State(), n.state(t))
	}
}

// TestVirtualMACKeepalived runs keepalived 2.2 with use_vmac (its macvlan
// in private mode) on a and vrrpd -vmac (bridge mode) on b, VRID 51,
// VRRPv3 at 1 s: each hears the other from the same virtual MAC, one
// master at a time, failover both ways, the client's ARP entry the
// virtual MAC throughout and TCP reaching the master.
func TestVirtualMACKeepalived(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client, sw := trioOn(t)
	vip := netip.MustParseAddr(chaosVIP)
	// keepalived's doc/NOTE_vrrp_vmac.txt has the admin set arp_announce,
	// which vrrpd sets itself: without it keepalived, master, asks for the
	// client's MAC from the virtual address with its own MAC, and the
	// client's entry leaves the virtual MAC.
	vmacWriteSysctl(t, a.host, vmacSysctlFile("ipv4", a.iface.Name(), "arp_announce"), "2")
	t.Logf("MACs: a (keepalived) %v, b (vrrpd) %v", a.iface.MAC(), b.iface.MAC())
	capture := client.host.Capture(client.iface.Name(), "vrrp")
	reaches := func(n *node) {
		t.Helper()
		require.Eventually(t, func() bool {
			name, err := client.host.AskName(netip.AddrPortFrom(vip, 8080), 200*time.Millisecond)
			return err == nil && name == n.host.Name()
		}, 10*time.Second, 20*time.Millisecond, "TCP to the address does not reach %s", n.host.Name())
		assert.Equal(t, vmac4, neighMAC(client.host, chaosVIP), "the client's ARP entry for the address")
		assert.Equal(t, n.iface.Peer().Name(), vmacFDBPort(sw, vmac4), "the switch learnt the virtual MAC elsewhere")
	}

	// vrrpd alone is master; keepalived, of higher priority, preempts it.
	b.start(bin, "-priority", "100", "-advert-int", "1s", "-vmac", "-garp-master-delay", "0")
	b.waitState(t, "MASTER", 10*time.Second)
	reaches(b)
	k := startVMACKeepalived(t, a.host, 200)
	k.WaitState(t, "MASTER", 10*time.Second)
	b.waitState(t, "BACKUP", 5*time.Second)
	t.Logf("keepalived's macvlan: %s", a.host.MustRun("ip", "-d", "link", "show", "dev", vmacName4))
	vmacOneMaster(t, k, b, true, 3*time.Second)
	reaches(a)
	assert.NotContains(t, vmacAddrs(b.host, "-4", vmacName4), chaosVIP)

	// keepalived stops: vrrpd takes over.
	stopped := time.Now()
	require.NoError(t, k.Signal(syscall.SIGTERM))
	b.waitState(t, "MASTER", 5*time.Second)
	t.Logf("vrrpd master %v after keepalived's SIGTERM", time.Since(stopped).Round(time.Millisecond))
	require.NoError(t, k.Wait())
	reaches(b)

	// keepalived of lower priority comes back as backup; vrrpd stops and
	// keepalived takes over.
	k = startVMACKeepalived(t, a.host, 50)
	k.WaitState(t, "BACKUP", 10*time.Second)
	vmacOneMaster(t, k, b, false, 4*time.Second)
	reaches(b)
	stopped = time.Now()
	require.NoError(t, b.proc.Signal(syscall.SIGTERM))
	k.WaitState(t, "MASTER", 5*time.Second)
	t.Logf("keepalived master %v after vrrpd's SIGTERM", time.Since(stopped).Round(time.Millisecond))
	require.NoError(t, vmacWaitExit(t, b, 10*time.Second))
	reaches(a)

	path := capture.Stop()
	for _, r := range vmacTshark(t, path, "vrrp", "eth.src", "ip.src", "vrrp.prio", "vrrp.checksum.status") {
		assert.Equal(t, vmac4, r["eth.src"], "%v", r)
		assert.Equal(t, "1", r["vrrp.checksum.status"], "%v", r)
	}
}

// TestVirtualMACDeletedUnderMaster deletes the master's macvlan (an
// admin's ip link del, a network manager's cleanup): the master can no
// longer hold the address, so it must not stay master, advertising from
// eth0 and drawing the client's traffic to a virtual MAC nothing
// answers on; the backup takes over and the client reaches it.
func TestVirtualMACDeletedUnderMaster(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client, _ := trioOn(t)
	vmacSetParentARP(t, a, [2]string{"0", "0"})
	runPair(t, bin, a, b, false, "-vmac")
	vip := netip.AddrPortFrom(netip.MustParseAddr(chaosVIP), 8080)
	name, err := client.host.AskName(vip, 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, a.host.Name(), name)

	deleted := time.Now()
	a.host.MustRun("ip", "link", "del", vmacName4)
	var reached time.Duration
	ok := assert.Eventually(t, func() bool {
		name, err := client.host.AskName(vip, 200*time.Millisecond)
		if err == nil && name == b.host.Name() {
			reached = time.Since(deleted)
			return true
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "the client never reached the backup after the master's macvlan went: a %s, b %s\n%s",
		a.state(t), b.state(t), a.proc.Output())
	if ok {
		t.Logf("the client reached the backup %v after the master's macvlan was deleted; a %s, b %s", reached.Round(time.Millisecond), a.state(t), b.state(t))
	}
	assert.NotEqual(t, "MASTER", a.state(t), "the node without its macvlan is master")
	assert.Equal(t, "MASTER", b.state(t))

	// It stops cleanly, the parent as it was.
	require.NoError(t, a.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vmacWaitExit(t, a, 10*time.Second), "%s", a.proc.Output())
	assert.Equal(t, [2]string{"0", "0"}, vmacParentARP(a), "eth0's arp_ignore, arp_filter after vrrpd stopped")
}
