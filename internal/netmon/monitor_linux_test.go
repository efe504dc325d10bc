package netmon_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/internal/netmon"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// open makes a host linked to another by its eth0 and opens a Monitor of
// groups in it, closed when the test ends.
func open(t *testing.T, groups netmon.Groups) (*netlab.Host, *netlab.Iface, *netmon.Monitor) {
	t.Helper()
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	var m *netmon.Monitor
	require.NoError(t, h.Do(func() error {
		var err error
		m, err = netmon.Open(groups)
		return err
	}))
	t.Cleanup(func() { m.Close() })
	return h, ifc, m
}

// A watch is a running Monitor.Run and the events it delivered.
type watch struct {
	events chan netmon.Event
	seen   []netmon.Event
	done   chan struct{}
	stop   context.CancelFunc
}

// run runs m until stop is called or the test ends.
func run(t *testing.T, m *netmon.Monitor) *watch {
	ctx, stop := context.WithCancel(context.Background())
	w := &watch{events: make(chan netmon.Event, 10000), done: make(chan struct{}), stop: stop}
	go func() {
		defer close(w.done)
		m.Run(ctx, func(e netmon.Event) { w.events <- e })
	}()
	t.Cleanup(func() { w.stop(); <-w.done })
	return w
}

// next returns the next event that matches, skipping others (the kernel
// sends more than a test asks for: link-local addresses, changes of
// carrier).
func (w *watch) next(t *testing.T, what string, match func(netmon.Event) bool) netmon.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-w.events:
			w.seen = append(w.seen, e)
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no event %s; the last of %d events seen: %+v", what, len(w.seen), w.seen[max(0, len(w.seen)-10):])
		}
	}
}

// only checks that every event seen is of one of the types.
func (w *watch) only(t *testing.T, types ...netmon.EventType) {
	t.Helper()
	for _, e := range w.seen {
		assert.Contains(t, types, e.Type, "%+v", e)
	}
}

// returns waits for Run to return.
func (w *watch) returns(t *testing.T, why string) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("Run did not return when %s", why)
	}
}

func TestEventTypesAreRtnetlinks(t *testing.T) {
	assert.Equal(t, netmon.EventType(unix.RTM_NEWLINK), netmon.NewLink)
	assert.Equal(t, netmon.EventType(unix.RTM_DELLINK), netmon.DelLink)
	assert.Equal(t, netmon.EventType(unix.RTM_NEWADDR), netmon.NewAddr)
	assert.Equal(t, netmon.EventType(unix.RTM_DELADDR), netmon.DelAddr)
	assert.Equal(t, "link and address", (netmon.LinkEvents | netmon.AddrEvents).String())
}

// TestMonitorLinks: in a namespace, the links are listed, and a link set
// down and up, deleted and made again under its name is reported with its
// name, index, flags and MAC address.
func TestMonitorLinks(t *testing.T) {
	h, ifc, m := open(t, netmon.LinkEvents)
	index, mac := ifc.Index(), ifc.MAC()

	links, err := m.Links()
	require.NoError(t, err)
	names := map[string]netmon.Link{}
	for _, l := range links {
		names[l.Name] = l
	}
	assert.Equal(t, index, names["eth0"].Index)
	assert.Equal(t, mac, names["eth0"].HardwareAddr)
	assert.NotZero(t, names["eth0"].Flags&unix.IFF_UP, "eth0 is up")
	assert.NotZero(t, names["lo"].Flags&unix.IFF_LOOPBACK, "lo")

	w := run(t, m)
	eth0 := func(typ netmon.EventType, up bool) func(netmon.Event) bool {
		return func(e netmon.Event) bool {
			return e.Type == typ && e.Link.Name == "eth0" && (e.Link.Flags&unix.IFF_UP != 0) == up
		}
	}
	ifc.SetUp(false)
	e := w.next(t, "eth0 down", eth0(netmon.NewLink, false))
	assert.Equal(t, index, e.Link.Index)
	assert.Equal(t, mac, e.Link.HardwareAddr)
	ifc.SetUp(true)
	w.next(t, "eth0 up", eth0(netmon.NewLink, true))
	w.next(t, "eth0 running", func(e netmon.Event) bool {
		return eth0(netmon.NewLink, true)(e) && e.Link.Flags&unix.IFF_RUNNING != 0
	})

	h.MustRun("ip", "link", "del", "eth0")
	e = w.next(t, "eth0 deleted", func(e netmon.Event) bool { return e.Type == netmon.DelLink })
	assert.Equal(t, netmon.Link{Index: index, Name: "eth0", Flags: e.Link.Flags, HardwareAddr: mac}, e.Link)

	h.MustRun("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth9")
	e = w.next(t, "eth0 made again", eth0(netmon.NewLink, false))
	assert.NotEqual(t, index, e.Link.Index, "a new interface has a new index")
	assert.Len(t, e.Link.HardwareAddr, 6, "its MAC address")
	assert.Equal(t, h.MustRun("cat", "/sys/class/net/eth0/address"), e.Link.HardwareAddr.String()+"\n")
	w.only(t, netmon.NewLink, netmon.DelLink)
}

