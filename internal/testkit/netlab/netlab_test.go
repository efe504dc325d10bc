//go:build linux

package netlab_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// testNetns is the network namespace the test binary started in, read
// before any test could switch a thread elsewhere.
var testNetns, _ = os.Readlink("/proc/thread-self/ns/net")

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// alive reports whether a process with this PID exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// netnsList returns the names of all named network namespaces.
func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// withPrefix returns the names in list that belong to the lab with prefix.
func withPrefix(list []string, prefix string) []string {
	var out []string
	for _, n := range list {
		if strings.HasPrefix(n, prefix+"-") {
			out = append(out, n)
		}
	}
	return out
}

// ifaceNames returns the sorted names of the interfaces the calling thread
// sees. It does not call t.FailNow, so Do may call it.
func ifaceNames() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	slices.Sort(names)
	return names, nil
}

func TestLinkPing(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	ea, eb := lab.Link(a, b)
	require.Equal(t, "eth0", ea.Name())
	require.Equal(t, "eth0", eb.Name())
	require.Same(t, a, ea.Host())
	require.Same(t, eb, ea.Peer())
	require.Equal(t, lab.Prefix()+"-a", a.Name())

	ea.AddAddr(pfx("192.0.2.1/24"))
	eb.AddAddr(pfx("192.0.2.2/24"))
	require.NoError(t, a.Ping(addr("192.0.2.2"), 3*time.Second))
	require.NoError(t, b.Ping(addr("192.0.2.1"), 3*time.Second))
	// Nobody has .3: Ping must say so.
	require.Error(t, a.Ping(addr("192.0.2.3"), 500*time.Millisecond))

	if _, err := exec.LookPath("ping"); err == nil {
		a.MustRun("ping", "-c1", "-W1", "192.0.2.2")
	} else {
		t.Log("no ping binary; checked with Host.Ping only")
	}
}

func TestLinkNamesAndSetUp(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a, b, c := lab.Host("a"), lab.Host("b"), lab.Host("c")
	ab, ba := lab.Link(a, b)
	ac, ca := lab.Link(a, c)
	assert.Equal(t, []string{"eth0", "eth1", "eth0", "eth0"}, []string{ab.Name(), ac.Name(), ba.Name(), ca.Name()})
	var names []string
	require.NoError(t, a.Do(func() (err error) {
		names, err = ifaceNames()
		return err
	}))
	assert.Equal(t, []string{"eth0", "eth1", "lo"}, names)

	ifi := ab.Interface()
	assert.Equal(t, "eth0", ifi.Name)
	assert.Equal(t, ifi.Index, ab.Index())
	assert.Len(t, ab.MAC(), 6)
	assert.NotEqual(t, ab.MAC(), ba.MAC())
	out := a.MustRun("ip", "-o", "link", "show", "dev", "eth0")
	assert.Contains(t, out, strconv.Itoa(ifi.Index)+": eth0@")
	assert.Contains(t, out, ab.MAC().String())

	ab.AddAddr(pfx("198.51.100.1/24"))
	ba.AddAddr(pfx("198.51.100.2/24"))
	require.NoError(t, a.Ping(addr("198.51.100.2"), 3*time.Second))

	ba.SetUp(false)
	assert.Contains(t, b.MustRun("ip", "-o", "link", "show", "dev", "eth0"), "state DOWN")
	assert.Contains(t, a.MustRun("ip", "-o", "link", "show", "dev", "eth0"), "NO-CARRIER", "peer of a down veth end has no carrier")
	assert.Error(t, a.Ping(addr("198.51.100.2"), 500*time.Millisecond))
	ba.SetUp(true)
	require.NoError(t, a.Ping(addr("198.51.100.2"), 3*time.Second))

	ab.DelAddr(pfx("198.51.100.1/24"))
	assert.NotContains(t, a.MustRun("ip", "-o", "addr", "show", "dev", "eth0"), "198.51.100.1")
}

