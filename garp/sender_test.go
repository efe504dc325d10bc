package garp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/garp"
)

// written is one frame a fakeConn received.
type written struct {
	frame []byte
	dst   net.HardwareAddr
	at    time.Time
}

// fakeConn records what a Sender writes. fail, if set, decides per write
// whether to fail.
type fakeConn struct {
	mu     sync.Mutex
	frames []written
	closed int
	fail   func(n int) error
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(len(c.frames)); err != nil {
			c.frames = append(c.frames, written{})
			return 0, err
		}
	}
	c.frames = append(c.frames, written{
		frame: append([]byte(nil), b...),
		dst:   addr.(*packet.Addr).HardwareAddr,
		at:    time.Now(),
	})
	return len(b), nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed++
	return nil
}

func (c *fakeConn) written() []written {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]written(nil), c.frames...)
}

var testIfi = &net.Interface{Index: 7, Name: "eth0", HardwareAddr: mac, MTU: 1500}

func newTestSender(t *testing.T, opts *garp.Options) (*garp.Sender, *fakeConn) {
	t.Helper()
	c := &fakeConn{}
	s, err := garp.NewSenderConn(c, testIfi, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

func decodeFrame(t *testing.T, w written) garp.Frame {
	t.Helper()
	var f garp.Frame
	require.NoError(t, f.UnmarshalBinary(w.frame))
	assert.Equal(t, f.Destination, w.dst, "socket address and Ethernet destination differ")
	return f
}

func TestSenderAnnounce(t *testing.T) {
	other4 := netip.MustParseAddr("192.0.2.101")
	zoned := netip.MustParseAddr("fe80::100%eth0")
	tests := []struct {
		name  string
		opts  *garp.Options
		addrs []netip.Addr
		check func(t *testing.T, fs []garp.Frame)
	}{
		{"defaults, mixed families", nil, []netip.Addr{vip4, vip6, other4}, func(t *testing.T, fs []garp.Frame) {
			require.Len(t, fs, 3)
			assert.Equal(t, garp.GratuitousARP(garp.OperationRequest, mac, vip4), fs[0].ARP)
			assert.Equal(t, garp.Broadcast(), fs[0].Destination)
			assert.Equal(t, garp.UnsolicitedNA(mac, vip6, vip6), fs[1].NA)
			assert.Equal(t, garp.AllNodesMAC(), fs[1].Destination)
			assert.Equal(t, other4, fs[2].ARP.SenderIP)
			for _, f := range fs {
				assert.Equal(t, mac, f.Source)
			}
		}},
		{"source MAC override", &garp.Options{SourceMAC: net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33}}, []netip.Addr{vip4, vip6}, func(t *testing.T, fs []garp.Frame) {
			vmac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33}
			require.Len(t, fs, 2)
			assert.Equal(t, vmac, fs[0].Source)
			assert.Equal(t, vmac, fs[0].ARP.SenderHardwareAddr)
			assert.Equal(t, vmac, fs[1].Source)
			assert.Equal(t, vmac, fs[1].NA.TargetLinkLayerAddr)
		}},
		{"reply form", &garp.Options{ARPOperation: garp.OperationReply}, []netip.Addr{vip4}, func(t *testing.T, fs []garp.Frame) {
			require.Len(t, fs, 1)
			assert.Equal(t, garp.GratuitousARP(garp.OperationReply, mac, vip4), fs[0].ARP)
		}},
		{"IPv6 source and router flag", &garp.Options{IPv6Source: lladdr, Router: true}, []netip.Addr{vip6}, func(t *testing.T, fs []garp.Frame) {
			require.Len(t, fs, 1)
			want := garp.UnsolicitedNA(mac, lladdr, vip6)
			want.Router = true
			assert.Equal(t, want, fs[0].NA)
		}},
		{"zone dropped", nil, []netip.Addr{zoned}, func(t *testing.T, fs []garp.Frame) {
			require.Len(t, fs, 1)
			assert.Equal(t, zoned.WithZone(""), fs[0].NA.Target)
		}},
		{"nothing to announce", nil, nil, func(t *testing.T, fs []garp.Frame) { assert.Empty(t, fs) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newTestSender(t, tt.opts)
			require.NoError(t, s.Announce(tt.addrs...))
			var fs []garp.Frame
			for _, w := range c.written() {
				fs = append(fs, decodeFrame(t, w))
			}
			tt.check(t, fs)
		})
	}
}

