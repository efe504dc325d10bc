package main

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

// vpcWorld is a simulated Tencent Cloud VPC: instances a (192.0.2.1) and b
// (192.0.2.2) run vrrpd with unicast peers, as Tencent's guide says (a VPC
// carries no multicast), and client (192.0.2.3) connects to the virtual
// address. 192.0.2.100 is an HAVIP, 192.0.2.101 an ordinary private IP
// that a holds.
type vpcWorld struct {
	cloud     *vpcsim.Cloud
	vsw       *vpcsim.VSwitch
	a, b, cli *node
}

var (
	vpcHaVip   = netip.MustParseAddr("192.0.2.100")
	vpcPrivate = netip.MustParseAddr("192.0.2.101")
)

func newVPC(t *testing.T) *vpcWorld {
	lab := netlab.New(t)
	cloud := vpcsim.NewCloud("AKIDvipkit", "vipkit-secret")
	t.Cleanup(cloud.Close)
	cloud.AddSubnet("subnet-1", netip.MustParsePrefix("192.0.2.0/24"))
	w := &vpcWorld{cloud: cloud}
	nodes := []**node{&w.a, &w.b, &w.cli}
	for i, name := range []string{"a", "b", "cli"} {
		addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		cloud.AddInstance("ins-"+name, "eni-"+name, nil, "subnet-1", addr)
		*nodes[i] = &node{host: lab.Host(name), addr: addr}
	}
	cloud.AddHaVip("havip-1", vpcHaVip, "subnet-1")
	cloud.AddPrivateIP("eni-a", vpcPrivate)
	w.vsw = vpcsim.NewVSwitch(lab, cloud)
	for i, n := range []*node{w.a, w.b, w.cli} {
		n.iface = w.vsw.AddHost(n.host, "ins-"+[]string{"a", "b", "cli"}[i])
	}
	return w
}

// start runs vrrpd on n for vip with the peer's address, plus args.
func (w *vpcWorld) start(bin string, n, peer *node, vip netip.Addr, prio string, args ...string) {
	args = append([]string{"-priority", prio, "-advert-int", "100ms", "-src", n.addr.String(), "-peer", peer.addr.String(),
		"-garp-master-delay", "0"}, args...)
	n.proc = n.host.Start(append([]string{bin, "-interface", n.iface.Name(), "-vrid", "51", "-vip", vip.String() + "/24"}, args...)...)
}

// cloudFlags point vrrpd's Tencent binder at the simulated VPC; keys come
// from the instance's CAM role.
func (w *vpcWorld) cloudFlags(mode, ins string) []string {
	return []string{"-tencentcloud", mode, "-tencentcloud-endpoint", w.vsw.APIURL()[len("http://"):],
		"-tencentcloud-scheme", "http", "-tencentcloud-metadata", w.vsw.MetadataURL(ins)}
}

