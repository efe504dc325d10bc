package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// The lab: a switch, two HAProxy nodes, the backend they both forward to,
// and a client, on 192.0.2.0/24; the virtual address is 192.0.2.100.
var (
	vip        = netip.MustParsePrefix("192.0.2.100/24")
	lbAddrs    = [2]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	backend    = netip.MustParseAddr("192.0.2.3")
	clientAddr = netip.MustParseAddr("192.0.2.4")
)

// haproxyConfig is the configuration of each node's HAProxy: the CLI on a
// unix socket, TCP from :80 to the backend, and a health endpoint.
const haproxyConfig = `global
	stats socket %s mode 600 level admin

defaults
	mode tcp
	timeout connect 1s
	timeout client 5s
	timeout server 5s

frontend vip
	bind :80
	default_backend app

backend app
	server app1 %s:8080

frontend health
	mode http
	bind :8404
	monitor-uri /healthz
`

// lookHAProxy returns the path of the haproxy binary or skips the test.
func lookHAProxy(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skipf("needs HAProxy (the Debian package haproxy, /usr/sbin/haproxy) in PATH: %v", err)
	}
	return path
}

// lbNode is a host with HAProxy and the sidecar beside it.
type lbNode struct {
	host    *netlab.Host
	iface   *netlab.Iface
	addr    netip.Addr
	config  string // HAProxy's configuration file
	socket  string // HAProxy's stats socket
	haproxy *netlab.Process
	sidecar *netlab.Process
}

// writeHAProxyConfig writes the node's HAProxy configuration into dir.
func (n *lbNode) writeHAProxyConfig(t *testing.T, dir string) {
	n.socket = filepath.Join(dir, "haproxy.sock")
	n.config = filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(n.config, []byte(fmt.Sprintf(haproxyConfig, n.socket, backend)), 0o600))
}

// startHAProxy starts HAProxy in the foreground (-db) and waits until its
// CLI answers, which it does once every listener is bound.
func (n *lbNode) startHAProxy(t *testing.T, haproxy string) {
	t.Helper()
	n.haproxy = n.host.Start(haproxy, "-db", "-f", n.config)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return socketProbe(n.socket)(ctx) == nil
	}, 10*time.Second, 10*time.Millisecond, "HAProxy on %s did not start:\n%s", n.host.Name(), n.haproxy.Output())
}

// transitions parses the JSON lines the sidecar wrote so far.
func (n *lbNode) transitions(t *testing.T) []vipcmd.Transition {
	trs, err := vipcmd.Transitions(n.sidecar.Output())
	require.NoError(t, err)
	return trs
}

// last returns the sidecar's last transition.
func (n *lbNode) last(t *testing.T) vipcmd.Transition {
	trs := n.transitions(t)
	if len(trs) == 0 {
		return vipcmd.Transition{}
	}
	return trs[len(trs)-1]
}

// waitState waits until the sidecar's last transition is to state.
func (n *lbNode) waitState(t *testing.T, state string, within time.Duration) vipcmd.Transition {
	t.Helper()
	require.Eventually(t, func() bool { return n.last(t).To == state }, within, time.Millisecond,
		"%s is %q, want %q:\n%s", n.host.Name(), n.last(t).To, state, n.sidecar.Output())
	return n.last(t)
}

// hasVIP reports whether the virtual address is on the node's interface.
func (n *lbNode) hasVIP(t *testing.T) bool {
	return strings.Contains(n.host.MustRun("ip", "-4", "addr", "show", "dev", n.iface.Name()), " "+vip.String()+" ")
}

// sidecarLab is two HAProxy nodes, a backend and a client on a switch.
type sidecarLab struct {
	bin, haproxy string
	lb           [2]*lbNode
	be, client   *netlab.Host
}

func newSidecarLab(t *testing.T) *sidecarLab {
	l := &sidecarLab{haproxy: lookHAProxy(t), bin: netlab.Build(t)} // skips without root
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	for i := range l.lb {
		h := lab.Host(fmt.Sprintf("lb%d", i+1))
		ifc := sw.Attach(h)
		ifc.AddAddr(netip.PrefixFrom(lbAddrs[i], 24))
		l.lb[i] = &lbNode{host: h, iface: ifc, addr: lbAddrs[i]}
		l.lb[i].writeHAProxyConfig(t, t.TempDir())
	}
	l.be = lab.Host("be")
	sw.Attach(l.be).AddAddr(netip.PrefixFrom(backend, 24))
	l.be.ServeName(8080)
	l.client = lab.Host("cli")
	sw.Attach(l.client).AddAddr(netip.PrefixFrom(clientAddr, 24))
	return l
}

