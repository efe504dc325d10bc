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
		return openFamily(c, ifi, inet6(c))
	}
	return openFamily(c, ifi, inet4(c))
}

func bindToDevice(c net.PacketConn, name string) error {
	err := control(c, func(fd int) error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name) })
	if err != nil {
		return fmt.Errorf("vrrp: bind to %s: %w", name, err)
	}
	return nil
}

// control runs set on c's file descriptor; its error is setsockopt's.
func control(c net.PacketConn, set func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%T is not a socket", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = set(int(fd)) }); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", serr)
}

func setsockoptInt(c net.PacketConn, level, opt, v int) error {
	return control(c, func(fd int) error { return unix.SetsockoptInt(fd, level, opt, v) })
}

// setReceiveBuffer asks for a receive buffer of size bytes: beyond
// net.core.rmem_max with CAP_NET_ADMIN (SO_RCVBUFFORCE), within it without.
func setReceiveBuffer(c net.PacketConn, size int) error {
	if setsockoptInt(c, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) == nil {
		return nil
	}
	return setsockoptInt(c, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
}

// A cmsg is the control message type of x/net's PacketConn of a family.
type cmsg interface {
	*ipv4.ControlMessage | *ipv6.ControlMessage
}

// A packetConn is x/net's ipv4.PacketConn or ipv6.PacketConn: what the
// two share.
type packetConn[CM cmsg] interface {
	ReadFrom(b []byte) (n int, cm CM, src net.Addr, err error)
	WriteTo(b []byte, cm CM, dst net.Addr) (n int, err error)
	SetMulticastInterface(ifi *net.Interface) error
	SetMulticastLoopback(on bool) error
	JoinGroup(ifi *net.Interface, group net.Addr) error
}

// A family is what differs between the IPv4 and the IPv6 socket.
type family[CM cmsg] struct {
	p     packetConn[CM]
	group netip.Addr
	hops  string // what the family calls the TTL
	// control asks for the control messages that received reads.
	control func() error
	// setTTL and setMulticastTTL set the TTL (hop limit) of unicast and
	// of multicast; setTOS the TOS (traffic class).
	setTTL, setMulticastTTL, setTOS func(int) error
	// multicastAll is the level and option of IP_MULTICAST_ALL.
	multicastAll [2]int
	// zoned says that link-local destinations take a zone (IPv6).
	zoned bool
	// received tells the interface, destination and TTL (hop limit) of
	// a received message.
	received func(cm CM) (ifindex int, dst net.IP, hops int)
	// outgoing returns the control message of a message sent.
	outgoing func(src netip.Addr, ifindex int) CM
}

// inet4 is IPv4 over c.
func inet4(c net.PacketConn) family[*ipv4.ControlMessage] {
	p := ipv4.NewPacketConn(c)
	return family[*ipv4.ControlMessage]{p: p, group: MulticastGroupIPv4, hops: "TTL",
		control: func() error { return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true) },
		setTTL:  p.SetTTL, setMulticastTTL: p.SetMulticastTTL, setTOS: p.SetTOS,
		multicastAll: [2]int{unix.IPPROTO_IP, unix.IP_MULTICAST_ALL},
		received:     func(cm *ipv4.ControlMessage) (int, net.IP, int) { return cm.IfIndex, cm.Dst, cm.TTL },
		outgoing: func(src netip.Addr, ifindex int) *ipv4.ControlMessage {
			return &ipv4.ControlMessage{Src: src.AsSlice(), IfIndex: ifindex}
		},
	}
}

// inet6 is IPv6 over c.
func inet6(c net.PacketConn) family[*ipv6.ControlMessage] {
	p := ipv6.NewPacketConn(c)
	return family[*ipv6.ControlMessage]{p: p, group: MulticastGroupIPv6, hops: "hop limit",
		control: func() error { return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true) },
		setTTL:  p.SetHopLimit, setMulticastTTL: p.SetMulticastHopLimit, setTOS: p.SetTrafficClass,
		multicastAll: [2]int{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL},
		zoned:        true,
		received:     func(cm *ipv6.ControlMessage) (int, net.IP, int) { return cm.IfIndex, cm.Dst, cm.HopLimit },
		outgoing: func(src netip.Addr, ifindex int) *ipv6.ControlMessage {
			return &ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: ifindex, HopLimit: TTL}
		},
	}
}

// A sockopt is one step of setting a socket up.
type sockopt struct {
	what string
	set  func() error
}

// A rawConn is the raw VRRP socket of one interface and family.
type rawConn[CM cmsg] struct {
	c   net.PacketConn
	f   family[CM]
	ifi *net.Interface
}

// receiveBuffer is the size asked for the socket's receive buffer: room for
// some 5000 advertisements, 50 ms of a thousand routers at 10 ms.
const receiveBuffer = 4 << 20

// openFamily sets c up for ifi as f says, closing c at the first failure.
func openFamily[CM cmsg](c net.PacketConn, ifi *net.Interface, f family[CM]) (Conn, error) {
	steps := []sockopt{
		{"control messages", f.control},
		{"multicast interface", func() error { return f.p.SetMulticastInterface(ifi) }},
		{"multicast " + f.hops, func() error { return f.setMulticastTTL(TTL) }},
		{f.hops, func() error { return f.setTTL(TTL) }},
		{"TOS", func() error { return f.setTOS(TOS) }},
		{"multicast loopback", func() error { return f.p.SetMulticastLoopback(false) }},
		// Only the groups this socket joined, not every group of the host.
		{"multicast all off", func() error { return setsockoptInt(c, f.multicastAll[0], f.multicastAll[1], 0) }},
		{"receive buffer", func() error { return setReceiveBuffer(c, receiveBuffer) }},
		{"join " + f.group.String(), func() error { return f.p.JoinGroup(ifi, &net.IPAddr{IP: f.group.AsSlice()}) }},
	}
	for _, s := range steps {
		if err := s.set(); err != nil {
			c.Close()
			return nil, fmt.Errorf("vrrp: %s on %s: %w", s.what, ifi.Name, err)
		}
	}
	return &rawConn[CM]{c: c, f: f, ifi: ifi}, nil
}

// ReadFrom skips the messages of other interfaces.
func (c *rawConn[CM]) ReadFrom(b []byte) (int, PacketInfo, error) {
	for {
		n, cm, from, err := c.f.p.ReadFrom(b)
		if err != nil {
			return 0, PacketInfo{}, err
		}
		if cm == nil {
			continue
		}
		ifindex, dst, hops := c.f.received(cm)
		if ifindex != c.ifi.Index {
			continue
		}
		return n, PacketInfo{Src: ipAddr(from), Dst: ipFrom(dst), TTL: uint8(hops)}, nil
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

func (c *rawConn[CM]) WriteTo(b []byte, src, dst netip.Addr) error {
	to := &net.IPAddr{IP: dst.AsSlice()}
	// The zone is the interface index, not its name: a name would be
	// looked up in the namespace of whatever thread runs this.
	if c.f.zoned && (dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast()) {
		to.Zone = strconv.Itoa(c.ifi.Index)
	}
	_, err := c.f.p.WriteTo(b, c.f.outgoing(src, c.ifi.Index), to)
	return err
}

func (c *rawConn[CM]) Close() error { return c.c.Close() }
