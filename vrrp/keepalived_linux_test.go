package vrrp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/keepalived"
	"github.com/vipkit/vipkit/vrrp"
)

// interop is one way of speaking VRRP that vipkit and keepalived share.
type interop struct {
	name    string
	version vrrp.Version
	ipv6    bool
	unicast bool
	auth    string
}

// address returns host n's address (1-based) of the interop's family.
func (c interop) address(n int) netip.Addr {
	if c.ipv6 {
		return netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", n))
	}
	return netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", n))
}

func (c interop) vip() netip.Prefix {
	if c.ipv6 {
		return netip.MustParsePrefix("2001:db8::100/64")
	}
	return netip.MustParsePrefix("192.0.2.100/24")
}

// keepalivedConf returns a keepalived.conf for one vrrp_instance on eth0
// of host self, with host peer as its unicast peer when unicast.
func (c interop) keepalivedConf(prio uint8, self, peer int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id vk%d\n  vrrp_version %d\n}\n", self, c.version)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority %d\n  advert_int 1\n", prio)
	if c.auth != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", c.auth)
	}
	if c.unicast {
		fmt.Fprintf(&b, "  unicast_src_ip %v\n  unicast_peer {\n    %v\n  }\n", c.address(self), c.address(peer))
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %v\n  }\n}\n", c.vip())
	return b.String()
}

func (c interop) routerConfig(prio uint8, self, peer int) vrrp.Config {
	cfg := vrrp.Config{VRID: 51, Version: c.version, Priority: prio, AdvertInterval: time.Second,
		VirtualAddresses: []netip.Addr{c.vip().Addr()}, AuthPass: c.auth}
	if c.unicast {
		cfg.UnicastSource, cfg.UnicastPeers = c.address(self), []netip.Addr{c.address(peer)}
	}
	return cfg
}

// exactlyOneMaster samples for a while that exactly one of the two is
// master and the other backup.
func exactlyOneMaster(t *testing.T, k *keepalived.Process, r *vrrp.Router, wantKeepalived bool, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		kMaster, rMaster := k.State() == "MASTER", r.State() == vrrp.Master
		require.True(t, kMaster != rMaster, "keepalived %s, vipkit %v: not exactly one master", k.State(), r.State())
		require.Equal(t, wantKeepalived, kMaster, "keepalived %s, vipkit %v", k.State(), r.State())
	}
}

// TestKeepalivedInterop runs vipkit beside keepalived 2.2 on a LAN, each
// as master and as backup, in every mode both speak.
func TestKeepalivedInterop(t *testing.T) {
	cases := []interop{
		{name: "v2 multicast auth", version: vrrp.Version2, auth: "1111"},
		{name: "v2 unicast auth", version: vrrp.Version2, auth: "1111", unicast: true}, // Tencent's HAVIP guide
		{name: "v3 IPv4 multicast", version: vrrp.Version3},
		{name: "v3 IPv4 unicast", version: vrrp.Version3, unicast: true},
		{name: "v3 IPv6 multicast", version: vrrp.Version3, ipv6: true},
		{name: "v3 IPv6 unicast", version: vrrp.Version3, ipv6: true, unicast: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nodes := lan(t, 2)
			kHost, vk := nodes[0], nodes[1] // keepalived on host 1, vipkit on host 2
			// skew is Skew_Time of a priority-50 backup at 1 s, the most a
			// priority-0 handover may take; a timeout takes 3 s more.
			const skew = (256 - 50) * time.Second / 256

			// vipkit starts first and is master alone; keepalived, of
			// higher priority, preempts it.
			vk.start(t, c.routerConfig(100, 2, 1))
			waitMaster(t, vk, time.Time{})
			k := keepalived.Start(t, kHost.host, c.keepalivedConf(200, 1, 2))
			k.WaitState(t, "MASTER", 6*time.Second)
			waitState(t, vk.router, vrrp.Backup, 2*time.Second)
			exactlyOneMaster(t, k, vk.router, true, 2500*time.Millisecond)
			if c.ipv6 && !c.unicast {
				// RFC 5798 §5.1.2.1: IPv6 multicast comes from the link-local address.
				assert.True(t, vk.router.LastMaster().Addr.IsLinkLocalUnicast(), "keepalived's source %v", vk.router.LastMaster().Addr)
			} else {
				assert.Equal(t, c.address(1), vk.router.LastMaster().Addr, "vipkit's master")
			}
			st := vk.router.Stats()
			assert.Zero(t, st.ChecksumErrors+st.AuthErrors+st.TTLErrors+st.LengthErrors+st.VersionErrors, "%+v", st)

			// keepalived stops: priority 0, and vipkit takes over within
			// Skew_Time.
			stopped := time.Now()
			require.NoError(t, k.Signal(syscall.SIGTERM))
			e := waitMaster(t, vk, stopped)
			assert.Equal(t, vrrp.ReasonMasterStepDown, e.Reason)
			assert.Less(t, e.Time.Sub(stopped), skew+500*time.Millisecond, "handover took a Master_Down_Interval")
			require.NoError(t, k.Wait())

			// keepalived of lower priority comes back as backup, and vipkit
			// hands over to it when stopped.
			k = keepalived.Start(t, kHost.host, c.keepalivedConf(50, 1, 2))
			k.WaitState(t, "BACKUP", 6*time.Second)
			exactlyOneMaster(t, k, vk.router, false, 2500*time.Millisecond)
			stopped = time.Now()
			vk.stop()
			k.WaitState(t, "MASTER", skew+500*time.Millisecond)
			t.Logf("keepalived took over %v after vipkit stopped (Skew_Time %v)", time.Since(stopped).Round(time.Millisecond), skew)
		})
	}
}