// startSidecar starts the sidecar on node i with the HAVIP guide's
// vrrp_instance translated to the lab: unicast to the other node,
// nopreempt, garp_master_delay 1 and garp_master_refresh 5, a check every
// 100 ms; extra gives the version, interval and check.
func (l *sidecarLab) startSidecar(i, priority int, extra []string) {
	n := l.lb[i]
	args := []string{l.bin, "-interface", n.iface.Name(), "-vrid", "51", "-priority", strconv.Itoa(priority),
		"-nopreempt", "-src", n.addr.String(), "-peer", l.lb[1-i].addr.String(), "-vip", vip.String(),
		"-garp-master-delay", "1s", "-garp-master-refresh", "5s", "-check-interval", "100ms"}
	n.sidecar = n.host.Start(append(args, extra...)...)
}

// served connects to VIP:80 from the client once and returns the name the
// backend answered, "" if the connection failed.
func (l *sidecarLab) served() string {
	name, _ := l.client.AskName(netip.AddrPortFrom(vip.Addr(), 80), time.Second)
	return name
}

// failover runs the scenario both check modes share, with the sidecars
// started with the flags extra returns for a node (version, interval,
// check): lb1 (priority 150)
// becomes master and serves the client through the VIP; kill stops its
// HAProxy; then lb1 is in FAULT without the VIP, lb2 has taken over after
// lb1's priority-0 advertisement, and the client's outage is less than
// maxOutage. HAProxy restarted, lb1 comes back as backup and, nopreempt,
// leaves the VIP with lb2 for longer than its Master_Down_Interval mdi.
func (l *sidecarLab) failover(t *testing.T, kill func(*netlab.Process), mdi, maxOutage time.Duration, extra func(*lbNode) []string) {
	lb1, lb2 := l.lb[0], l.lb[1]
	for _, n := range l.lb {
		n.startHAProxy(t, l.haproxy)
	}
	l.startSidecar(0, 150, extra(lb1))
	lb1.waitState(t, "MASTER", mdi+5*time.Second)
	l.startSidecar(1, 100, extra(lb2))
	lb2.waitState(t, "BACKUP", 5*time.Second)
	require.True(t, lb1.hasVIP(t), "the master does not hold the VIP")
	require.False(t, lb2.hasVIP(t), "the backup holds the VIP")
	require.Eventually(t, func() bool { return l.served() == l.be.Name() }, 5*time.Second, 10*time.Millisecond,
		"the client does not reach the backend through the VIP")
	require.Contains(t, l.client.MustRun("ip", "neigh", "show", vip.Addr().String()), lb1.iface.MAC().String())

	stop := make(chan struct{})
	results := l.client.ConnectLoop(netip.AddrPortFrom(vip.Addr(), 80), stop)
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	kill(lb1.haproxy)
	dead := time.Now() // kill returns once HAProxy has exited

	fault := lb1.waitState(t, "FAULT", 5*time.Second)
	assert.Equal(t, "fault", fault.Reason)
	require.Eventually(t, func() bool { return !lb1.hasVIP(t) }, 2*time.Second, 10*time.Millisecond,
		"lb1 in FAULT kept the VIP")
	master := lb2.waitState(t, "MASTER", 5*time.Second)
	assert.Equal(t, "master-step-down", master.Reason, "lb2 did not take over on lb1's priority 0")
	assert.Len(t, lb2.transitions(t), 2, "lb2: %+v", lb2.transitions(t))
	require.Eventually(t, func() bool { return lb2.hasVIP(t) }, 2*time.Second, 10*time.Millisecond, "lb2, master, has no VIP")
	require.Eventually(t, func() bool {
		return strings.Contains(l.client.MustRun("ip", "neigh", "show", vip.Addr().String()), lb2.iface.MAC().String())
	}, 2*time.Second, 5*time.Millisecond, "the client's ARP entry did not move to lb2")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	probes := <-results

	// The outage: from the last connection served before HAProxy was
	// stopped to the first served after it had exited (through lb2).
	var lastOK, firstOK time.Time
	for _, p := range probes {
		ok := p.Server == l.be.Name()
		if ok && p.At.Before(killed) {
			lastOK = p.At
		}
		if ok && p.At.After(dead) && firstOK.IsZero() {
			firstOK = p.At
		}
	}
	require.False(t, lastOK.IsZero(), "the client never reached the backend before the failover")
	require.False(t, firstOK.IsZero(), "the client never reached the backend after the failover")
	for _, p := range probes {
		if p.At.After(firstOK) {
			assert.Equal(t, l.be.Name(), p.Server, "a connection failed %v after the failover", p.At.Sub(firstOK))
		}
	}
	outage := firstOK.Sub(lastOK)
	t.Logf("client outage %v (last connection served before HAProxy on lb1 stopped to the first after); "+
		"lb1 FAULT %v and lb2 MASTER %v after the stop",
		outage.Round(time.Millisecond), since(t, fault, killed), since(t, master, killed))
	assert.Less(t, outage, maxOutage)

	// HAProxy is back on lb1: it leaves FAULT as backup and, nopreempt,
	// does not take the VIP back, although its priority is higher.
	lb1.startHAProxy(t, l.haproxy)
	cleared := lb1.waitState(t, "BACKUP", 5*time.Second)
	assert.Equal(t, "fault-cleared", cleared.Reason)
	assert.Never(t, func() bool { return lb1.last(t).To != "BACKUP" || lb2.last(t).To != "MASTER" },
		mdi+time.Second, 10*time.Millisecond, "lb1 took over again despite -nopreempt:\n%s", lb1.sidecar.Output())
	assert.False(t, lb1.hasVIP(t), "lb1, backup, holds the VIP")
	assert.True(t, lb2.hasVIP(t), "lb2, master, lost the VIP")
	assert.Equal(t, l.be.Name(), l.served(), "the client does not reach the backend through lb2")
}

