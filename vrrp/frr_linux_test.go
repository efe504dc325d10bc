package vrrp_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

// FRR's vrrpd (FRR 8.4, Debian's frr package) is vipkit's second real
// peer, beside keepalived. It is a separate implementation of RFC 3768 and
// RFC 5798 with habits of its own: it needs the system prepared for it (a
// macvlan interface per VRID and family, made outside FRR), works through
// zebra, which owns the interfaces, and speaks multicast only.
const (
	// frrDaemons is where Debian's frr package installs its daemons
	// (--sbindir=/usr/lib/frr), outside PATH.
	frrDaemons = "/usr/lib/frr"
	// frrVTYGroup is the group FRR was built to give its vty sockets
	// (Debian: --enable-vty-group=frrvty). A daemon whose user is not in
	// it refuses to start (lib/privs.c, zprivs_init), root included; named
	// as the daemon's group (-g) it joins the user's groups, and root
	// stays root: FRR changes neither uid nor groups when the uid is
	// unchanged.
	frrVTYGroup = "frrvty"
	// frrTmpDir is FRR's TMPBASEDIR, fixed when it is built: each daemon
	// makes a directory NAME.PID there for its log buffers (lib/zlog.c,
	// zlog_init) and leaves it behind when it ends.
	frrTmpDir = "/var/tmp/frr"
)

// lookPackage returns the paths of programs of package pkg that a test
// needs, each a name to look up in PATH or a path. Under CI they must be
// there; elsewhere the test is skipped without them, as lookTool does.
func lookPackage(t *testing.T, pkg string, progs ...string) []string {
	t.Helper()
	paths := make([]string, len(progs))
	for i, p := range progs {
		path, err := exec.LookPath(p)
		if err != nil && os.Getenv("CI") == "" {
			t.Skipf("%s is not installed (apt-get install %s): %v", p, pkg, err)
		}
		require.NoError(t, err, "%s of package %s is needed", p, pkg)
		paths[i] = path
	}
	return paths
}

// frrBins are the paths of the FRR programs the tests run.
type frrBins struct {
	zebra, vrrpd, vtysh string
}

// frrCase is a row of TestFRRInterop: a way of speaking VRRP that vipkit
// and FRR share. FRR has no unicast VRRP and no VRRPv2 authentication
// (doc/user/vrrp.rst), so the version and the family are all that vary.
type frrCase struct {
	interop
	vmac bool // vipkit speaks from its virtual MAC too (Config.VirtualMAC)
}

// config returns the configuration of either side of the row at priority
// prio: vipkit's as it is, FRR's translated by vrrpdConf. It is the one
// place a row's settings become a router's.
//
// vipkit accepts only the VRRPv3-over-IPv4 checksum with the IPv4
// pseudo-header, which it sends by default: the form FRR sends, and the
// only one it accepts (vrrpd/vrrp_packet.c, vrrp_pkt_checksum and
// vrrp_pkt_parse_datagram), RFC 5798 §5.2.8 read as keepalived 2.2 reads
// it, not RFC 9568's message-only form. Version 2 and IPv6 have one form.
func (c frrCase) config(prio uint8) vrrp.Config {
	cfg := c.routerConfig(prio, 0, 0)
	cfg.AcceptChecksums = vrrp.ChecksumPseudoHeader
	cfg.VirtualMAC = c.vmac
	return cfg
}

// vrrpdConf returns a vrrpd.conf in which vrrpd speaks as cfg does on
// interface iface. FRR's advertisement-interval is in milliseconds, and
// the router starts with its first address line, so the addresses come
// last (doc/user/vrrp.rst, "Interface Configuration"). In version 2 vrrpd
// sends whole seconds, the interval's centiseconds divided by 100 and at
// least 1 (vrrpd/vrrp_packet.c, vrrp_pkt_adver_build), and drops another
// interval than its own (vrrpd/vrrp.c, vrrp_recv_advertisement; RFC 3768
// §7.1): 1000 ms is 1 s in both versions. The debug lines log vrrpd's
// decisions and every packet it finds invalid.
func vrrpdConf(iface string, cfg vrrp.Config) string {
	var b strings.Builder
	b.WriteString("debug vrrp protocol\ndebug vrrp packets\n")
	fmt.Fprintf(&b, "interface %s\n", iface)
	fmt.Fprintf(&b, " vrrp %d version %d\n", cfg.VRID, cfg.Version)
	fmt.Fprintf(&b, " vrrp %d priority %d\n", cfg.VRID, cfg.Priority)
	fmt.Fprintf(&b, " vrrp %d advertisement-interval %d\n", cfg.VRID, cfg.AdvertInterval.Milliseconds())
	for _, a := range cfg.VirtualAddresses {
		kind := "ip"
		if a.Is6() {
			kind = "ipv6"
		}
		fmt.Fprintf(&b, " vrrp %d %s %v\n", cfg.VRID, kind, a)
	}
	return b.String()
}