func TestSwitchIPv6(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	var hosts []*netlab.Host
	for i := 1; i <= 3; i++ {
		h := lab.Host(fmt.Sprintf("h%d", i))
		ifc := sw.Attach(h)
		require.Equal(t, "eth0", ifc.Name())
		require.Same(t, sw.Host(), ifc.Peer().Host())
		ifc.AddAddr(pfx(fmt.Sprintf("2001:db8::%d/64", i)))
		hosts = append(hosts, h)
	}
	br := sw.Host().MustRun("ip", "-d", "link", "show", "dev", "br0")
	assert.Contains(t, br, "mcast_snooping 0")
	assert.Contains(t, br, "state UP")
	ports := sw.Host().MustRun("ip", "-o", "link", "show", "master", "br0")
	assert.Equal(t, 3, strings.Count(ports, "master br0"), ports)

	for i, h := range hosts {
		for j := range hosts {
			if i == j {
				continue
			}
			dst := addr(fmt.Sprintf("2001:db8::%d", j+1))
			assert.NoError(t, h.Ping(dst, 3*time.Second), "h%d -> %v", i+1, dst)
		}
	}
	// Link-local addresses work at once too (no DAD).
	ll := hosts[1].MustRun("ip", "-o", "-6", "addr", "show", "dev", "eth0", "scope", "link")
	m := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(ll)
	require.NotNil(t, m, ll)
	assert.NotContains(t, ll, "tentative")
	assert.NoError(t, hosts[0].Ping(addr(m[1]).WithZone("eth0"), 3*time.Second))
}

func TestDo(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	ea, eb := lab.Link(a, b)
	ea.AddAddr(pfx("203.0.113.1/24"))
	eb.AddAddr(pfx("203.0.113.2/24"))
	mac := ea.MAC()

	outside, err := ifaceNames()
	require.NoError(t, err)
	var inside []string
	require.NoError(t, a.Do(func() (err error) {
		inside, err = ifaceNames()
		return err
	}))
	assert.Equal(t, []string{"eth0", "lo"}, inside)
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifi := range ifs {
		assert.NotEqual(t, mac.String(), ifi.HardwareAddr.String(), "a's eth0 seen outside a as %s", ifi.Name)
	}

	// A socket made in Do stays in the namespace: it can bind an address
	// that exists only there and receives what b sends it.
	var conn net.PacketConn
	require.NoError(t, a.Do(func() error {
		var err error
		conn, err = net.ListenPacket("udp4", "203.0.113.1:0")
		return err
	}))
	defer conn.Close()
	require.NoError(t, b.Do(func() error {
		c, err := net.Dial("udp4", conn.LocalAddr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	}))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 16)
	n, from, err := conn.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	assert.Equal(t, "203.0.113.2", from.(*net.UDPAddr).IP.String())

	// Errors and panics come back; Goexit is reported.
	errBoom := errors.New("boom")
	assert.ErrorIs(t, a.Do(func() error { return errBoom }), errBoom)
	assert.PanicsWithValue(t, "boom", func() { _ = a.Do(func() error { panic("boom") }) })
	assert.Error(t, a.Do(func() error { runtime.Goexit(); return nil }))

	// Many Do calls at once leave no thread in a lab namespace.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { _ = a.Do(func() error { time.Sleep(time.Millisecond); return nil }) })
	}
	wg.Wait()
	require.NotEmpty(t, testNetns)
	for range 50 {
		var got string
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			got, err = os.Readlink("/proc/thread-self/ns/net")
		}()
		<-done
		require.NoError(t, err)
		require.Equal(t, testNetns, got)
	}
	after, err := ifaceNames()
	require.NoError(t, err)
	assert.Equal(t, outside, after)
}

// sameNetns reports whether process pid is in the namespace of h.
func sameNetns(t *testing.T, pid int, h *netlab.Host) bool {
	t.Helper()
	var p, n syscall.Stat_t
	require.NoError(t, syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &p))
	require.NoError(t, syscall.Stat(h.Path(), &n))
	return p.Ino == n.Ino && p.Dev == n.Dev
}

