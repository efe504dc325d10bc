package garp_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/mdlayher/ethernet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// TestLANFailover proves on a real (namespaced) LAN that the frames move an
// address: neighbour N has the VIP cached at A's MAC; B announces it and N's
// neighbour entries flip to B's MAC, then to a VRRP virtual MAC announced
// with the reply form and an explicit IPv6 source. N keeps Linux's default
// neighbour settings (locktime 1 s, arp_accept 0): a gratuitous ARP
// overrides the locktime (net/ipv4/arp.c, arp_is_garp), and an unsolicited NA
// with Override set replaces an existing entry (RFC 4861 §7.2.5). N's
// tcpdump capture is then decoded by tshark and by this package.
//
// It needs root (network namespaces, AF_PACKET); netlab skips it otherwise.
func TestLANFailover(t *testing.T) {
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	n, a, b := lab.Host("n"), lab.Host("a"), lab.Host("b")
	nIf, aIf, bIf := sw.Attach(n), sw.Attach(a), sw.Attach(b)
	nIf.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	nIf.AddAddr(netip.MustParsePrefix("2001:db8::1/64"))
	aIf.AddAddr(netip.MustParsePrefix("192.0.2.2/24"))
	aIf.AddAddr(netip.MustParsePrefix("2001:db8::2/64"))
	bIf.AddAddr(netip.MustParsePrefix("192.0.2.3/24"))
	bIf.AddAddr(netip.MustParsePrefix("2001:db8::3/64"))
	aMAC, bMAC := aIf.MAC(), bIf.MAC()
	vmac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33} // VRRP VRID 51
	t.Logf("N %s, A %s, B %s, N's ARP locktime %s (1/100 s)", nIf.MAC(), aMAC, bMAC,
		strings.TrimSpace(n.MustRun("cat", "/proc/sys/net/ipv4/neigh/"+nIf.Name()+"/locktime")))

	vips := []netip.Addr{vip4, vip6}
	prefixes := []netip.Prefix{netip.PrefixFrom(vip4, 24), netip.PrefixFrom(vip6, 64)}

	// A holds the VIPs and N talks to them: N caches them at A's MAC.
	for _, p := range prefixes {
		aIf.AddAddr(p)
	}
	for _, v := range vips {
		require.NoError(t, n.Ping(v, 5*time.Second))
		require.Equal(t, aMAC.String(), neighMAC(t, n, nIf.Name(), v), "N's entry for %v before failover", v)
	}
	// A fails: it loses the VIPs without telling anyone.
	for _, p := range prefixes {
		aIf.DelAddr(p)
	}

	capture := n.Capture(nIf.Name(), "arp or icmp6")

	// B takes over with the defaults: 5 rounds, request form, NA from the
	// target address. The socket is opened inside B and used from here.
	var s *garp.Sender
	require.NoError(t, b.Do(func() error {
		var err error
		s, err = garp.NewSenderByName(bIf.Name(), nil)
		return err
	}))
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Burst(ctx, vips...))
	for _, v := range vips {
		waitNeighMAC(t, n, nIf.Name(), v, bMAC)
	}
	flipped := time.Now()

	// Then a virtual MAC, with the reply form and B's own address as the
	// IPv6 source, through NewSender with the interface.
	ifi := bIf.Interface()
	var s2 *garp.Sender
	opts := &garp.Options{
		Count:        3,
		Interval:     20 * time.Millisecond,
		ARPOperation: garp.OperationReply,
		SourceMAC:    vmac,
		IPv6Source:   netip.MustParseAddr("2001:db8::3"),
	}
	require.NoError(t, b.Do(func() error {
		var err error
		s2, err = garp.NewSender(ifi, opts)
		return err
	}))
	t.Cleanup(func() { _ = s2.Close() })
	require.NoError(t, s2.Burst(ctx, vips...))
	for _, v := range vips {
		waitNeighMAC(t, n, nIf.Name(), v, vmac)
	}
	// Well inside the 1 s locktime since B's update: only a frame Linux
	// takes as gratuitous (THA = SHA for a reply) could move the entry.
	t.Logf("second flip %v after the first", time.Since(flipped).Round(time.Millisecond))
	require.NoError(t, s.Close())
	require.NoError(t, s2.Close())

	pcap := capture.Stop()
	checkCaptureOwnDecode(t, pcap, bMAC, vmac)
	checkCaptureTshark(t, pcap, bMAC, vmac)
}