// skewTime is Skew_Time at an advertisement interval of 1 s:
// (256-Priority)/256 s in both versions (RFC 3768 §6.1, RFC 5798 §6.1).
func skewTime(prio uint8) time.Duration { return time.Duration(256-int(prio)) * time.Second / 256 }

// masterDownInterval is Master_Down_Interval at 1 s: three intervals and
// Skew_Time (RFC 3768 §6.1, RFC 5798 §6.1).
func masterDownInterval(prio uint8) time.Duration { return 3*time.Second + skewTime(prio) }

// frr is FRR in a lab host: zebra, running from newFRR to the end of the
// test, and vrrpd, started and stopped by the test. Their sockets, pid
// files and configuration are in a directory of their own.
type frr struct {
	host    *netlab.Host
	bins    frrBins
	iface   string // the base interface the virtual router is configured on
	macvlan string // the interface vrrpd finds by its MAC address
	dir     string
	ipv6    bool
	vrid    uint8
	// transition matches vrrpd's log line for a state change of the
	// virtual router of the row's family ("[VRID 51] [IPv4] Backup ->
	// Master", vrrpd/vrrp.c, vrrp_change_state).
	transition *regexp.Regexp
	vrrpd      *netlab.Process
}

// newFRR prepares n's host for vrrpd speaking as c and starts zebra
// there.
func newFRR(t *testing.T, bins frrBins, n *lanNode, c frrCase) *frr {
	t.Helper()
	cfg := c.config(0)
	family := "IPv4"
	if c.ipv6 {
		family = "IPv6"
	}
	f := &frr{host: n.host, bins: bins, iface: n.iface.Name(), dir: t.TempDir(), ipv6: c.ipv6, vrid: cfg.VRID,
		transition: regexp.MustCompile(fmt.Sprintf(`\[VRID %d\] \[%s\] \w+ -> (\w+)`, cfg.VRID, family))}
	f.addMacvlan(c.vip())

	conf := filepath.Join(f.dir, "zebra.conf")
	require.NoError(t, os.WriteFile(conf, nil, 0o600))
	zebra := f.daemon(t, bins.zebra, conf)
	zserv := f.zserv()
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(zserv); err != nil; _, err = os.Stat(zserv) {
		select {
		case <-zebra.Done():
			t.Fatalf("zebra exited: %v", zebra.Wait())
		case <-time.After(10 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "zebra did not open %s", zserv)
	}
	return f
}

// addMacvlan makes the interface FRR's vrrpd needs for the virtual router
// and vip's family, as doc/user/vrrp.rst ("System Configuration") says: a
// macvlan on the base interface in bridge mode (so that advertisements
// reach the base interface while the macvlan is down), with the virtual
// router MAC address 00-00-5E-00-01-{VRID} for IPv4 or 00-00-5E-00-02-{VRID}
// for IPv6 (RFC 5798 §7.3), by which vrrpd finds it (vrrpd/vrrp.c,
// vrrp_attach_interface), a random link-local address (vrrpd sends IPv6
// advertisements from it, and one derived from the shared MAC would be
// every router's), and the virtual address, which the docs want there and
// not on the base interface (vrrpd does not check): vrrpd adds and removes
// no address, it sets the macvlan protodown in BACKUP, and off in MASTER,
// through zebra (Linux 5.1 or later). The docs' one-line `ip link add ...
// addrgenmode random type macvlan` is refused ("Address family not
// supported by protocol"), so addrgenmode is set after the link is made.
// The lab turned duplicate address detection off, so the link-local
// address is usable at once.
func (f *frr) addMacvlan(vip netip.Prefix) {
	family, kind := 4, 1
	if f.ipv6 {
		family, kind = 6, 2
	}
	f.macvlan = fmt.Sprintf("vrrp%d-%d", family, f.vrid)
	f.host.MustRun("ip", "link", "add", f.macvlan, "link", f.iface, "type", "macvlan", "mode", "bridge")
	f.host.MustRun("ip", "link", "set", "dev", f.macvlan, "address", fmt.Sprintf("00:00:5e:00:%02x:%02x", kind, f.vrid))
	f.host.MustRun("ip", "link", "set", "dev", f.macvlan, "addrgenmode", "random")
	f.host.MustRun("ip", "addr", "add", vip.String(), "dev", f.macvlan)
	f.host.MustRun("ip", "link", "set", "dev", f.macvlan, "up")
}

// protodown reports whether the macvlan is protodown.
func (f *frr) protodown() bool {
	return strings.Contains(f.host.MustRun("ip", "-d", "link", "show", "dev", f.macvlan), "protodown on")
}

// zserv returns the path of zebra's socket for its clients.
func (f *frr) zserv() string { return filepath.Join(f.dir, "zserv.api") }

// daemon starts FRR daemon bin in the host, in the foreground, with
// configuration file conf and paths of its own in f.dir (lib/libfrr.c):
// -i its pid file, -z zebra's socket (zebra's to listen on, a client's to
// connect to), --vty_socket the directory of its vty socket (NAME.vty,
// which vtysh finds there), -P 0 no TCP vty, and its log on standard
// output. It runs as root in FRR's vty group (see frrVTYGroup). When the
// test ends it is stopped, its output logged if the test failed, and its
// directory in frrTmpDir removed.
func (f *frr) daemon(t *testing.T, bin, conf string) *netlab.Process {
	t.Helper()
	name := filepath.Base(bin)
	p := f.host.Start(bin, "-u", "root", "-g", frrVTYGroup, "-f", conf, "-i", filepath.Join(f.dir, name+".pid"),
		"-z", f.zserv(), "--vty_socket", f.dir, "-P", "0", "--log", "stdout", "--log-level", "debug")
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default:
			if err := p.Stop(); err != nil {
				t.Errorf("stopping %s: %v", name, err)
			}
		}
		if t.Failed() {
			t.Logf("%v said:\n%s", p, p.Output())
		}
		if err := os.RemoveAll(filepath.Join(frrTmpDir, fmt.Sprintf("%s.%d", name, p.PID()))); err != nil {
			t.Errorf("removing %s's log buffers: %v", name, err)
		}
	})
	return p
}