func TestProcess(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a := lab.Host("a")
	other := lab.Host("other")

	p := a.Start("sleep", "60")
	pid := p.PID()
	require.Positive(t, pid)
	require.True(t, alive(pid))
	assert.True(t, sameNetns(t, pid, a))
	assert.False(t, sameNetns(t, pid, other))
	require.NoError(t, p.Stop())
	assert.False(t, alive(pid), "pid %d still there after Stop", pid)
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	assert.ErrorIs(t, p.Signal(syscall.SIGTERM), os.ErrProcessDone)
	assert.NoError(t, p.Stop(), "second Stop")

	q := a.Start("sh", "-c", "echo out; echo err >&2; exit 3")
	var exit *exec.ExitError
	require.ErrorAs(t, q.Wait(), &exit)
	assert.Equal(t, 3, exit.ExitCode())
	assert.Contains(t, q.Output(), "out\n")
	assert.Contains(t, q.Output(), "err\n")
	assert.Error(t, q.Stop(), "Stop of a process that had failed by itself")

	// A process group that ignores SIGTERM gets SIGKILL after the grace.
	r := a.Start("sh", "-c", `trap "" TERM; sleep 60 & echo "child $!"; wait`)
	require.True(t, r.WaitOutput("child ", 5*time.Second), r.Output())
	m := regexp.MustCompile(`child ([0-9]+)`).FindStringSubmatch(r.Output())
	require.NotNil(t, m)
	child, _ := strconv.Atoi(m[1])
	require.True(t, alive(child))
	start := time.Now()
	require.NoError(t, r.StopWithin(300*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.False(t, alive(r.PID()))
	deadline := time.Now().Add(2 * time.Second) // the child is reaped by init
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.False(t, alive(child), "child %d of the group survived", child)

	sig := a.Start("sh", "-c", `trap "echo got-usr1; exit 0" USR1; echo ready; while :; do sleep 0.05; done`)
	require.True(t, sig.WaitOutput("ready", 5*time.Second))
	require.NoError(t, sig.Signal(syscall.SIGUSR1))
	require.NoError(t, sig.Wait())
	assert.Contains(t, sig.Output(), "got-usr1")
}

func TestRun(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a, b, c := lab.Host("a"), lab.Host("b"), lab.Host("c")
	lab.Link(a, b)
	assert.Contains(t, a.MustRun("ip", "-o", "link", "show", "dev", "eth0"), "eth0@")
	out, err := c.Run("ip", "link", "show", "dev", "eth0")
	require.Error(t, err, "c has no eth0")
	assert.Contains(t, err.Error(), strings.TrimSpace(out))
	_, err = a.Run("sh", "-c", "echo because; exit 2")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "because")
	assert.Equal(t, "0\n", a.MustRun("cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad"))
}

func TestCapture(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	ea, eb := lab.Link(a, b)
	ea.AddAddr(pfx("192.0.2.1/24"))
	eb.AddAddr(pfx("192.0.2.2/24"))

	c := a.Capture("eth0", "icmp")
	require.NoError(t, a.Ping(addr("192.0.2.2"), 3*time.Second))
	path := c.Stop()
	assert.Equal(t, path, c.Stop())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(24), "more than a pcap file header")
	out, err := exec.Command("tcpdump", "-n", "-r", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "192.0.2.1 > 192.0.2.2: ICMP echo request")
	assert.Contains(t, string(out), "192.0.2.2 > 192.0.2.1: ICMP echo reply")
	assert.NotContains(t, string(out), "ARP", "the filter keeps ARP out")
	assert.Contains(t, c.Output(), "packets captured")
}