func TestSenderAccessors(t *testing.T) {
	s, _ := newTestSender(t, nil)
	assert.Equal(t, "eth0", s.Interface())
	assert.Equal(t, mac, s.SourceMAC())
	o := s.Options()
	assert.Equal(t, garp.DefaultCount, o.Count)
	assert.Equal(t, garp.DefaultInterval, o.Interval)
	assert.Equal(t, garp.OperationRequest, o.ARPOperation)
	assert.Nil(t, o.SourceMAC)

	// The Sender keeps its own copy of the MAC addresses it was given.
	ifi := *testIfi
	ifi.HardwareAddr = append(net.HardwareAddr(nil), mac...)
	smac := append(net.HardwareAddr(nil), mac2...)
	s2, err := garp.NewSenderConn(&fakeConn{}, &ifi, &garp.Options{SourceMAC: smac})
	require.NoError(t, err)
	smac[0] = 0xaa
	ifi.HardwareAddr[0] = 0xaa
	assert.Equal(t, mac2, s2.SourceMAC())
	assert.Equal(t, mac2, s2.Options().SourceMAC)
}

func TestSenderConfigErrors(t *testing.T) {
	noMAC := &net.Interface{Index: 1, Name: "lo"}
	ipoib := &net.Interface{Index: 3, Name: "ib0", HardwareAddr: make(net.HardwareAddr, 20)}
	tests := []struct {
		name  string
		conn  garp.Conn
		ifi   *net.Interface
		opts  *garp.Options
		field string // must appear in the message
	}{
		{"nil conn", nil, testIfi, nil, "conn"},
		{"nil interface", &fakeConn{}, nil, nil, "interface"},
		{"interface without MAC", &fakeConn{}, noMAC, nil, `interface "lo" HardwareAddr`},
		{"interface with 20-byte address", &fakeConn{}, ipoib, nil, `interface "ib0" HardwareAddr`},
		{"negative count", &fakeConn{}, testIfi, &garp.Options{Count: -1}, "Options.Count"},
		{"negative interval", &fakeConn{}, testIfi, &garp.Options{Interval: -time.Second}, "Options.Interval"},
		{"ARP operation 3", &fakeConn{}, testIfi, &garp.Options{ARPOperation: 3}, "Options.ARPOperation"},
		{"short source MAC", &fakeConn{}, testIfi, &garp.Options{SourceMAC: mac[:3]}, "Options.SourceMAC"},
		{"empty source MAC", &fakeConn{}, testIfi, &garp.Options{SourceMAC: net.HardwareAddr{}}, "Options.SourceMAC"},
		{"multicast source MAC", &fakeConn{}, testIfi, &garp.Options{SourceMAC: garp.AllNodesMAC()}, "Options.SourceMAC"},
		{"zero source MAC", &fakeConn{}, testIfi, &garp.Options{SourceMAC: make(net.HardwareAddr, 6)}, "Options.SourceMAC"},
		{"IPv4 IPv6Source", &fakeConn{}, testIfi, &garp.Options{IPv6Source: vip4}, "Options.IPv6Source"},
		{"multicast IPv6Source", &fakeConn{}, testIfi, &garp.Options{IPv6Source: garp.AllNodes}, "Options.IPv6Source"},
		{"IPv4-mapped IPv6Source", &fakeConn{}, testIfi, &garp.Options{IPv6Source: netip.AddrFrom16(vip4.As16())}, "Options.IPv6Source"},
		{"unspecified IPv6Source", &fakeConn{}, testIfi, &garp.Options{IPv6Source: netip.IPv6Unspecified()}, "Options.IPv6Source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := garp.NewSenderConn(tt.conn, tt.ifi, tt.opts)
			require.ErrorIs(t, err, garp.ErrConfig)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.field)
			assert.True(t, strings.HasPrefix(err.Error(), "garp: "), err.Error())

			if tt.conn != nil {
				// The socket constructor checks the same before opening
				// anything.
				_, err = garp.NewSender(tt.ifi, tt.opts)
				require.ErrorIs(t, err, garp.ErrConfig)
			}
		})
	}
}