// since returns how long after t0 the transition tr happened.
func since(t *testing.T, tr vipcmd.Transition, t0 time.Time) time.Duration {
	at, err := time.Parse(time.RFC3339Nano, tr.Time)
	require.NoError(t, err)
	return at.Sub(t0).Round(time.Millisecond)
}

// TestFailoverOnHAProxyDown runs the HAVIP guide's keepalived.conf, as
// sidecar flags, beside two real HAProxy processes: VRRPv2 with auth_pass
// 1111, unicast, nopreempt on both, the track_script as -haproxy-url of a
// monitor-uri. SIGTERM to the master's HAProxy puts its sidecar in FAULT;
// the VIP moves to the other node and stays there when HAProxy is back.
//
// VRRPv2 advertises in whole seconds only (RFC 3768 §5.3.7), so this runs
// at the guide's advert_int 1: Skew_Time of lb2 (priority 100) is 609 ms,
// Master_Down_Interval 3.6 s. An outage under 2 s shows that the FAULT
// handed over with priority 0 rather than by lb2's timeout.
func TestFailoverOnHAProxyDown(t *testing.T) {
	l := newSidecarLab(t)
	l.failover(t, func(p *netlab.Process) {
		require.NoError(t, p.Stop(), "HAProxy did not stop on SIGTERM:\n%s", p.Output())
	}, 3*time.Second+(256-150)*time.Second/256, 2*time.Second, func(*lbNode) []string {
		return []string{"-version", "2", "-auth-pass", "1111", "-advert-int", "1s",
			"-haproxy-url", "http://127.0.0.1:8404/healthz"}
	})
}

// TestFailoverOnHAProxySocket is the same with -haproxy-socket (HAProxy's
// stats socket) and VRRPv3 at 100 ms: HAProxy on the master is killed
// (SIGKILL, a crash; its socket file stays behind).
func TestFailoverOnHAProxySocket(t *testing.T) {
	l := newSidecarLab(t)
	const interval = 100 * time.Millisecond
	l.failover(t, func(p *netlab.Process) {
		require.NoError(t, p.Signal(syscall.SIGKILL))
		<-p.Done()
	}, 3*interval+(256-150)*interval/256, time.Second, func(n *lbNode) []string {
		return []string{"-version", "3", "-advert-int", interval.String(), "-haproxy-socket", n.socket}
	})
}

// TestSocketProbeRealHAProxy asks a real HAProxy in master-worker mode
// through both of its sockets: the worker's stats socket answers "show
// info", the master CLI answers it only with "@1". Stopped, both are down.
func TestSocketProbeRealHAProxy(t *testing.T) {
	lab := netlab.New(t)
	haproxy := lookHAProxy(t)
	h := lab.Host("h")
	dir := t.TempDir()
	stats, master, config := filepath.Join(dir, "haproxy.sock"), filepath.Join(dir, "master.sock"), filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(haproxyConfig, stats, backend)), 0o600))
	p := h.Start(haproxy, "-W", "-db", "-S", master, "-f", config)

	probeOK := func(path string) func() bool {
		return func() bool { _, err := probe(socketProbe(path)); return err == nil }
	}
	require.Eventually(t, probeOK(stats), 10*time.Second, 10*time.Millisecond, "stats socket:\n%s", p.Output())
	require.Eventually(t, probeOK(master), 10*time.Second, 10*time.Millisecond, "master CLI:\n%s", p.Output())
	for i := range 100 { // the half-close never loses an answer
		_, err := probe(socketProbe(stats))
		require.NoError(t, err, "probe %d", i)
		_, err = probe(socketProbe(master))
		require.NoError(t, err, "probe %d", i)
	}

	require.NoError(t, p.Stop())
	for _, path := range []string{stats, master} {
		_, err := probe(socketProbe(path))
		assert.Error(t, err, path)
	}
}