// failover kills a (master) and returns the outage the client saw: from
// its last connection served by a to its first served by b, or 0 if b
// never served one within 5 s.
func (w *vpcWorld) failover(t *testing.T, vip netip.Addr) time.Duration {
	t.Helper()
	w.a.host.ServeName(8080)
	w.b.host.ServeName(8080)
	stop := make(chan struct{})
	results := w.cli.host.ConnectLoop(netip.AddrPortFrom(vip, 8080), stop)
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	require.NoError(t, w.a.proc.Signal(syscall.SIGKILL))
	w.b.waitState(t, "MASTER", 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h, _ := w.cloud.Holder(vip); h == "eni-b" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	var lastA, firstB time.Time
	for _, p := range <-results {
		if p.Server == w.a.host.Name() && p.At.Before(killed) {
			lastA = p.At
		}
		if p.Server == w.b.host.Name() && firstB.IsZero() {
			firstB = p.At
		}
	}
	require.False(t, lastA.IsZero(), "the client never reached the master")
	if firstB.IsZero() {
		return 0
	}
	return firstB.Sub(lastA)
}

// TestVPCHaVip: in HAVIP mode the SDN follows the new master's gratuitous
// ARP, and the binder sees the HAVIP bound to it.
func TestVPCHaVip(t *testing.T) {
	bin := netlab.Build(t)
	w := newVPC(t)
	w.start(bin, w.a, w.b, vpcHaVip, "150", w.cloudFlags("havip", "ins-a")...)
	w.a.waitState(t, "MASTER", 5*time.Second)
	require.Eventually(t, func() bool { h, _ := w.cloud.Holder(vpcHaVip); return h == "eni-a" }, 5*time.Second, 10*time.Millisecond,
		"the HAVIP did not follow the master's announcement:\n%s", w.a.proc.Output())
	w.start(bin, w.b, w.a, vpcHaVip, "100", w.cloudFlags("havip", "ins-b")...)
	w.b.waitState(t, "BACKUP", 5*time.Second)

	outage := w.failover(t, vpcHaVip)
	require.NotZero(t, outage, "the client never reached the new master:\n%s", w.b.proc.Output())
	h, _ := w.cloud.Holder(vpcHaVip)
	assert.Equal(t, "eni-b", h)
	assert.NotEmpty(t, w.cloud.CallsOf("DescribeHaVips"), "the binder did not verify the binding")
	assert.Empty(t, w.cloud.CallsOf("MigratePrivateIpAddress"), "HAVIP mode called the migration API")
	t.Logf("VPC HAVIP outage %v (Master_Down_Interval 360.9 ms)", outage.Round(time.Millisecond))
}

// TestVPCPrivateIPNeedsTheAPI shows why clouds have HAVIPs:
// announcing an ordinary private IP moves nothing; then the Tencent binder
// moves it through the API, through throttling and a running task, with a
// simulated API latency.
func TestVPCPrivateIPNeedsTheAPI(t *testing.T) {
	bin := netlab.Build(t)
	t.Run("announcing alone", func(t *testing.T) {
		w := newVPC(t)
		w.start(bin, w.a, w.b, vpcPrivate, "150")
		w.a.waitState(t, "MASTER", 5*time.Second)
		w.start(bin, w.b, w.a, vpcPrivate, "100")
		w.b.waitState(t, "BACKUP", 5*time.Second)
		assert.Zero(t, w.failover(t, vpcPrivate), "the private IP moved without the API")
		h, _ := w.cloud.Holder(vpcPrivate)
		assert.Equal(t, "eni-a", h)
		announced := false
		for _, a := range w.vsw.Announcements() {
			announced = announced || a.IP == vpcPrivate && a.Instance == "ins-b" && !a.Bound
		}
		assert.True(t, announced, "the new master did not announce, so this shows nothing")
	})
	t.Run("with the binder", func(t *testing.T) {
		w := newVPC(t)
		w.cloud.SetTaskLatency(300 * time.Millisecond)
		w.start(bin, w.a, w.b, vpcPrivate, "150", w.cloudFlags("private-ip", "ins-a")...)
		w.a.waitState(t, "MASTER", 5*time.Second)
		w.start(bin, w.b, w.a, vpcPrivate, "100", w.cloudFlags("private-ip", "ins-b")...)
		w.b.waitState(t, "BACKUP", 5*time.Second)
		w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: vpcsim.CodeRequestLimitExceeded, Times: 2})
		w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: vpcsim.CodeMutexTaskRunning, Times: 1})
		outage := w.failover(t, vpcPrivate)
		require.NotZero(t, outage, "the client never reached the new master:\n%s", w.b.proc.Output())
		h, _ := w.cloud.Holder(vpcPrivate)
		assert.Equal(t, "eni-b", h)
		var codes []string
		for _, c := range w.cloud.CallsOf("MigratePrivateIpAddress") {
			codes = append(codes, c.ErrCode)
		}
		assert.Equal(t, []string{vpcsim.CodeRequestLimitExceeded, vpcsim.CodeRequestLimitExceeded, vpcsim.CodeMutexTaskRunning, ""}, codes)
		t.Logf("VPC private-IP outage %v with a 300 ms migration task and three refused calls (Master_Down_Interval 360.9 ms)",
			outage.Round(time.Millisecond))
	})
	// A fatal error leaves a master that cannot hold the address: by
	// default it goes to FAULT, saying why, and does not call again before
	// the failure's hold (10 s) is over; with -hold-failure-weight it
	// lowers its priority instead and, alone, stays master.
	for _, c := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"fatal API error", nil, "FAULT"},
		{"fatal API error, -hold-failure-weight", []string{"-hold-failure-weight", "-50"}, "MASTER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newVPC(t)
			w.start(bin, w.a, w.b, vpcPrivate, "150", w.cloudFlags("private-ip", "ins-a")...)
			w.a.waitState(t, "MASTER", 5*time.Second)
			w.start(bin, w.b, w.a, vpcPrivate, "100", append(w.cloudFlags("private-ip", "ins-b"), c.flags...)...)
			w.b.waitState(t, "BACKUP", 5*time.Second)
			w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: vpcsim.CodeResourceNotFound, Times: -1})
			require.NoError(t, w.a.proc.Signal(syscall.SIGKILL))
			w.b.waitState(t, "MASTER", 5*time.Second)
			require.True(t, w.b.proc.WaitOutput(vpcsim.CodeResourceNotFound, 5*time.Second), "the fatal error was not reported:\n%s", w.b.proc.Output())
			require.True(t, w.b.proc.WaitOutput("cannot hold the virtual addresses", 5*time.Second), "%s", w.b.proc.Output())
			w.b.waitState(t, c.want, 5*time.Second)
			time.Sleep(300 * time.Millisecond)
			select {
			case <-w.b.proc.Done():
				t.Fatalf("vrrpd died of a cloud error:\n%s", w.b.proc.Output())
			default:
			}
			assert.Equal(t, c.want, w.b.state(t))
			assert.Len(t, w.cloud.CallsOf("MigratePrivateIpAddress"), 1, "a fatal error was retried")
			assert.NotContains(t, w.b.proc.Output(), "vipkit-secret")
		})
	}
}