func TestNewSenderByName(t *testing.T) {
	_, err := garp.NewSenderByName("", nil)
	require.ErrorIs(t, err, garp.ErrConfig)
	_, err = garp.NewSenderByName("garp-no-such-if", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "garp-no-such-if")
	if runtime.GOOS == "linux" {
		// lo has no Ethernet address.
		_, err = garp.NewSenderByName("lo", nil)
		require.ErrorIs(t, err, garp.ErrConfig)
	}
}

func TestSenderInvalidAddresses(t *testing.T) {
	bad := []netip.Addr{
		{},
		netip.IPv4Unspecified(),
		netip.IPv6Unspecified(),
		netip.AddrFrom16(vip4.As16()),
		netip.MustParseAddr("224.0.0.18"),
		garp.AllNodes,
		netip.MustParseAddr("127.0.0.1"),
		netip.IPv6Loopback(),
		netip.MustParseAddr("255.255.255.255"),
	}
	for _, a := range bad {
		t.Run(a.String(), func(t *testing.T) {
			s, c := newTestSender(t, nil)
			err := s.Announce(vip4, a)
			require.ErrorIs(t, err, garp.ErrAddress)
			assert.Contains(t, err.Error(), "address 1")
			err = s.Burst(context.Background(), vip6, a)
			require.ErrorIs(t, err, garp.ErrAddress)
			assert.Empty(t, c.written(), "nothing may be sent when an address is invalid")
		})
	}
}

func TestSenderBurst(t *testing.T) {
	tests := []struct {
		name     string
		opts     *garp.Options
		addrs    []netip.Addr
		wantN    int
		interval time.Duration
	}{
		{"keepalived defaults", nil, []netip.Addr{vip4, vip6}, 2 * garp.DefaultCount, 0},
		{"count 1", &garp.Options{Count: 1}, []netip.Addr{vip4}, 1, 0},
		{"count 3 one second apart", &garp.Options{Count: 3, Interval: time.Second}, []netip.Addr{vip4, vip6}, 6, time.Second},
		{"count 4 10ms apart", &garp.Options{Count: 4, Interval: 10 * time.Millisecond}, []netip.Addr{vip6}, 4, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// synctest's bubble gives a fake clock: sleeps are exact and
			// instantaneous.
			synctest.Test(t, func(t *testing.T) {
				s, c := newTestSender(t, tt.opts)
				start := time.Now()
				require.NoError(t, s.Burst(t.Context(), tt.addrs...))
				ws := c.written()
				require.Len(t, ws, tt.wantN)
				for i, w := range ws {
					round := i / len(tt.addrs)
					assert.Equal(t, time.Duration(round)*tt.interval, w.at.Sub(start), "frame %d", i)
					f := decodeFrame(t, w)
					a := tt.addrs[i%len(tt.addrs)]
					if a.Is4() {
						assert.Equal(t, a, f.ARP.TargetIP)
					} else {
						assert.Equal(t, a, f.NA.Target)
					}
				}
				// No time is spent after the last round.
				assert.Equal(t, time.Duration(len(ws)/len(tt.addrs)-1)*tt.interval, time.Since(start))
			})
		})
	}
}

// TestSenderBurstN sends another number of rounds than Options.Count.
func TestSenderBurstN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newTestSender(t, &garp.Options{Count: 5, Interval: time.Second})
		start := time.Now()
		require.NoError(t, s.BurstN(t.Context(), 2, vip4))
		ws := c.written()
		require.Len(t, ws, 2)
		assert.Equal(t, time.Second, ws[1].at.Sub(start))
		require.NoError(t, s.BurstN(t.Context(), 0, vip4))
		assert.Len(t, c.written(), 2, "zero rounds send nothing")
	})
}

