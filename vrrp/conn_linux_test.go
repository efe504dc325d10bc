package vrrp_test

import (
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

// A connRead is one ReadFrom of a Conn.
type connRead struct {
	msg  string
	info vrrp.PacketInfo
}

// openConn opens the raw socket of ifc in its host, closed when the test
// ends, and returns what it reads.
func openConn(t *testing.T, ifc *netlab.Iface, ipv6 bool) (vrrp.Conn, <-chan connRead) {
	t.Helper()
	c := openBareConn(t, ifc, ipv6)
	reads := make(chan connRead, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 1500)
		for {
			n, info, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			reads <- connRead{string(b[:n]), info}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return c, reads
}

// linkLocal returns the IPv6 link-local address of ifc.
func linkLocal(t testing.TB, ifc *netlab.Iface) netip.Addr {
	t.Helper()
	ifi := ifc.Interface()
	var ll netip.Addr
	require.NoError(t, ifc.Host().Do(func() error {
		addrs, err := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, _ := netip.AddrFromSlice(ipn.IP); ip.Is6() && ip.IsLinkLocalUnicast() {
					ll = ip
				}
			}
		}
		return err
	}))
	require.True(t, ll.IsValid(), "no link-local address on %v", ifc)
	return ll
}

// TestOpenConn sends over the raw sockets of both families between two
// hosts, b having a second interface to a third host: multicast to the
// group and unicast (to a link-local address in IPv6, which takes the
// interface's zone) arrive with TTL (hop limit) 255 and their source and
// destination; the socket of b's eth0 hears nothing of b's other
// interface, though b has joined the group there too, and a sender does not
// hear its own multicast.
func TestOpenConn(t *testing.T) {
	lab := netlab.New(t)
	a, b, c := lab.Host("a"), lab.Host("b"), lab.Host("c")
	aEth, bEth0 := lab.Link(a, b)
	cEth, bEth1 := lab.Link(c, b)
	aEth.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	bEth0.AddAddr(netip.MustParsePrefix("192.0.2.2/24"))
	cEth.AddAddr(netip.MustParsePrefix("198.51.100.3/24"))
	bEth1.AddAddr(netip.MustParsePrefix("198.51.100.2/24"))

	for _, tc := range []struct {
		name              string
		ipv6              bool
		group, aSrc, bDst netip.Addr // b's eth0 address: unicast destination
		cSrc              netip.Addr
	}{
		{"IPv4", false, vrrp.MulticastGroupIPv4, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
			netip.MustParseAddr("198.51.100.3")},
		{"IPv6", true, vrrp.MulticastGroupIPv6, linkLocal(t, aEth), linkLocal(t, bEth0), linkLocal(t, cEth)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aConn, aReads := openConn(t, aEth, tc.ipv6)
			cConn, _ := openConn(t, cEth, tc.ipv6)
			_, bReads := openConn(t, bEth0, tc.ipv6)
			openConn(t, bEth1, tc.ipv6) // b's eth1 joins the group too
			tos := observeTOS(t, bEth0, tc.ipv6)

			// From b's other interface: not for eth0's socket.
			require.NoError(t, cConn.WriteTo([]byte("other interface"), tc.cSrc, tc.group))
			time.Sleep(50 * time.Millisecond)
			for _, dst := range []netip.Addr{tc.group, tc.bDst} {
				require.NoError(t, aConn.WriteTo([]byte("to "+dst.String()), tc.aSrc, dst))
				select {
				case r := <-bReads:
					assert.Equal(t, "to "+dst.String(), r.msg)
					assert.Equal(t, vrrp.PacketInfo{Src: tc.aSrc, Dst: dst, TTL: 255}, r.info)
				case <-time.After(5 * time.Second):
					t.Fatalf("nothing received from %v to %v", tc.aSrc, dst)
				}
				select {
				case got := <-tos:
					assert.Equal(t, vrrp.TOS, got, "TOS (traffic class) to %v", dst)
				case <-time.After(5 * time.Second):
					t.Fatalf("the TOS observer saw nothing to %v", dst)
				}
			}
			select {
			case r := <-bReads:
				t.Errorf("b's eth0 read %q from %v", r.msg, r.info.Src)
			case r := <-aReads:
				t.Errorf("a read %q from %v: its own multicast looped back", r.msg, r.info.Src)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// observeTOS reads, on a raw socket of its own in ifc's host, the TOS
// (IPv4) or traffic class (IPv6) of each VRRP packet ifc receives.
func observeTOS(t *testing.T, ifc *netlab.Iface, v6 bool) <-chan int {
	t.Helper()
	ifi := ifc.Interface()
	var read func() (int, error)
	var closer io.Closer
	require.NoError(t, ifc.Host().Do(func() error {
		network, any := "ip4:112", "0.0.0.0"
		if v6 {
			network, any = "ip6:112", "::"
		}
		c, err := net.ListenPacket(network, any)
		if err != nil {
			return err
		}
		closer = c
		b := make([]byte, 1500)
		if v6 {
			p := ipv6.NewPacketConn(c)
			if err := p.JoinGroup(ifi, &net.IPAddr{IP: vrrp.MulticastGroupIPv6.AsSlice()}); err != nil {
				return err
			}
			read = func() (int, error) {
				_, cm, _, err := p.ReadFrom(b)
				if err != nil || cm == nil {
					return -1, err
				}
				return cm.TrafficClass, nil
			}
			return p.SetControlMessage(ipv6.FlagTrafficClass|ipv6.FlagInterface, true)
		}
		r, err := ipv4.NewRawConn(c)
		if err != nil {
			return err
		}
		if err := r.JoinGroup(ifi, &net.IPAddr{IP: vrrp.MulticastGroupIPv4.AsSlice()}); err != nil {
			return err
		}
		read = func() (int, error) {
			h, _, _, err := r.ReadFrom(b)
			if err != nil {
				return -1, err
			}
			return h.TOS, nil
		}
		return nil
	}))
	out := make(chan int, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			tos, err := read()
			if err != nil {
				return
			}
			out <- tos
		}
	}()
	t.Cleanup(func() {
		closer.Close()
		<-done
	})
	return out
}

// TestOpenConnEdges covers what the wire tests do not: an IPv4 header with
// options (the payload still starts at b[0]), the TTL and destination of a
// crafted packet, a message longer than the buffer (truncated, as
// recvmsg(2) does), a destination of the wrong family, and Close, which
// wakes a blocked ReadFrom and after which both calls fail with
// net.ErrClosed.
func TestOpenConnEdges(t *testing.T) {
	aEth, bEth := linkedHosts(t)
	aAddr, bAddr := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")

	var raw *ipv4.RawConn
	require.NoError(t, aEth.Host().Do(func() error {
		c, err := net.ListenPacket("ip4:112", aAddr.String())
		if err == nil {
			raw, err = ipv4.NewRawConn(c)
		}
		return err
	}))
	t.Cleanup(func() { raw.Close() })
	conn := openBareConn(t, bEth, false)
	read := func(t *testing.T, buf []byte) (string, vrrp.PacketInfo) {
		t.Helper()
		type result struct {
			n    int
			info vrrp.PacketInfo
			err  error
		}
		done := make(chan result, 1)
		go func() {
			n, info, err := conn.ReadFrom(buf)
			done <- result{n, info, err}
		}()
		select {
		case r := <-done:
			require.NoError(t, r.err)
			return string(buf[:r.n]), r.info
		case <-time.After(5 * time.Second):
			t.Fatal("nothing received")
			return "", vrrp.PacketInfo{}
		}
	}

	t.Run("IP options", func(t *testing.T) {
		msg := []byte("with a router alert option")
		routerAlert := []byte{0x94, 0x04, 0, 0} // RFC 2113
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen + len(routerAlert), TotalLen: ipv4.HeaderLen + len(routerAlert) + len(msg),
			TTL: 255, Protocol: vrrp.ProtocolNumber, Src: aAddr.AsSlice(), Dst: vrrp.MulticastGroupIPv4.AsSlice(), Options: routerAlert}
		require.NoError(t, raw.WriteTo(h, msg, nil))
		got, info := read(t, make([]byte, 1500))
		assert.Equal(t, string(msg), got)
		assert.Equal(t, vrrp.PacketInfo{Src: aAddr, Dst: vrrp.MulticastGroupIPv4, TTL: 255}, info)
	})
	t.Run("TTL and unicast destination", func(t *testing.T) {
		msg := []byte("TTL 7")
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(msg),
			TTL: 7, Protocol: vrrp.ProtocolNumber, Src: aAddr.AsSlice(), Dst: bAddr.AsSlice()}
		require.NoError(t, raw.WriteTo(h, msg, nil))
		got, info := read(t, make([]byte, 1500))
		assert.Equal(t, string(msg), got)
		assert.Equal(t, vrrp.PacketInfo{Src: aAddr, Dst: bAddr, TTL: 7}, info)
	})
	t.Run("truncated", func(t *testing.T) {
		msg := []byte("longer than the buffer")
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(msg),
			TTL: 255, Protocol: vrrp.ProtocolNumber, Src: aAddr.AsSlice(), Dst: vrrp.MulticastGroupIPv4.AsSlice()}
		require.NoError(t, raw.WriteTo(h, msg, nil))
		got, info := read(t, make([]byte, 6))
		assert.Equal(t, string(msg[:6]), got)
		assert.Equal(t, vrrp.PacketInfo{Src: aAddr, Dst: vrrp.MulticastGroupIPv4, TTL: 255}, info)
	})
	t.Run("wrong family", func(t *testing.T) {
		assert.Error(t, conn.WriteTo([]byte("x"), bAddr, vrrp.MulticastGroupIPv6))
		assert.Error(t, conn.WriteTo([]byte("x"), bAddr, netip.Addr{}))
	})
	t.Run("Close", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, _, err := conn.ReadFrom(make([]byte, 1500))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, conn.Close())
		select {
		case err := <-done:
			assert.ErrorIs(t, err, net.ErrClosed, "ReadFrom blocked at Close")
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not wake ReadFrom")
		}
		_, _, err := conn.ReadFrom(make([]byte, 1500))
		assert.ErrorIs(t, err, net.ErrClosed, "ReadFrom after Close")
		assert.ErrorIs(t, conn.WriteTo([]byte("x"), bAddr, vrrp.MulticastGroupIPv4), net.ErrClosed, "WriteTo after Close")
	})
}