// TestVPCVIPOutsideTheSubnet: with -tencentcloud a virtual address outside
// every subnet of the interface is a bad flag, named as the user typed it
// (an HAVIP or private IP belongs to one subnet); without, it is accepted,
// as keepalived does.
func TestVPCVIPOutsideTheSubnet(t *testing.T) {
	bin := netlab.Build(t)
	w := newVPC(t)
	args := []string{bin, "-interface", w.a.iface.Name(), "-vrid", "51", "-advert-int", "100ms", "-src", w.a.addr.String(),
		"-peer", w.b.addr.String(), "-vip", vpcHaVip.String() + "/24", "-vip", "203.0.113.5"}
	p := w.a.host.Start(append(args, w.cloudFlags("havip", "ins-a")...)...)
	var exit *exec.ExitError
	require.ErrorAs(t, p.Wait(), &exit, "%s", p.Output())
	assert.Equal(t, 2, exit.ExitCode())
	assert.Regexp(t, `(?m)^vrrpd: -vip 203\.0\.113\.5 is outside every subnet of `+w.a.iface.Name()+` \[192\.0\.2\.0/24\]: .*\n\z`, p.Output())

	w.a.proc = w.a.host.Start(args...)
	w.a.waitState(t, "MASTER", 5*time.Second)
}

// vpcReassert is how often a private-IP master claims the address again
// in TestVPCPrivateIPPartition (-tencentcloud-reassert; 30 s by default).
const vpcReassert = 2 * time.Second

// A vpcMove is a change of an address's holder, as Cloud.OnMove reports it.
type vpcMove struct {
	at  time.Time
	eni string
}

// recordMoves records every change of ip's holder from now on.
func (w *vpcWorld) recordMoves(ip netip.Addr) (moves func() []vpcMove) {
	var mu sync.Mutex
	var list []vpcMove
	w.cloud.OnMove(func(moved netip.Addr, eni string) {
		if moved == ip {
			mu.Lock()
			list = append(list, vpcMove{time.Now(), eni})
			mu.Unlock()
		}
	})
	return func() []vpcMove {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(list)
	}
}

