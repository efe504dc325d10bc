package vrrp_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

// A connPair is a raw socket at each end of a veth pair between two hosts
// of a lab, a sending and b receiving, with nothing reading either until
// the caller does.
type connPair struct {
	a, b     vrrp.Conn
	src, dst netip.Addr // a's address; where a sends: the VRRP group
	msg      []byte
}

// newConnPair builds the lab and opens the two sockets of one family; they
// are closed, and the lab removed, when tb ends. It skips without root.
func newConnPair(tb testing.TB, ipv6 bool) *connPair {
	tb.Helper()
	aEth, bEth := linkedHosts(tb)
	p := &connPair{src: netip.MustParseAddr("192.0.2.1"), dst: vrrp.MulticastGroupIPv4}
	if ipv6 {
		p.src, p.dst = linkLocal(tb, aEth), vrrp.MulticastGroupIPv6
	}
	// An advertisement's size: VRRPv3, one IPv4 address or one IPv6.
	p.msg = make([]byte, 8+p.src.BitLen()/8)
	p.msg[0], p.msg[1] = 0x31, 1
	p.a = openBareConn(tb, aEth, ipv6)
	p.b = openBareConn(tb, bEth, ipv6)
	return p
}

// linkedHosts builds a lab of two hosts, a and b, joined by a veth pair
// with 192.0.2.1/24 on a's end and 192.0.2.2/24 on b's, and returns the
// two ends; the lab is removed when tb ends. It skips without root.
func linkedHosts(tb testing.TB) (aEth, bEth *netlab.Iface) {
	tb.Helper()
	lab := netlab.New(tb)
	aEth, bEth = lab.Link(lab.Host("a"), lab.Host("b"))
	aEth.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	bEth.AddAddr(netip.MustParsePrefix("192.0.2.2/24"))
	return aEth, bEth
}

// openBareConn opens the raw socket of ifc in its host, closed when tb
// ends; unlike openConn nothing reads it.
func openBareConn(tb testing.TB, ifc *netlab.Iface, ipv6 bool) vrrp.Conn {
	tb.Helper()
	ifi := ifc.Interface()
	var c vrrp.Conn
	require.NoError(tb, ifc.Host().Do(func() error {
		var err error
		c, err = vrrp.OpenConn(ifi, ipv6)
		return err
	}))
	tb.Cleanup(func() { c.Close() })
	return c
}

// send sends n messages from a to the group.
func (p *connPair) send(tb testing.TB, n int) {
	for range n {
		if err := p.a.WriteTo(p.msg, p.src, p.dst); err != nil {
			tb.Fatal(err)
		}
	}
}

// receive reads n messages at b, checking each; buf is the reader's
// buffer. It reports the first failure instead of failing, so that it may
// run where allocations are counted.
func (p *connPair) receive(buf []byte, n int) (ok bool, got vrrp.PacketInfo, err error) {
	want := vrrp.PacketInfo{Src: p.src, Dst: p.dst, TTL: vrrp.TTL}
	for range n {
		var m int
		m, got, err = p.b.ReadFrom(buf)
		if err != nil || m != len(p.msg) || got != want {
			return false, got, err
		}
	}
	return true, got, nil
}

// readBatch is how many messages BenchmarkConnReadFrom queues before it
// reads them: far below the receive buffer and the backlog of the veth.
const readBatch = 200

func forFamilies(b *testing.B, bench func(b *testing.B, p *connPair)) {
	for _, tc := range []struct {
		name string
		ipv6 bool
	}{{"IPv4", false}, {"IPv6", true}} {
		b.Run(tc.name, func(b *testing.B) { bench(b, newConnPair(b, tc.ipv6)) })
	}
}

// BenchmarkConnWriteTo sends advertisements to the group over a veth
// pair: the time per op includes the kernel's, the receiving side's
// softirq included.
func BenchmarkConnWriteTo(b *testing.B) {
	forFamilies(b, func(b *testing.B, p *connPair) {
		p.send(b, 10)
		b.ReportAllocs()
		for b.Loop() {
			if err := p.a.WriteTo(p.msg, p.src, p.dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConnReadFrom reads advertisements sent over a veth pair. The
// messages are sent in batches with the timer stopped, so that each read
// finds its message queued: the time per op is that of ReadFrom alone.
func BenchmarkConnReadFrom(b *testing.B) {
	forFamilies(b, func(b *testing.B, p *connPair) {
		buf := make([]byte, 1500)
		p.send(b, 10)
		if ok, got, err := p.receive(buf, 10); !ok {
			b.Fatalf("read %v, %v", got, err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for done := 0; done < b.N; {
			n := min(readBatch, b.N-done)
			b.StopTimer()
			p.send(b, n)
			b.StartTimer()
			if ok, got, err := p.receive(buf, n); !ok {
				b.Fatalf("read %v, %v", got, err)
			}
			done += n
		}
	})
}

// TestConnNoAllocations checks that, over real sockets and once warmed up,
// sending and receiving an advertisement allocate nothing.
func TestConnNoAllocations(t *testing.T) {
	for _, tc := range []struct {
		name string
		ipv6 bool
	}{{"IPv4", false}, {"IPv6", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const runs = 100
			p := newConnPair(t, tc.ipv6)
			buf := make([]byte, 1500)
			// Warm up: the first messages of each side.
			p.send(t, 10)
			ok, got, err := p.receive(buf, 10)
			require.True(t, ok, "read %v, %v", got, err)

			var werr error
			allocs := testing.AllocsPerRun(runs, func() {
				if err := p.a.WriteTo(p.msg, p.src, p.dst); err != nil {
					werr = err
				}
			})
			require.NoError(t, werr)
			assert.Zero(t, allocs, "allocations per WriteTo")

			// What AllocsPerRun read: its warm-up run, then runs.
			ok, got, err = p.receive(buf, runs+1)
			require.True(t, ok, "read %v, %v", got, err)

			p.send(t, runs+1)
			allocs = testing.AllocsPerRun(runs, func() {
				if ok2, got2, err2 := p.receive(buf, 1); !ok2 && ok {
					ok, got, err = false, got2, err2
				}
			})
			require.True(t, ok, "read %v, %v", got, err)
			assert.Zero(t, allocs, "allocations per ReadFrom")
		})
	}
}
