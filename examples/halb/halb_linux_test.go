package main

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// TestHAPairFailsOverOnBackendHealth runs two halb on a LAN, each with a
// backend of its own, and a client that connects to the virtual address.
// When the master's backend dies its priority drops by -weight, the peer
// preempts it, and the client is served by the other backend; when the
// master itself is stopped, the same happens through priority 0.
func TestHAPairFailsOverOnBackendHealth(t *testing.T) {
	bin := netlab.Build(t)
	lab := netlab.New(t)

	sw := lab.Switch("sw")
	hosts := map[string]*netlab.Host{}
	ifaces := map[string]*netlab.Iface{}
	for i, name := range []string{"lb1", "lb2", "be1", "be2", "cli"} {
		h := lab.Host(name)
		ifaces[name] = sw.Attach(h)
		ifaces[name].AddAddr(netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", i+1)))
		hosts[name] = h
	}
	stopBe1 := hosts["be1"].ServeName(8080)
	hosts["be2"].ServeName(8080)
	start := func(lb, prio, backend string) *netlab.Process {
		return hosts[lb].Start(bin, "-listen", ":80", "-backend", backend+":8080", "-health-interval", "50ms",
			"-interface", ifaces[lb].Name(), "-vrid", "7", "-priority", prio, "-advert-int", "100ms", "-weight", "60",
			"-vip", "192.0.2.100/24", "-drain", "1s")
	}
	lb1 := start("lb1", "150", "192.0.2.3")
	require.True(t, lb1.WaitOutput(`"to":"MASTER"`, 5*time.Second), "lb1 did not become master:\n%s", lb1.Output())
	lb2 := start("lb2", "100", "192.0.2.4")
	require.True(t, lb2.WaitOutput(`"to":"BACKUP"`, 5*time.Second), "%s", lb2.Output())

	vip := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.100"), 80)
	served := func() string {
		name, _ := hosts["cli"].AskName(vip, time.Second)
		return name
	}
	require.Eventually(t, func() bool { return served() == hosts["be1"].Name() }, 5*time.Second, 10*time.Millisecond)

	stopBe1() // lb1 has no healthy backend: 150 - 60 = 90 < 100
	require.True(t, lb2.WaitOutput(`"to":"MASTER"`, 5*time.Second), "lb2 did not take over:\n%s\n%s", lb1.Output(), lb2.Output())
	require.Eventually(t, func() bool { return served() == hosts["be2"].Name() }, 5*time.Second, 10*time.Millisecond,
		"the client is not served by lb2's backend")
	assert.True(t, strings.Contains(lb1.Output(), `"to":"BACKUP"`), "lb1 did not yield:\n%s", lb1.Output())

	// lb2 stops: it hands over with priority 0 and drains; lb1, even with
	// its lower priority, is the only one left.
	require.NoError(t, lb2.Signal(syscall.SIGTERM))
	require.NoError(t, lb2.Wait(), "halb did not exit 0:\n%s", lb2.Output())
	require.Eventually(t, func() bool { return strings.Count(lb1.Output(), `"to":"MASTER"`) == 2 }, 5*time.Second, 10*time.Millisecond,
		"lb1 did not take over again:\n%s", lb1.Output())
}
