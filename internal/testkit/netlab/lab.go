package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// netnsDir is where iproute2 keeps the bind mounts that name namespaces.
const netnsDir = "/run/netns"

// cmdTimeout bounds each command netlab runs itself to build or remove the
// network.
const cmdTimeout = 30 * time.Second

// SkipMessage is the message [New] skips a test with when it may not create
// network namespaces.
const SkipMessage = "netlab: needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces"

// stalePattern matches the namespace names of any lab: the PID of the
// process (a test binary, the lab) that made it, then a random tag.
var stalePattern = regexp.MustCompile(`^vk([0-9]+)x[0-9a-f]{4}-`)

// hostName is what Lab.Host and Lab.Switch accept as a name.
var hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)

// T is what a lab reports failures to and registers its cleanup with: a
// *testing.T or *testing.B, or a program's own implementation (the lab
// command in examples/lab has one). Fatal, Fatalf, Skip and Skipf must not
// return.
type T interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	TempDir() string
}

// A Lab is a set of network namespaces (hosts) that one test builds. Make
// one with [New]; everything in it is removed when the test ends.
type Lab struct {
	t      T
	prefix string

	mu       sync.Mutex
	hosts    []*Host
	names    map[string]bool
	stoppers []func()
}

// Require skips t as [New] does when the process may not build a lab: with
// [SkipMessage] when it is not root or lacks CAP_SYS_ADMIN or CAP_NET_ADMIN,
// with another message when it is not on Linux or iproute2's ip command is
// not in PATH.
func Require(t T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("netlab: needs Linux network namespaces (GOOS is %s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 || !hasNetCaps() {
		t.Skip(SkipMessage)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netlab: needs iproute2's ip command in PATH to create network namespaces")
	}
}