// TestMonitorAddrs: IPv4 and IPv6 addresses added and removed are
// reported with their interface and prefix, the local address for a
// point-to-point one; and listed.
func TestMonitorAddrs(t *testing.T) {
	h, ifc, m := open(t, netmon.AddrEvents)
	index := ifc.Index()
	w := run(t, m)

	v4, v6 := netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")
	ptp := netip.MustParsePrefix("192.0.2.10/32") // with peer 192.0.2.254
	is := func(typ netmon.EventType, p netip.Prefix) func(netmon.Event) bool {
		return func(e netmon.Event) bool { return e.Type == typ && e.Addr.Prefix == p }
	}
	ifc.AddAddr(v4)
	e := w.next(t, "adding "+v4.String(), is(netmon.NewAddr, v4))
	assert.Equal(t, index, e.Addr.Index)
	ifc.AddAddr(v6)
	e = w.next(t, "adding "+v6.String(), is(netmon.NewAddr, v6))
	assert.Equal(t, index, e.Addr.Index)
	h.MustRun("ip", "addr", "add", "192.0.2.10", "peer", "192.0.2.254/32", "dev", "eth0")
	w.next(t, "adding "+ptp.String()+" (its peer is not the address)", is(netmon.NewAddr, ptp))

	addrs, err := m.Addrs()
	require.NoError(t, err)
	var listed []netip.Prefix
	for _, a := range addrs {
		if a.Index == index {
			listed = append(listed, a.Prefix)
		}
	}
	assert.Subset(t, listed, []netip.Prefix{v4, v6, ptp})

	ifc.DelAddr(v4)
	e = w.next(t, "removing "+v4.String(), is(netmon.DelAddr, v4))
	assert.Equal(t, index, e.Addr.Index)
	ifc.DelAddr(v6)
	w.next(t, "removing "+v6.String(), is(netmon.DelAddr, v6))
	w.only(t, netmon.NewAddr, netmon.DelAddr)
}

// TestMonitorRunStops: Run returns when its context ends, and the Monitor
// runs again; it returns when the Monitor is closed.
func TestMonitorRunStops(t *testing.T) {
	_, ifc, m := open(t, netmon.AddrEvents)
	w := run(t, m)
	w.stop()
	w.returns(t, "its context ended")

	w = run(t, m)
	p := netip.MustParsePrefix("192.0.2.1/24")
	ifc.AddAddr(p)
	w.next(t, "after Run again", func(e netmon.Event) bool { return e.Type == netmon.NewAddr && e.Addr.Prefix == p })
	require.NoError(t, m.Close())
	w.returns(t, "the Monitor was closed")

	done := make(chan struct{})
	go func() { m.Run(context.Background(), func(netmon.Event) {}); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run of a closed Monitor did not return")
	}
}

// TestMonitorLost: when more events come than the socket holds, Run says
// that events were lost (ENOBUFS) once it has discarded the stale ones
// still queued, and goes on with the new ones.
func TestMonitorLost(t *testing.T) {
	h, _, m := open(t, netmon.AddrEvents)

	// Nobody reads while IPv4 addresses come and go, more of them than
	// the socket's buffer (net.core.rmem_default) holds at well under 256
	// bytes an event. (IPv4: the kernel tells of an IPv4 address before
	// ip returns, of an IPv6 one maybe later.)
	rmem := 212992
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_default"); err == nil {
		fmt.Sscan(string(b), &rmem)
	}
	var batch strings.Builder
	for n := 0; n < rmem/256; {
		for _, cmd := range []string{"add", "del"} {
			for _, net := range []string{"192.0.2", "198.51.100", "203.0.113"} {
				for i := 1; i < 255; i++ {
					fmt.Fprintf(&batch, "addr %s %s.%d/32 dev eth0\n", cmd, net, i)
					n++
				}
			}
		}
	}
	file := filepath.Join(t.TempDir(), "batch")
	require.NoError(t, os.WriteFile(file, []byte(batch.String()), 0o644))
	h.MustRun("ip", "-batch", file)

	w := run(t, m)
	e := w.next(t, "lost", func(netmon.Event) bool { return true })
	require.Equal(t, netmon.Lost, e.Type, "%+v", e)
	assert.True(t, errors.Is(e.Err, unix.ENOBUFS), "%v", e.Err)
	p := netip.MustParsePrefix("2001:db8::1/64")
	h.MustRun("ip", "addr", "add", p.String(), "dev", "eth0", "nodad")
	var late []netmon.Event
	w.next(t, "after the loss", func(e netmon.Event) bool {
		if e.Addr.Prefix.Addr().Is4() {
			late = append(late, e)
		}
		return e.Type == netmon.NewAddr && e.Addr.Prefix == p
	})
	assert.Empty(t, late, "stale events after the loss")
}