// TestOpenConnReportsDrops: messages that find the receive queue full are
// dropped by the kernel, and the next message queued says how many
// (SO_RXQ_OVFL).
func TestOpenConnReportsDrops(t *testing.T) {
	aEth, bEth := linkedHosts(t)
	var aConn, bConn vrrp.Conn
	for _, c := range []struct {
		ifc  *netlab.Iface
		conn *vrrp.Conn
	}{{aEth, &aConn}, {bEth, &bConn}} {
		ifi := c.ifc.Interface()
		require.NoError(t, c.ifc.Host().Do(func() (err error) {
			*c.conn, err = vrrp.OpenConn(ifi, false)
			return err
		}))
		t.Cleanup(func() { (*c.conn).Close() })
	}
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	msg := make([]byte, 1000)
	// Nobody reads b's socket: the queue (4 MiB asked) fills and the
	// kernel drops the rest.
	for range 30000 {
		require.NoError(t, aConn.WriteTo(msg, src, dst))
	}
	var maxDrops atomic.Uint32
	var read atomic.Int64
	go func() {
		b := make([]byte, 1500)
		for {
			_, info, err := bConn.ReadFrom(b)
			if err != nil {
				return
			}
			read.Add(1)
			if info.Drops > maxDrops.Load() {
				maxDrops.Store(info.Drops)
			}
		}
	}()
	// Once the queue is read, a message queued after the drops tells.
	require.Eventually(t, func() bool {
		aConn.WriteTo(msg, src, dst) // an error shows as no drop reported
		return maxDrops.Load() > 0
	}, 5*time.Second, 10*time.Millisecond, "no drop reported after %d messages read", read.Load())
	assert.Less(t, read.Load(), int64(30000), "the queue held everything: nothing was dropped")
}