// Build builds the Go command in the current directory (the package of
// the test calling it) into t.TempDir() and returns the binary's path, to
// run with [Host.Start]. It first calls [Require], so a test that would
// skip does not spend time building.
func Build(t T) string {
	t.Helper()
	Require(t)
	bin := filepath.Join(t.TempDir(), filepath.Base(mustGetwd(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("netlab: go build: %v\n%s", err, out)
	}
	return bin
}

func mustGetwd(t T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	return dir
}

// New returns an empty lab whose hosts, processes and captures are removed
// by t.Cleanup when the test ends, also when it fails or panics.
//
// New skips the test with [SkipMessage] when the process is not root or
// lacks CAP_SYS_ADMIN or CAP_NET_ADMIN, and with another message when it is
// not on Linux or iproute2's ip command is not in PATH.
func New(t T) *Lab {
	t.Helper()
	Require(t)
	var tag [2]byte
	if _, err := rand.Read(tag[:]); err != nil {
		t.Fatalf("netlab: random tag: %v", err)
	}
	l := &Lab{
		t:      t,
		prefix: fmt.Sprintf("vk%dx%s", os.Getpid(), hex.EncodeToString(tag[:])),
		names:  make(map[string]bool),
	}
	sweepStale(t)
	t.Cleanup(l.cleanup)
	return l
}

// Prefix returns the prefix of the names of all the lab's namespaces: a
// host named "a" lives in the namespace Prefix()+"-a".
func (l *Lab) Prefix() string { return l.prefix }

// Host returns a new host: a network namespace named [Lab.Prefix]+"-"+name
// with the loopback interface up, IPv6 enabled and duplicate address
// detection off (accept_dad=0), so that addresses, link-local ones included,
// are usable as soon as they are added. The name is short (a letter or
// digit, then up to 31 letters, digits, '_', '.', '-') and unique in the lab.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	h := l.newHost(name)
	h.sysctls(
		"net/ipv6/conf/all/disable_ipv6=0",
		"net/ipv6/conf/default/disable_ipv6=0",
		"net/ipv6/conf/all/accept_dad=0",
		"net/ipv6/conf/default/accept_dad=0",
	)
	return h
}

// newHost makes the namespace and brings loopback up.
func (l *Lab) newHost(name string) *Host {
	l.t.Helper()
	if !hostName.MatchString(name) {
		l.t.Fatalf("netlab: bad host name %q: want a letter or digit, then up to 31 of [A-Za-z0-9_.-]", name)
	}
	l.mu.Lock()
	if l.names[name] {
		l.mu.Unlock()
		l.t.Fatalf("netlab: host name %q used twice in one lab", name)
	}
	l.names[name] = true
	l.mu.Unlock()

	h := &Host{lab: l, name: l.prefix + "-" + name}
	l.mustIP("netns", "add", h.name)
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	l.mustIP("-n", h.name, "link", "set", "lo", "up")
	return h
}

// Switch returns a new switch: a host of its own, named like one made by
// [Lab.Host], holding a Linux bridge "br0" that is up, has multicast snooping
// off (so that multicast such as VRRP's 224.0.0.18 and ff02::12 floods to
// every port) and has no spanning tree (so ports forward at once). IPv6 is
// off in the switch's namespace: the bridge forwards IPv6 but sends nothing
// of its own into captures.
func (l *Lab) Switch(name string) *Switch {
	l.t.Helper()
	h := l.newHost(name)
	h.sysctls(
		"net/ipv6/conf/all/disable_ipv6=1",
		"net/ipv6/conf/default/disable_ipv6=1",
	)
	l.mustIP("-n", h.name, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	l.mustIP("-n", h.name, "link", "set", "br0", "up")
	return &Switch{host: h, bridge: &Iface{host: h, name: "br0"}}
}

// Link joins hosts a and b with a veth pair and returns its two ends, both
// up: the first in a, the second in b. Each end is named "eth<N>", N
// counting the interfaces made in its host from 0 (a host linked twice has
// eth0 and eth1). The ends are made directly in their namespaces: they are
// never in the namespace of the test itself.
func (l *Lab) Link(a, b *Host) (*Iface, *Iface) {
	l.t.Helper()
	ia := &Iface{host: a, name: a.nextIfName()}
	ib := &Iface{host: b, name: b.nextIfName()}
	ia.peer, ib.peer = ib, ia
	l.mustIP("-n", a.name, "link", "add", ia.name, "type", "veth", "peer", "name", ib.name, "netns", b.name)
	l.mustIP("-n", a.name, "link", "set", ia.name, "up")
	l.mustIP("-n", b.name, "link", "set", ib.name, "up")
	return ia, ib
}

// ip runs iproute2's ip with args in the test's own namespace (use "-n NS"
// or "netns exec NS" to act in a host) and returns its combined output.
func (l *Lab) ip(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netlab: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// mustIP is ip that fails the test on error.
func (l *Lab) mustIP(args ...string) string {
	l.t.Helper()
	out, err := l.ip(args...)
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

// addStopper registers fn to run at cleanup before the namespaces go.
func (l *Lab) addStopper(fn func()) {
	l.mu.Lock()
	l.stoppers = append(l.stoppers, fn)
	l.mu.Unlock()
}

// cleanup stops processes and captures, newest first, then deletes the
// namespaces, newest first. It carries on past errors, reporting each.
func (l *Lab) cleanup() {
	l.mu.Lock()
	stoppers, hosts := l.stoppers, l.hosts
	l.stoppers, l.hosts = nil, nil
	l.mu.Unlock()
	for i := len(stoppers) - 1; i >= 0; i-- {
		stoppers[i]()
	}
	for i := len(hosts) - 1; i >= 0; i-- {
		if _, err := l.ip("netns", "del", hosts[i].name); err != nil {
			l.t.Errorf("netlab: cleanup: %v", err)
		}
	}
}

// sweepStale deletes namespaces left by labs of processes that are no
// longer running (killed by a timeout, say: then no Cleanup ran). A
// namespace whose maker is still running is left alone.
func sweepStale(t T) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := stalePattern.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue
		}
		out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput()
		if err != nil {
			t.Logf("netlab: deleting stale namespace %s: %v: %s", e.Name(), err, out)
			continue
		}
		t.Logf("netlab: deleted stale namespace %s (the process that made it, PID %d, is gone)", e.Name(), pid)
	}
}

// A Switch is a host holding a Linux bridge, br0, that joins the hosts
// attached to it into one LAN. Make one with [Lab.Switch].
type Switch struct {
	host   *Host
	bridge *Iface
}

// Name returns the name of the switch's network namespace.
func (s *Switch) Name() string { return s.host.name }

// Host returns the host the bridge lives in, to run commands there (nft
// rules on the bridge, say) or to capture on "br0" or on a port.
func (s *Switch) Host() *Host { return s.host }

// Bridge returns the bridge interface, br0.
func (s *Switch) Bridge() *Iface { return s.bridge }

// Attach plugs h into the switch with a veth pair and returns the end in h,
// named "eth<N>" like the ends [Lab.Link] makes, and up. The other end, the
// switch port, is also up and enslaved to br0; [Iface.Peer] returns it
// (setting it down is pulling the cable at the switch).
func (s *Switch) Attach(h *Host) *Iface {
	l := s.host.lab
	l.t.Helper()
	hi, port := l.Link(h, s.host)
	port.bridge = "br0"
	l.mustIP("-n", s.host.name, "link", "set", port.name, "master", port.bridge)
	return hi
}