func TestCleanup(t *testing.T) {
	var prefix string
	var pids []int
	t.Run("lab", func(t *testing.T) {
		lab := netlab.New(t)
		prefix = lab.Prefix()
		a, b := lab.Host("a"), lab.Host("b")
		sw := lab.Switch("sw")
		lab.Link(a, b)
		sw.Attach(a)
		sw.Attach(b)
		pids = append(pids, a.Start("sleep", "60").PID(), b.Start("sleep", "60").PID())
		a.Capture("eth1", "")
		require.Len(t, withPrefix(netnsList(t), prefix), 3)
	})
	if prefix == "" {
		t.Skip("the lab subtest was skipped")
	}
	assert.Empty(t, withPrefix(netnsList(t), prefix))
	for _, pid := range pids {
		assert.False(t, alive(pid), "pid %d survived the lab", pid)
	}
}

// TestCleanupOnFailure runs this test binary again with a test that fails
// (or panics) halfway through building its lab and checks that nothing of
// that lab is left.
func TestCleanupOnFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip(netlab.SkipMessage)
	}
	for _, mode := range []string{"fatal", "panic"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "NETLAB_BROKEN="+mode)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the helper test must fail:\n%s", out)
			m := regexp.MustCompile(`LAB (\S+) PID (\d+)`).FindSubmatch(out)
			require.NotNil(t, m, "%s", out)
			assert.Contains(t, string(out), "deliberate")
			assert.Empty(t, withPrefix(netnsList(t), string(m[1])), "%s", out)
			pid, _ := strconv.Atoi(string(m[2]))
			assert.False(t, alive(pid), "pid %d survived", pid)
		})
	}
}

// TestBrokenHelper is run by TestCleanupOnFailure; it fails on purpose.
func TestBrokenHelper(t *testing.T) {
	mode := os.Getenv("NETLAB_BROKEN")
	if mode == "" {
		t.Skip("helper for TestCleanupOnFailure")
	}
	lab := netlab.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	lab.Link(a, b)
	lab.Switch("sw").Attach(a)
	p := a.Start("sleep", "60")
	fmt.Printf("LAB %s PID %d\n", lab.Prefix(), p.PID())
	if mode == "panic" {
		panic("deliberate panic")
	}
	t.Fatal("deliberate failure")
}

func TestSweepStale(t *testing.T) {
	// A namespace named as a lab of a test binary that is gone.
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	stale := fmt.Sprintf("vk%dx0000-stale", dead.Process.Pid)
	if os.Geteuid() != 0 {
		t.Skip(netlab.SkipMessage)
	}
	out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() {
		if slices.Contains(netnsList(t), stale) {
			_ = exec.Command("ip", "netns", "del", stale).Run()
		}
	})
	// A namespace of a lab whose maker still runs (this binary).
	live := fmt.Sprintf("vk%dx0000-live", os.Getpid())
	out, err = exec.Command("ip", "netns", "add", live).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", live).Run() })

	netlab.New(t)
	list := netnsList(t)
	assert.NotContains(t, list, stale)
	assert.Contains(t, list, live)
}

// TestServeName: a client reaches the server's name with AskName and
// ConnectLoop; after stop, both fail.
func TestServeName(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	ea, eb := lab.Link(a, b)
	ea.AddAddr(pfx("192.0.2.1/24"))
	eb.AddAddr(pfx("192.0.2.2/24"))
	stop := b.ServeName(8080)
	dst := netip.AddrPortFrom(addr("192.0.2.2"), 8080)

	name, err := a.AskName(dst, time.Second)
	require.NoError(t, err)
	assert.Equal(t, b.Name(), name)
	done := make(chan struct{})
	probes := a.ConnectLoop(dst, done)
	time.Sleep(50 * time.Millisecond)
	close(done)
	got := <-probes
	require.NotEmpty(t, got)
	for _, p := range got {
		assert.Equal(t, b.Name(), p.Server)
	}

	stop()
	_, err = a.AskName(dst, time.Second)
	assert.Error(t, err, "answered after stop")
}