func TestSenderBurstCancel(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, c := newTestSender(t, &garp.Options{Count: 5, Interval: time.Second})
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(1500*time.Millisecond, cancel)
			start := time.Now()
			err := s.Burst(ctx, vip4)
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 1500*time.Millisecond, time.Since(start), "Burst must return as soon as ctx is done")
			assert.Len(t, c.written(), 2)
		})
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, c := newTestSender(t, &garp.Options{Count: 10, Interval: time.Second})
			ctx, cancel := context.WithTimeout(t.Context(), 3500*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, s.Burst(ctx, vip6), context.DeadlineExceeded)
			assert.Len(t, c.written(), 4)
		})
	})
	t.Run("already cancelled", func(t *testing.T) {
		s, c := newTestSender(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, s.Burst(ctx, vip4), context.Canceled)
		assert.Empty(t, c.written())
	})
}

func TestSenderWriteErrors(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("Announce goes on and joins errors", func(t *testing.T) {
		c := &fakeConn{fail: func(n int) error {
			if n == 0 || n == 2 {
				return errBoom
			}
			return nil
		}}
		s, err := garp.NewSenderConn(c, testIfi, nil)
		require.NoError(t, err)
		addr3 := netip.MustParseAddr("192.0.2.3")
		err = s.Announce(vip4, vip6, addr3)
		require.ErrorIs(t, err, errBoom)
		assert.Contains(t, err.Error(), vip4.String())
		assert.Contains(t, err.Error(), addr3.String())
		assert.NotContains(t, err.Error(), vip6.String())
		assert.Contains(t, err.Error(), "eth0")
		assert.Len(t, c.written(), 3)
	})
	t.Run("Burst stops at the first failed round", func(t *testing.T) {
		c := &fakeConn{fail: func(n int) error {
			if n == 1 {
				return errBoom
			}
			return nil
		}}
		s, err := garp.NewSenderConn(c, testIfi, &garp.Options{Count: 5})
		require.NoError(t, err)
		require.ErrorIs(t, s.Burst(context.Background(), vip4), errBoom)
		assert.Len(t, c.written(), 2)
	})
}

func TestSenderClose(t *testing.T) {
	c := &fakeConn{}
	s, err := garp.NewSenderConn(c, testIfi, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.Equal(t, 1, c.closed)
	require.ErrorIs(t, s.Announce(vip4), net.ErrClosed)
	require.ErrorIs(t, s.Burst(context.Background(), vip4), net.ErrClosed)
	assert.Empty(t, c.written())
}

func TestSenderConcurrent(t *testing.T) {
	s, c := newTestSender(t, &garp.Options{Count: 3})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			a := vip4
			if i%2 == 1 {
				a = vip6
			}
			assert.NoError(t, s.Burst(context.Background(), a))
			assert.NoError(t, s.Announce(a))
		})
	}
	wg.Wait()
	ws := c.written()
	require.Len(t, ws, 8*4)
	for _, w := range ws {
		f := decodeFrame(t, w)
		switch f.EtherType {
		case ethernet.EtherTypeARP:
			assert.Equal(t, vip4, f.ARP.SenderIP)
		case ethernet.EtherTypeIPv6:
			assert.Equal(t, vip6, f.NA.Target)
		}
	}
}

func TestNotSupportedMessage(t *testing.T) {
	assert.Equal(t, "not supported on "+runtime.GOOS, garp.ErrNotSupported.Error())
}

// discardConn drops every frame.
type discardConn struct{}

func (discardConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (discardConn) Close() error                              { return nil }

// Announcing on a Sender allocates nothing of its own.
func TestSenderAnnounceZeroAllocs(t *testing.T) {
	s, err := garp.NewSenderConn(discardConn{}, testIfi, nil)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		err = s.Announce(vip4, vip6)
	})
	require.NoError(t, err)
	assert.Zero(t, allocs)
}
