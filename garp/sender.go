package garp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// Defaults of [Options], those of keepalived (garp_master_repeat 5,
// garp_interval 0).
const (
	DefaultCount                  = 5
	DefaultInterval time.Duration = 0
)

// Conn is what a [Sender] writes frames to: a link-layer socket that sends b
// as a complete Ethernet frame. addr is a *packet.Addr holding the frame's
// destination MAC address. *packet.Conn implements it; tests inject their own.
type Conn interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
	Close() error
}

// Options configure a [Sender]. The zero value gives keepalived's defaults.
type Options struct {
	// Count is the number of rounds [Sender.Burst] sends. 0 means
	// DefaultCount (5); it must not be negative.
	Count int
	// Interval is the time between the starts of two rounds of a burst. 0
	// (the default) sends the rounds back to back; it must not be negative.
	Interval time.Duration
	// ARPOperation selects the gratuitous ARP form: OperationRequest (the
	// default, used for 0) or OperationReply. See [GratuitousARP].
	ARPOperation Operation
	// SourceMAC, if set, replaces the interface's MAC address as the
	// Ethernet source, ARP sender hardware address and NA target
	// link-layer address, e.g. a VRRP virtual MAC 00:00:5e:00:01:{VRID}
	// (RFC 5798 §7.3). It must be a 6-byte unicast address.
	SourceMAC net.HardwareAddr
	// IPv6Source, if set, is the IPv6 source of every neighbour
	// advertisement; it should be an address of the interface (RFC 4861
	// §4.4), typically its link-local address. Unset, each advertisement is
	// sent from its own target address, as keepalived does.
	IPv6Source netip.Addr
	// Router sets the Router flag of neighbour advertisements (RFC 4861
	// §4.4). Set it when the address is a router's (a VRRP gateway):
	// a host that receives R clear for a router removes it from its default
	// router list (RFC 4861 §7.2.5). Default clear.
	Router bool
}

// Sender announces addresses on one Ethernet interface. Its methods are safe
// for concurrent use.
type Sender struct {
	conn  Conn
	ifi   string
	mac   net.HardwareAddr
	opts  Options
	bcast net.Addr
	nodes net.Addr

	mu     sync.Mutex
	buf    []byte
	closed bool
}

// NewSenderConn returns a Sender that writes to conn the frames of the
// Ethernet interface ifi (whose name and MAC address it uses). opts may be
// nil. It fails with an error wrapping [ErrConfig] that names the field if
// conn or ifi is nil, ifi has no 6-byte MAC address, or an option is invalid.
// The Sender owns conn from then on: [Sender.Close] closes it.
func NewSenderConn(conn Conn, ifi *net.Interface, opts *Options) (*Sender, error) {
	if conn == nil {
		return nil, fmt.Errorf("garp: conn is nil: %w", ErrConfig)
	}
	o, err := checkInterface(ifi, opts)
	if err != nil {
		return nil, err
	}
	return newSender(conn, ifi, o), nil
}

func newSender(conn Conn, ifi *net.Interface, o Options) *Sender {
	mac := o.SourceMAC
	if mac == nil {
		mac = ifi.HardwareAddr
	}
	return &Sender{
		conn:  conn,
		ifi:   ifi.Name,
		mac:   append(net.HardwareAddr(nil), mac...),
		opts:  o,
		bcast: &packet.Addr{HardwareAddr: broadcastMAC},
		nodes: &packet.Addr{HardwareAddr: allNodesMAC},
		buf:   make([]byte, 0, NeighborAdvertisementFrameLen),
	}
}

// checkInterface validates ifi and opts and returns the options with defaults
// filled in.
func checkInterface(ifi *net.Interface, opts *Options) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if ifi == nil {
		return o, fmt.Errorf("garp: interface is nil: %w", ErrConfig)
	}
	if len(ifi.HardwareAddr) != macLen {
		return o, fmt.Errorf("garp: interface %q HardwareAddr %q is not an Ethernet address: %w",
			ifi.Name, ifi.HardwareAddr, ErrConfig)
	}
	switch {
	case o.Count < 0:
		return o, fmt.Errorf("garp: Options.Count %d is negative: %w", o.Count, ErrConfig)
	case o.Count == 0:
		o.Count = DefaultCount
	}
	if o.Interval < 0 {
		return o, fmt.Errorf("garp: Options.Interval %v is negative: %w", o.Interval, ErrConfig)
	}
	switch o.ARPOperation {
	case 0:
		o.ARPOperation = OperationRequest
	case OperationRequest, OperationReply:
	default:
		return o, fmt.Errorf("garp: Options.ARPOperation %v: %w", o.ARPOperation, ErrConfig)
	}
	if o.SourceMAC != nil {
		if err := checkSourceMAC(o.SourceMAC); err != nil {
			return o, fmt.Errorf("garp: Options.SourceMAC %q %w: %w", o.SourceMAC, err, ErrConfig)
		}
		o.SourceMAC = append(net.HardwareAddr(nil), o.SourceMAC...)
	}
	if o.IPv6Source.IsValid() {
		if err := checkAnnounced(o.IPv6Source); err != nil || !o.IPv6Source.Is6() {
			return o, fmt.Errorf("garp: Options.IPv6Source %v is not a unicast IPv6 address: %w",
				o.IPv6Source, ErrConfig)
		}
	}
	return o, nil
}