// keepalivedVIPs is a keepalived.conf of one VRRPv3 vrrp_instance on eth0
// with the virtual addresses vips, in that order, and the extra lines of
// the instance more.
func keepalivedVIPs(prio int, vips []string, more ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id vk1\n  vrrp_version 3\n}\n")
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority %d\n  advert_int 1\n", prio)
	for _, l := range more {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n")
	for _, v := range vips {
		fmt.Fprintf(&b, "    %s\n", v)
	}
	fmt.Fprintf(&b, "  }\n}\n")
	return b.String()
}

// TestKeepalivedAddressList: keepalived 2.2.7 advertises every virtual
// address and drops an advertisement whose set differs from its own; vipkit
// compares sets the same way. The same set in another order is no mismatch
// on either side, and one of the two is master. A different set is
// dropped on both sides, so both are master: the operator sees both hold
// the address, keepalived logging the count or the address it expected
// and vipkit counting AddressListErrors and logging what it discarded.
func TestKeepalivedAddressList(t *testing.T) {
	addr := netip.MustParseAddr
	cases := []struct {
		name      string
		keepalive []string
		vipkit    []netip.Addr
		same      bool
	}{
		{"same set in another order", []string{"192.0.2.100/24", "192.0.2.101/24"}, []netip.Addr{addr("192.0.2.101"), addr("192.0.2.100")}, true},
		{"one address fewer", []string{"192.0.2.100/24", "192.0.2.101/24"}, []netip.Addr{addr("192.0.2.100")}, false},
		{"another address", []string{"192.0.2.100/24", "192.0.2.101/24"}, []netip.Addr{addr("192.0.2.100"), addr("192.0.2.102")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nodes := lan(t, 2)
			kHost, vk := nodes[0], nodes[1]
			k := keepalived.Start(t, kHost.host, keepalivedVIPs(200, c.keepalive))
			vk.start(t, vrrp.Config{VRID: 51, Priority: 100, AdvertInterval: time.Second, VirtualAddresses: c.vipkit})
			if c.same {
				k.WaitState(t, "MASTER", 6*time.Second)
				waitState(t, vk.router, vrrp.Backup, time.Second)
				exactlyOneMaster(t, k, vk.router, true, 3*time.Second)
				st := vk.router.Stats()
				assert.Zero(t, st.AddressListErrors, "%+v", st)
				assert.NotZero(t, st.AdvertsReceived)
				assert.NotContains(t, k.Output(), "VIPs but received", "keepalived saw a mismatch")
				assert.NotContains(t, k.Output(), "not present in MASTER advert")
				return
			}
			// Both masters: each drops the other's advertisements.
			k.WaitState(t, "MASTER", 6*time.Second)
			waitState(t, vk.router, vrrp.Master, 6*time.Second)
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				require.Equal(t, "MASTER", k.State(), "keepalived")
				require.Equal(t, vrrp.Master, vk.router.State(), "vipkit")
			}
			// keepalived 2.2.7 as master restarts its Adver_Timer at every
			// message it receives, even one it drops: while vipkit
			// advertises every second it stays master, holding the address,
			// but advertises no more (a capture shows one advertisement).
			st := vk.router.Stats()
			assert.NotZero(t, st.AddressListErrors, "%+v", st)
			assert.Zero(t, st.AdvertsReceived, "a different set was taken")
			assert.Regexp(t, `\(VI_1\) (received an unexpected ip number count|ip address associated with VRID 51 not present in MASTER advert)`,
				k.Output(), "keepalived did not drop vipkit's advertisements")
		})
	}
}

// TestKeepalivedPreemptDelayAfterFault: the main use of preempt_delay, as
// keepalived has it. vipkit, of higher priority, leaves FAULT (a service
// came back) while keepalived is master: it follows keepalived for the
// delay, counted from the first advertisement it hears, then preempts.
func TestKeepalivedPreemptDelayAfterFault(t *testing.T) {
	nodes := lan(t, 2)
	kHost, vk := nodes[0], nodes[1]
	const delay = 3 * time.Second
	vk.start(t, vrrp.Config{VRID: 51, Priority: 200, AdvertInterval: time.Second, PreemptDelay: delay,
		VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}})
	require.NoError(t, vk.router.Report("service", 0, errors.New("down")))
	waitState(t, vk.router, vrrp.Fault, time.Second)
	k := keepalived.Start(t, kHost.host, keepalivedVIPs(100, []string{"192.0.2.100/24"}))
	k.WaitState(t, "MASTER", 6*time.Second)

	cleared := time.Now()
	require.NoError(t, vk.router.Report("service", 0, nil))
	waitState(t, vk.router, vrrp.Backup, time.Second)
	// Within the delay keepalived stays master and vipkit backup.
	exactlyOneMaster(t, k, vk.router, true, delay-500*time.Millisecond)
	e := waitMaster(t, vk, cleared)
	took := e.Time.Sub(cleared)
	assert.Equal(t, vrrp.ReasonPreempted, e.Reason)
	assert.GreaterOrEqual(t, took, delay, "preempted before the delay ended")
	assert.Less(t, took, delay+2*time.Second, "the delay starts at the first advertisement, about an interval after FAULT cleared")
	k.WaitState(t, "BACKUP", 2*time.Second)
	t.Logf("vipkit preempted keepalived %v after leaving FAULT (preempt_delay %v)", took, delay)
}