// cutVRRP drops VRRP (IP protocol 112) coming into each of hosts with an
// nftables table of its own, until heal deletes them (at cleanup at the
// latest): a partition of the election that leaves every other packet,
// the API's included, alone. It drops on input, as a network that loses
// the packets would: a rule on output would make the sender's writes
// fail (EPERM), which vrrp takes for a fault of its own.
func cutVRRP(t *testing.T, hosts ...*netlab.Host) (heal func()) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables' nft in PATH to cut VRRP")
	}
	const table = "inet vipkit-partition"
	for _, h := range hosts {
		h.MustRun("nft", "add table "+table)
		h.MustRun("nft", "add chain "+table+" input { type filter hook input priority 0 ; }")
		h.MustRun("nft", "add rule "+table+" input ip protocol 112 drop")
	}
	var once sync.Once
	deleteTables := func() (errs []error) {
		once.Do(func() {
			for _, h := range hosts {
				if _, err := h.Run("nft", "delete table "+table); err != nil {
					errs = append(errs, err)
				}
			}
		})
		return errs
	}
	t.Cleanup(func() { deleteTables() }) // before the lab removes the hosts, which drops them too
	return func() { require.Empty(t, deleteTables()) }
}

// TestVPCPrivateIPPartition: a VRRP partition in private-IP mode makes two
// masters, and each claims the address every reassert interval. The
// address moves once, to the node that became master in the partition:
// the first master, finding at its reassert that its peer took it, leaves
// it there and says so once (a contest, which is no failure to hold the
// address: it does not go to FAULT), instead of moving it back and forth,
// which cuts every connection to it each time. When the partition heals,
// b steps down with an advertisement, a hears the lower priority and
// claims the address at once: it ends on a, in a second, not at a's next
// reassert.
func TestVPCPrivateIPPartition(t *testing.T) {
	bin := netlab.Build(t)
	w := newVPC(t)
	moves := w.recordMoves(vpcPrivate)
	reassert := []string{"-tencentcloud-reassert", vpcReassert.String()}
	w.start(bin, w.a, w.b, vpcPrivate, "150", append(w.cloudFlags("private-ip", "ins-a"), reassert...)...)
	w.a.waitState(t, "MASTER", 5*time.Second)
	w.start(bin, w.b, w.a, vpcPrivate, "100", append(w.cloudFlags("private-ip", "ins-b"), reassert...)...)
	w.b.waitState(t, "BACKUP", 5*time.Second)

	heal := cutVRRP(t, w.a.host, w.b.host)
	cut := time.Now()
	w.b.waitState(t, "MASTER", 5*time.Second)
	// Two and a half reassert intervals: each master reasserts, and a,
	// contested at its first, has not yet claimed the address back (it
	// backs off two intervals, then doubling up to four; in a longer
	// partition the address moves once per backoff).
	time.Sleep(2*vpcReassert + vpcReassert/2)
	during := moves()
	healed := time.Now()
	heal()
	w.b.waitState(t, "BACKUP", 5*time.Second)
	back := assert.Eventually(t, func() bool { h, _ := w.cloud.Holder(vpcPrivate); return h == "eni-a" }, 2*time.Second, 10*time.Millisecond,
		"the address did not come back to a at once after the partition:\n%s", w.a.proc.Output())

	var log []string
	for _, m := range moves() {
		log = append(log, fmt.Sprintf("%v→%s", m.at.Sub(cut).Round(100*time.Millisecond), m.eni))
	}
	t.Logf("moves of %v from the cut, the partition lasting %v: %v", vpcPrivate, healed.Sub(cut).Round(time.Second), log)
	if back {
		t.Logf("back on a %v after the heal", moves()[len(moves())-1].at.Sub(healed).Round(time.Millisecond))
	}
	require.NotEmpty(t, during, "b never took the address in the partition")
	assert.Equal(t, "eni-b", during[0].eni, "the first move was not to the new master")
	assert.LessOrEqual(t, len(during), 2, "the address moved more than once after the first in the partition")
	for _, n := range []*node{w.a, w.b} {
		for _, tr := range n.transitions(t) {
			assert.NotEqual(t, "FAULT", tr.To, "the contest put %s in FAULT:\n%s", n.host.Name(), n.proc.Output())
		}
	}
	assert.Equal(t, 1, strings.Count(w.a.proc.Output(), "another node took the virtual addresses"),
		"a did not report the contest, once:\n%s", w.a.proc.Output())
	assert.Equal(t, "MASTER", w.a.state(t))
}