func checkSourceMAC(mac net.HardwareAddr) error {
	switch {
	case len(mac) != macLen:
		return errors.New("is not 6 bytes")
	case mac[0]&1 != 0:
		return errors.New("is a group address")
	case [6]byte(mac) == [6]byte{}:
		return errors.New("is zero")
	}
	return nil
}

// checkAnnounced reports why a cannot be announced, or nil.
func checkAnnounced(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("is the zero Addr")
	case a.Is4In6():
		return errors.New("is IPv4-mapped IPv6; use the IPv4 address")
	case a.IsUnspecified():
		return errors.New("is unspecified")
	case a.IsMulticast():
		return errors.New("is multicast")
	case a.IsLoopback():
		return errors.New("is loopback")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("is the limited broadcast address")
	}
	return nil
}

// Interface returns the name of the interface the Sender was made for.
func (s *Sender) Interface() string { return s.ifi }

// SourceMAC returns the MAC address the Sender announces.
func (s *Sender) SourceMAC() net.HardwareAddr { return append(net.HardwareAddr(nil), s.mac...) }

// Options returns the Sender's options with defaults filled in.
func (s *Sender) Options() Options {
	o := s.opts
	o.SourceMAC = append(net.HardwareAddr(nil), o.SourceMAC...)
	if len(o.SourceMAC) == 0 {
		o.SourceMAC = nil
	}
	return o
}

// Announce sends one frame for each address, in order: a gratuitous ARP for
// an IPv4 address, an unsolicited neighbour advertisement for an IPv6 one. It
// checks every address first and sends nothing if one is invalid (the error
// wraps [ErrAddress] and names it by index). A write error does not stop the
// other addresses; all of them are returned joined. After [Sender.Close] it
// returns an error wrapping [net.ErrClosed].
func (s *Sender) Announce(addrs ...netip.Addr) error {
	if err := checkAddrs(addrs); err != nil {
		return err
	}
	return s.round(addrs)
}

// Burst sends [Options.Count] rounds of [Sender.Announce] for addrs, the
// rounds [Options.Interval] apart: any one frame may be lost, so RFC 5227
// §2.3 announces twice and keepalived five times. It returns nil
// after the last round, the first round's error that had one, or ctx.Err()
// as soon as ctx is done (no further frame is sent then).
func (s *Sender) Burst(ctx context.Context, addrs ...netip.Addr) error {
	return s.BurstN(ctx, s.opts.Count, addrs...)
}

// BurstN is Burst with rounds rounds instead of [Options.Count], for
// callers that send bursts of several sizes (keepalived's
// garp_master_repeat and garp_master_refresh_repeat).
func (s *Sender) BurstN(ctx context.Context, rounds int, addrs ...netip.Addr) error {
	if err := checkAddrs(addrs); err != nil {
		return err
	}
	var timer *time.Timer
	for i := 0; i < rounds; i++ {
		if i > 0 && s.opts.Interval > 0 {
			if timer == nil {
				timer = time.NewTimer(s.opts.Interval)
				defer timer.Stop()
			} else {
				timer.Reset(s.opts.Interval)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.round(addrs); err != nil {
			return err
		}
	}
	return nil
}

func checkAddrs(addrs []netip.Addr) error {
	for i, a := range addrs {
		if err := checkAnnounced(a); err != nil {
			return fmt.Errorf("garp: address %d (%v) %w: %w", i, a, err, ErrAddress)
		}
	}
	return nil
}

// round writes one frame per (already checked) address.
func (s *Sender) round(addrs []netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("garp: sender on %s: %w", s.ifi, net.ErrClosed)
	}
	var errs []error
	for _, a := range addrs {
		var (
			err error
			dst = s.bcast
		)
		a = a.WithZone("")
		if a.Is4() {
			s.buf, err = AppendGratuitousARP(s.buf[:0], s.opts.ARPOperation, s.mac, a)
		} else {
			f := Frame{
				Destination: allNodesMAC,
				Source:      s.mac,
				EtherType:   ethernet.EtherTypeIPv6,
				NA:          UnsolicitedNA(s.mac, s.opts.IPv6Source, a),
			}
			f.NA.Router = s.opts.Router
			s.buf, err = f.AppendBinary(s.buf[:0])
			dst = s.nodes
		}
		if err == nil {
			_, err = s.conn.WriteTo(s.buf, dst)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("garp: announce %v on %s: %w", a, s.ifi, err))
		}
	}
	return errors.Join(errs...)
}

// Close closes the connection. Later announcements fail with an error
// wrapping [net.ErrClosed]; closing again returns nil.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.conn.Close()
}