// start starts vrrpd speaking as cfg and waits until its virtual router
// has started, in BACKUP, where FRR always starts below priority 255
// (doc/user/vrrp.rst; vrrpd/vrrp.c, vrrp_startup).
func (f *frr) start(t *testing.T, cfg vrrp.Config) {
	t.Helper()
	conf := filepath.Join(f.dir, "vrrpd.conf")
	require.NoError(t, os.WriteFile(conf, []byte(vrrpdConf(f.iface, cfg)), 0o600))
	f.vrrpd = f.daemon(t, f.bins.vrrpd, conf)
	f.waitState(t, "Backup", 10*time.Second)
}

// stop stops vrrpd as its service does, with SIGTERM: it shuts its
// virtual routers down, a master sending priority 0 (vrrpd/vrrp_main.c,
// sigint; vrrpd/vrrp.c, vrrp_fini and vrrp_shutdown), and exits.
func (f *frr) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, f.vrrpd.Signal(syscall.SIGTERM))
	require.NoError(t, f.vrrpd.Wait(), "vrrpd did not exit cleanly")
}

// kill ends vrrpd with SIGKILL: it says nothing more.
func (f *frr) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, f.vrrpd.Signal(syscall.SIGKILL))
	var exit *exec.ExitError
	require.ErrorAs(t, f.vrrpd.Wait(), &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
}