// neighMAC returns the link-layer address of N's neighbour entry for v, or
// "" if it has none.
func neighMAC(t *testing.T, h *netlab.Host, dev string, v netip.Addr) string {
	t.Helper()
	out := h.MustRun("ip", "neigh", "show", "to", v.String(), "dev", dev)
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

func waitNeighMAC(t *testing.T, h *netlab.Host, dev string, v netip.Addr, want net.HardwareAddr) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := neighMAC(t, h, dev, v)
		if got == want.String() {
			t.Logf("N: %s", strings.TrimSpace(h.MustRun("ip", "neigh", "show", "to", v.String(), "dev", dev)))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("N's neighbour entry for %v is at %q, want %v", v, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkCaptureOwnDecode reads the capture with pcapgo and decodes B's
// frames with this package.
func checkCaptureOwnDecode(t *testing.T, pcap string, bMAC, vmac net.HardwareAddr) {
	t.Helper()
	f, err := os.Open(pcap)
	require.NoError(t, err)
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	require.NoError(t, err)
	counts := map[string]int{}
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		var fr garp.Frame
		if fr.UnmarshalBinary(data) != nil {
			continue // N's own neighbour discovery, say
		}
		src := fr.Source.String()
		if src != bMAC.String() && src != vmac.String() {
			continue
		}
		switch fr.EtherType {
		case ethernet.EtherTypeARP:
			want := garp.GratuitousARP(garp.OperationRequest, bMAC, vip4)
			if src == vmac.String() {
				want = garp.GratuitousARP(garp.OperationReply, vmac, vip4)
			}
			assert.Equal(t, want, fr.ARP)
			counts["arp "+src]++
		case ethernet.EtherTypeIPv6:
			want := garp.UnsolicitedNA(bMAC, netip.Addr{}, vip6)
			if src == vmac.String() {
				want = garp.UnsolicitedNA(vmac, netip.MustParseAddr("2001:db8::3"), vip6)
			}
			assert.Equal(t, want, fr.NA)
			counts["na "+src]++
		}
	}
	assert.Equal(t, map[string]int{
		"arp " + bMAC.String(): garp.DefaultCount, "na " + bMAC.String(): garp.DefaultCount,
		"arp " + vmac.String(): 3, "na " + vmac.String(): 3,
	}, counts)
}

// checkCaptureTshark has tshark decode the capture: the ARPs must be
// gratuitous, the NAs' checksums good, flags as specified, hop limit 255.
func checkCaptureTshark(t *testing.T, pcap string, bMAC, vmac net.HardwareAddr) {
	t.Helper()
	filter := "(eth.src == " + bMAC.String() + " || eth.src == " + vmac.String() + ") && (arp || icmpv6.type == 136)"
	rows := tshark(t, pcap, filter)
	var arps, nas int
	for _, r := range rows {
		if r["arp.opcode"] != "" {
			arps++
			assert.Equal(t, "1", r["arp.isgratuitous"], "tshark: ARP not gratuitous: %v", r)
			assert.Equal(t, "ff:ff:ff:ff:ff:ff", r["eth.dst"])
			assert.Equal(t, r["eth.src"], r["arp.src.hw_mac"])
			assert.Equal(t, vip4.String(), r["arp.src.proto_ipv4"])
			assert.Equal(t, vip4.String(), r["arp.dst.proto_ipv4"])
			continue
		}
		nas++
		assert.Equal(t, "1", r["icmpv6.checksum.status"], "tshark: NA checksum not good: %v", r)
		assert.Equal(t, "255", r["ipv6.hlim"])
		assert.Equal(t, "ff02::1", r["ipv6.dst"])
		assert.Equal(t, "33:33:00:00:00:01", r["eth.dst"])
		assert.Equal(t, "0", r["icmpv6.nd.na.flag.r"])
		assert.Equal(t, "0", r["icmpv6.nd.na.flag.s"])
		assert.Equal(t, "1", r["icmpv6.nd.na.flag.o"])
		assert.Equal(t, vip6.String(), r["icmpv6.nd.na.target_address"])
		assert.Equal(t, r["eth.src"], r["icmpv6.opt.linkaddr"])
	}
	assert.Equal(t, garp.DefaultCount+3, arps, "gratuitous ARPs tshark saw")
	assert.Equal(t, garp.DefaultCount+3, nas, "NAs tshark saw")
	if t.Failed() {
		dst := filepath.Join(os.TempDir(), "garp-lan.pcap")
		if b, err := os.ReadFile(pcap); err == nil && os.WriteFile(dst, b, 0o644) == nil {
			t.Logf("capture kept at %s", dst)
		}
	}
}
