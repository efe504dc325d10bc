package vrrp

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// currentNetns identifies the network namespace of the calling thread, so
// that routers in different namespaces of one process (as in tests) get
// sockets of their own.
func currentNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("vrrp: network namespace: %w", err)
	}
	return st.Ino, nil
}

// OpenConn opens the raw VRRP socket (IP protocol 112) of ifi in the
// network namespace of the calling thread: bound to the interface, joined
// to the VRRP multicast group of the family (RFC 5798 §5.1.1.2,
// §5.1.2.2), sending with TTL or hop limit 255 and not looping its own
// multicast back. It needs CAP_NET_RAW.
func OpenConn(ifi *net.Interface, ipv6 bool) (Conn, error) {
	network, any := "ip4:112", "0.0.0.0"
	if ipv6 {
		network, any = "ip6:112", "::"
	}
	c, err := net.ListenPacket(network, any)
	if err != nil {
		return nil, fmt.Errorf("vrrp: raw socket on %s (needs CAP_NET_RAW): %w", ifi.Name, err)
	}
	if err := bindToDevice(c, ifi.Name); err != nil {
		c.Close()
		return nil, err
	}
	if ipv6 {
		return openIPv6(c, ifi)
	}
	return openIPv4(c, ifi)
}

func bindToDevice(c net.PacketConn, name string) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("vrrp: %T is not a socket", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("vrrp: bind to %s: %w", name, os.NewSyscallError("setsockopt", serr))
	}
	return nil
}

// A sockopt is one step of setting a socket up.
type sockopt struct {
	what string
	set  func() error
}

// setup applies steps to c in order, closing c at the first failure.
func setup(c net.PacketConn, ifi *net.Interface, steps []sockopt) error {
	for _, s := range steps {
		if err := s.set(); err != nil {
			c.Close()
			return fmt.Errorf("vrrp: %s on %s: %w", s.what, ifi.Name, err)
		}
	}
	return nil
}

type conn4 struct {
	c   net.PacketConn
	p   *ipv4.PacketConn
	ifi *net.Interface
}

func openIPv4(c net.PacketConn, ifi *net.Interface) (Conn, error) {
	p := ipv4.NewPacketConn(c)
	err := setup(c, ifi, []sockopt{
		{"control messages", func() error { return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
		{"multicast TTL", func() error { return p.SetMulticastTTL(TTL) }},
		{"TTL", func() error { return p.SetTTL(TTL) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
		{"join " + MulticastGroupIPv4.String(), func() error {
			return p.JoinGroup(ifi, &net.IPAddr{IP: MulticastGroupIPv4.AsSlice()})
		}},
	})
	if err != nil {
		return nil, err
	}
	return &conn4{c: c, p: p, ifi: ifi}, nil
}

func (c *conn4) ReadFrom(b []byte) (int, PacketInfo, error) {
	for {
		n, cm, from, err := c.p.ReadFrom(b)
		if err != nil {
			return 0, PacketInfo{}, err
		}
		if cm == nil || cm.IfIndex != c.ifi.Index {
			continue
		}
		return n, PacketInfo{Src: ipAddr(from), Dst: ipFrom(cm.Dst), TTL: uint8(cm.TTL)}, nil
	}
}

// ipAddr returns the address of a *net.IPAddr, or the zero Addr.
func ipAddr(a net.Addr) netip.Addr {
	if ia, ok := a.(*net.IPAddr); ok {
		return ipFrom(ia.IP)
	}
	return netip.Addr{}
}

// ipFrom converts ip, unmapping an IPv4 address in IPv6 form.
func ipFrom(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func (c *conn4) WriteTo(b []byte, src, dst netip.Addr) error {
	cm := &ipv4.ControlMessage{Src: src.AsSlice(), IfIndex: c.ifi.Index}
	_, err := c.p.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

func (c *conn4) Close() error { return c.c.Close() }

type conn6 struct {
	c   net.PacketConn
	p   *ipv6.PacketConn
	ifi *net.Interface
}

func openIPv6(c net.PacketConn, ifi *net.Interface) (Conn, error) {
	p := ipv6.NewPacketConn(c)
	err := setup(c, ifi, []sockopt{
		{"control messages", func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
		{"multicast hop limit", func() error { return p.SetMulticastHopLimit(TTL) }},
		{"hop limit", func() error { return p.SetHopLimit(TTL) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
		{"join " + MulticastGroupIPv6.String(), func() error {
			return p.JoinGroup(ifi, &net.IPAddr{IP: MulticastGroupIPv6.AsSlice()})
		}},
	})
	if err != nil {
		return nil, err
	}
	return &conn6{c: c, p: p, ifi: ifi}, nil
}

func (c *conn6) ReadFrom(b []byte) (int, PacketInfo, error) {
	for {
		n, cm, from, err := c.p.ReadFrom(b)
		if err != nil {
			return 0, PacketInfo{}, err
		}
		if cm == nil || cm.IfIndex != c.ifi.Index {
			continue
		}
		return n, PacketInfo{Src: ipAddr(from), Dst: ipFrom(cm.Dst), TTL: uint8(cm.HopLimit)}, nil
	}
}

func (c *conn6) WriteTo(b []byte, src, dst netip.Addr) error {
	cm := &ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: c.ifi.Index, HopLimit: TTL}
	// The zone is the interface index, not its name: a name would be
	// looked up in the namespace of whatever thread runs this.
	zone := ""
	if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
		zone = strconv.Itoa(c.ifi.Index)
	}
	_, err := c.p.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: zone})
	return err
}

func (c *conn6) Close() error { return c.c.Close() }