// state returns the state vrrpd last said its virtual router entered
// (Initialize, Backup, Master), or "".
func (f *frr) state() string {
	m := f.transition.FindAllStringSubmatch(f.vrrpd.Output(), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// waitState waits for vrrpd to say its virtual router entered state.
func (f *frr) waitState(t *testing.T, state string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for f.state() != state {
		select {
		case <-f.vrrpd.Done():
			t.Fatalf("vrrpd exited in %q, waiting for %q: %v", f.state(), state, f.vrrpd.Wait())
		case <-time.After(5 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "vrrpd is %q after %v, want %q", f.state(), within, state)
	}
}

// frrRouter is what `show vrrp json` says of the virtual router of one
// family (vrrpd/vrrp_vty.c, vrrp_build_json). Times are in milliseconds.
type frrRouter struct {
	Status             string `json:"status"`
	PrimaryAddress     string `json:"primaryAddress"` // the source of its advertisements
	SkewTime           int    `json:"skewTime"`
	MasterDownInterval int    `json:"masterDownInterval"`
	Stats              struct {
		AdverRx int `json:"adverRx"` // valid advertisements of the VRID received
	} `json:"stats"`
}

// show asks vrrpd, with vtysh in the host, about the virtual router of
// the row's family.
func (f *frr) show(t *testing.T) frrRouter {
	t.Helper()
	out := f.host.MustRun(f.bins.vtysh, "--vty_socket", f.dir, "-d", "vrrpd", "-c", fmt.Sprintf("show vrrp %d json", f.vrid))
	var vrs []struct {
		V4 frrRouter `json:"v4"`
		V6 frrRouter `json:"v6"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &vrs), out)
	require.Len(t, vrs, 1, out)
	if f.ipv6 {
		return vrs[0].V6
	}
	return vrs[0].V4
}

// source returns the address vrrpd, master, sends its advertisements
// from.
func (f *frr) source(t *testing.T) netip.Addr {
	t.Helper()
	r := f.show(t)
	a, err := netip.ParseAddr(r.PrimaryAddress)
	require.NoError(t, err, "vrrpd in %s has no source address", r.Status)
	return a
}

// waitHeard waits until vrrpd has taken an advertisement of the other
// router: it counts only those that pass all its checks (vrrpd/vrrp.c,
// vrrp_recv_advertisement).
func (f *frr) waitHeard(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for f.show(t).Stats.AdverRx == 0 {
		require.True(t, time.Now().Before(deadline), "vrrpd took no advertisement within %v", within)
		time.Sleep(50 * time.Millisecond)
	}
}

// frrExactlyOneMaster samples for a while that exactly one of vrrpd and
// vipkit is master, and that it is vrrpd when wantFRR.
func frrExactlyOneMaster(t *testing.T, f *frr, r *vrrp.Router, wantFRR bool, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		fMaster, rMaster := f.state() == "Master", r.State() == vrrp.Master
		require.True(t, fMaster != rMaster, "FRR %s, vipkit %v: not exactly one master", f.state(), r.State())
		require.Equal(t, wantFRR, fMaster, "FRR %s, vipkit %v", f.state(), r.State())
	}
}

// assertClean asserts that neither side found fault with a packet of the
// other: vipkit counted none bad (checksum, version, TTL, length,
// authentication, interval, address list, ...) and vrrpd logged none
// invalid (vrrpd/vrrp.c, vrrp_read and vrrp_recv_advertisement).
func assertClean(t *testing.T, f *frr, r *vrrp.Router) {
	t.Helper()
	st := r.Stats()
	assert.Zero(t, badTotal(st), "vipkit found bad packets: %+v", st)
	assert.NotContains(t, f.vrrpd.Output(), "Datagram invalid", "vrrpd found invalid packets")
}

// cutVRRP drops VRRP (IP protocol 112, IPv4 and IPv6) coming into and
// going out of host until the returned heal is called, so that the
// routers on either side do not hear each other.
func cutVRRP(t *testing.T, host *netlab.Host) (heal func()) {
	t.Helper()
	nft := lookPackage(t, "nftables", "nft")[0]
	rules := filepath.Join(t.TempDir(), "cut.nft")
	require.NoError(t, os.WriteFile(rules, []byte(`table inet frr_cut {
	chain input { type filter hook input priority 0; meta l4proto 112 drop; }
	chain output { type filter hook output priority 0; meta l4proto 112 drop; }
}
`), 0o600))
	host.MustRun(nft, "-f", rules)
	return func() { host.MustRun(nft, "delete", "table", "inet", "frr_cut") }
}

// TestFRRInterop runs vipkit beside FRR 8.4's vrrpd on a LAN, in every
// mode both speak: each as master and as backup, handing over with
// priority 0 both ways, vipkit taking over from a vrrpd killed, and, at
// equal priority, the higher address winning.
func TestFRRInterop(t *testing.T) {
	paths := lookPackage(t, "frr", filepath.Join(frrDaemons, "zebra"), filepath.Join(frrDaemons, "vrrpd"), "vtysh")
	bins := frrBins{zebra: paths[0], vrrpd: paths[1], vtysh: paths[2]}
	cases := []frrCase{
		{interop: interop{name: "v3 IPv4", version: vrrp.Version3}},
		{interop: interop{name: "v3 IPv6", version: vrrp.Version3, ipv6: true}},
		{interop: interop{name: "v2 IPv4", version: vrrp.Version2}},
		{interop: interop{name: "v3 IPv4 vipkit's virtual MAC", version: vrrp.Version3}, vmac: true},
		{interop: interop{name: "v3 IPv6 vipkit's virtual MAC", version: vrrp.Version3, ipv6: true}, vmac: true},
		{interop: interop{name: "v2 IPv4 vipkit's virtual MAC", version: vrrp.Version2}, vmac: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testFRRRoles(t, bins, c)
		})
	}
	// At equal priority the addresses decide, IPv4 only: over IPv6 vrrpd
	// sends from the random link-local address of its macvlan.
	for _, frrHigher := range []bool{true, false} {
		name := map[bool]string{true: "FRR's address higher", false: "vipkit's address higher"}[frrHigher]
		t.Run(cases[0].name+" equal priority, "+name, func(t *testing.T) {
			t.Parallel()
			testFRREqualPriority(t, bins, cases[0], frrHigher)
		})
	}
}

// testFRRRoles runs vrrpd on host 1 and vipkit on host 2 through every
// role: vrrpd preempting vipkit, each handing over to the other with
// priority 0, and vipkit taking over from a vrrpd killed.
func testFRRRoles(t *testing.T, bins frrBins, c frrCase) {
	nodes := lan(t, 2)
	fNode, vk := nodes[0], nodes[1]
	f := newFRR(t, bins, fNode, c)

	// vipkit starts first and is master alone; vrrpd, of higher priority,
	// starts in BACKUP, discards vipkit's lower priority and preempts it
	// when its Master_Down_Timer fires (RFC 5798 §6.4.2).
	vk.start(t, c.config(100))
	waitMaster(t, vk, time.Time{})
	if c.vmac {
		// vipkit's own macvlan, of the MAC of vrrpd's.
		show := vk.host.MustRun("ip", "-d", "link", "show", vk.router.AddressInterface())
		assert.Contains(t, show, "link/ether "+strings.TrimSpace(fNode.host.MustRun("cat", "/sys/class/net/"+f.macvlan+"/address")))
	}
	f.start(t, c.config(200))
	f.waitState(t, "Master", masterDownInterval(200)+3*time.Second)
	e := nextTransition(t, vk.events)
	assert.Equal(t, vrrp.Transition{From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonHigherPriority}, transitionOf(e))
	frrExactlyOneMaster(t, f, vk.router, true, 2500*time.Millisecond)
	assert.Positive(t, f.show(t).Stats.AdverRx, "vrrpd took none of vipkit's advertisements")
	master := vk.router.LastMaster()
	assert.Equal(t, f.source(t), master.Addr, "vipkit's master is not vrrpd's source")
	if c.ipv6 {
		// RFC 5798 §5.1.2.1; vrrpd sends from its macvlan's link-local
		// address, not the base interface's.
		assert.True(t, master.Addr.IsLinkLocalUnicast(), "vrrpd's source %v", master.Addr)
		assert.NotEqual(t, linkLocal(t, fNode.iface), master.Addr)
	} else {
		// vrrpd sends from the base interface's primary address.
		assert.Equal(t, c.address(1), master.Addr)
	}
	assert.Equal(t, uint8(200), master.Priority)
	assert.Equal(t, time.Second, master.Interval)
	assert.False(t, f.protodown(), "vrrpd's macvlan is protodown in MASTER")
	assertClean(t, f, vk.router)

	// vrrpd stops: priority 0, and vipkit takes over within its Skew_Time
	// (RFC 5798 §6.4.2), far from the Master_Down_Interval a silent master
	// costs.
	stopped := time.Now()
	f.stop(t)
	e = waitMaster(t, vk, stopped)
	assert.Equal(t, vrrp.ReasonMasterStepDown, e.Reason)
	took := e.Time.Sub(stopped)
	t.Logf("vipkit took over %v after vrrpd stopped (Skew_Time %v)", took.Round(time.Millisecond), skewTime(100))
	assert.Less(t, took, skewTime(100)+time.Second, "handover took a Master_Down_Interval")
	assertClean(t, f, vk.router)

	// vrrpd of lower priority comes back as backup and takes vipkit's
	// advertisements; vipkit, stopped, hands over to it with priority 0.
	f.start(t, c.config(50))
	f.waitHeard(t, 3*time.Second)
	frrExactlyOneMaster(t, f, vk.router, false, 2500*time.Millisecond)
	fr := f.show(t)
	assert.Equal(t, skewTime(50).Truncate(10*time.Millisecond), time.Duration(fr.SkewTime)*time.Millisecond, "vrrpd's Skew_Time")
	assert.Equal(t, masterDownInterval(50).Truncate(10*time.Millisecond), time.Duration(fr.MasterDownInterval)*time.Millisecond,
		"vrrpd's Master_Down_Interval")
	assert.True(t, f.protodown(), "vrrpd's macvlan is not protodown in BACKUP")
	assertClean(t, f, vk.router)
	stopped = time.Now()
	vk.stop()
	f.waitState(t, "Master", skewTime(50)+time.Second)
	t.Logf("vrrpd took over %v after vipkit stopped (its Skew_Time %v)", time.Since(stopped).Round(time.Millisecond),
		time.Duration(fr.SkewTime)*time.Millisecond)

	// vipkit of lower priority comes back as backup to vrrpd; vrrpd is
	// killed and, hearing nothing more, vipkit takes over once
	// Master_Down_Interval has passed since the last advertisement
	// (RFC 5798 §6.4.2): never sooner, so never sooner after the kill than
	// that less the interval the kill may come after the last one (and
	// slack for a late advertisement).
	vk.start(t, c.config(20))
	require.Eventually(t, func() bool { return vk.router.LastMaster().Addr.IsValid() }, 3*time.Second, 5*time.Millisecond,
		"vipkit hears no master")
	require.Equal(t, f.source(t), vk.router.LastMaster().Addr, "vipkit's master is not vrrpd's source")
	require.Equal(t, vrrp.Backup, vk.router.State())
	assertClean(t, f, vk.router)
	killed := time.Now()
	f.kill(t)
	e = waitMaster(t, vk, killed)
	assert.Equal(t, vrrp.ReasonMasterDown, e.Reason)
	mdi := masterDownInterval(20)
	sinceLast, sinceKill := e.Time.Sub(vk.router.LastMaster().Time), e.Time.Sub(killed)
	t.Logf("vipkit took over %v after vrrpd was killed, %v after its last advertisement (Master_Down_Interval %v)",
		sinceKill.Round(time.Millisecond), sinceLast.Round(time.Millisecond), mdi)
	assert.GreaterOrEqual(t, sinceLast, mdi, "took over before Master_Down_Interval")
	assert.Less(t, sinceLast, mdi+time.Second)
	assert.GreaterOrEqual(t, sinceKill, mdi-time.Second-250*time.Millisecond, "took over sooner than a silent master allows")
	assert.Less(t, sinceKill, mdi+time.Second)
	assertClean(t, f, vk.router)
}

// testFRREqualPriority runs vrrpd and vipkit at the same priority, each
// master while VRRP between them is cut, then heals the cut: the one with
// the lower primary address hears an advertisement of equal priority from
// a higher address and becomes backup, the other stays master (RFC 5798
// §6.4.3). frrHigher puts vrrpd on host 2 (192.0.2.2), vipkit on host 1;
// else the other way round.
func testFRREqualPriority(t *testing.T, bins frrBins, c frrCase, frrHigher bool) {
	nodes := lan(t, 2)
	fNode, vk := nodes[0], nodes[1]
	if frrHigher {
		fNode, vk = nodes[1], nodes[0]
	}
	f := newFRR(t, bins, fNode, c)
	heal := cutVRRP(t, vk.host)
	f.start(t, c.config(100))
	vk.start(t, c.config(100))
	waitMaster(t, vk, time.Time{})
	f.waitState(t, "Master", masterDownInterval(100)+3*time.Second)
	require.Equal(t, vrrp.Master, vk.router.State(), "both are master while the cut lasts")

	heal()
	if frrHigher {
		e := nextTransition(t, vk.events)
		assert.Equal(t, vrrp.Transition{From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonHigherPriority}, transitionOf(e))
	} else {
		f.waitState(t, "Backup", 3*time.Second)
		assert.Contains(t, f.vrrpd.Output(),
			fmt.Sprintf("Received advertisement from %v w/ priority 100; switching to Backup", vk.router.Source()))
	}
	frrExactlyOneMaster(t, f, vk.router, frrHigher, 2500*time.Millisecond)
	assertClean(t, f, vk.router)
}
