package vrrp

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// sleepExactly sleeps d in a nanosleep(2), whose timer is as exact as the
// kernel's timer slack (50 µs), blocking the thread.
func sleepExactly(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Nanosleep(&ts, nil) // interrupted, it wakes early: the scheduler waits again
}

// OpenConn opens the raw VRRP socket (IP protocol 112) of ifi in the
// network namespace of the calling thread: bound to the interface, joined
// to the VRRP multicast group of the family (RFC 5798 §5.1.1.2,
// §5.1.2.2), sending with TTL or hop limit 255 and not looping its own
// multicast back. It needs CAP_NET_RAW.
func OpenConn(ifi *net.Interface, ipv6 bool) (Conn, error) {
	l := &inet4Layout
	if ipv6 {
		l = &inet6Layout
	}
	c, err := net.ListenPacket(l.network, l.wildcard)
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

// A setupConn is what x/net's ipv4.PacketConn and ipv6.PacketConn share
// for setting the socket up.
type setupConn interface {
	SetMulticastInterface(ifi *net.Interface) error
	SetMulticastLoopback(on bool) error
	JoinGroup(ifi *net.Interface, group net.Addr) error
}

// A family is what differs between the IPv4 and the IPv6 socket: the
// options that set it up, through x/net, and the layout of what each
// message carries.
type family struct {
	*layout
	p     setupConn
	group netip.Addr
	hops  string // what the family calls the TTL
	// control asks for the control messages that received messages
	// carry: the packet information (IP_PKTINFO, IPV6_RECVPKTINFO) and
	// the TTL or hop limit (IP_RECVTTL, IPV6_RECVHOPLIMIT).
	control func() error
	// setTTL and setMulticastTTL set the TTL (hop limit) of unicast and
	// of multicast; setTOS the TOS (traffic class).
	setTTL, setMulticastTTL, setTOS func(int) error
	// multicastAll is the level and option of IP_MULTICAST_ALL.
	multicastAll [2]int
}

// inet4 is IPv4 over c.
func inet4(c net.PacketConn) family {
	p := ipv4.NewPacketConn(c)
	return family{layout: &inet4Layout, p: p, group: MulticastGroupIPv4, hops: "TTL",
		control: func() error { return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true) },
		setTTL:  p.SetTTL, setMulticastTTL: p.SetMulticastTTL, setTOS: p.SetTOS,
		multicastAll: [2]int{unix.IPPROTO_IP, unix.IP_MULTICAST_ALL},
	}
}

// inet6 is IPv6 over c.
func inet6(c net.PacketConn) family {
	p := ipv6.NewPacketConn(c)
	return family{layout: &inet6Layout, p: p, group: MulticastGroupIPv6, hops: "hop limit",
		control: func() error { return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true) },
		setTTL:  p.SetHopLimit, setMulticastTTL: p.SetMulticastHopLimit, setTOS: p.SetTrafficClass,
		multicastAll: [2]int{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL},
	}
}

// A sockopt is one step of setting a socket up.
type sockopt struct {
	what string
	set  func() error
}

// receiveBuffer is the size asked for the socket's receive buffer: room for
// some 5000 advertisements, 50 ms of a thousand routers at 10 ms.
const receiveBuffer = 4 << 20

// openFamily sets c up for ifi as f says, closing c at the first failure.
func openFamily(c net.PacketConn, ifi *net.Interface, f family) (Conn, error) {
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
		// Each message tells how many the queue dropped so far.
		{"overflow count", func() error { return setsockoptInt(c, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) }},
		{"join " + f.group.String(), func() error { return f.p.JoinGroup(ifi, &net.IPAddr{IP: f.group.AsSlice()}) }},
	}
	for _, s := range steps {
		if err := s.set(); err != nil {
			c.Close()
			return nil, fmt.Errorf("vrrp: %s on %s: %w", s.what, ifi.Name, err)
		}
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("vrrp: %T is not a socket", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("vrrp: raw socket on %s: %w", ifi.Name, err)
	}
	return newRawConn(c, rc, ifi.Index, f.layout), nil
}

// Messages. Once the socket is set up, they do not go through x/net's
// PacketConn: its ReadFrom and WriteTo allocate, on every call, a
// ControlMessage, the buffers of the control messages and the net.Addr of
// the peer (11 allocations per message sent, 16 per message received), and
// package net looks the zone of an IPv6 destination up among the names of
// the interfaces, which a numeric zone never matches: each advertisement
// sent to ff02::12 made it list the links over netlink again (67
// allocations, 30 kB, some 50 µs). Instead each message is one recvmsg(2) or
// sendmsg(2) on the socket's descriptor, made through syscall.RawConn so
// that the runtime's netpoller still parks a reader until the socket is
// readable and Close still wakes it, with a message header, iovecs, a
// sockaddr and control messages built once and kept with the rawConn:
// nothing is allocated per message.
//
// The destination's sockaddr and the source's control message are filled in
// per message rather than looked up in a cache: writing 4 or 16 bytes of
// address costs less than a map lookup. What does not change, the family,
// the interface index and the control message's header, is written once.

// A layout says where a family keeps what each message carries in the
// structures of the socket API: the peer's address in the sockaddr
// (struct sockaddr_in, ip(7); struct sockaddr_in6, ipv6(7)), and the
// interface and addresses in the control message of packet information
// (struct in_pktinfo, IP_PKTINFO in ip(7); struct in6_pktinfo, IPV6_PKTINFO
// in RFC 3542 §6.1). IPv4 and IPv6 share the code that reads and writes
// them at these offsets.
type layout struct {
	network, wildcard string // to open the socket with net.ListenPacket
	af                uint16 // AF_INET, AF_INET6
	addrLen           int    // of an address: 4, 16
	// headerLen is the length, options aside, of the IP header a raw
	// socket reads before the payload: IPv4's (raw(7)), whose options
	// come next; 0 in IPv6, whose raw sockets read none (RFC 3542 §3).
	headerLen int

	sockaddrLen  int // sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6)
	sockaddrAddr int // offset of sin_addr, sin6_addr
	sockaddrZone int // offset of sin6_scope_id; 0 in IPv4, which has none

	level      int32 // of the control messages: IPPROTO_IP, IPPROTO_IPV6
	pktinfo    int32 // type of the packet information: IP_PKTINFO, IPV6_PKTINFO
	hopsType   int32 // type of the TTL / hop limit received, an int: IP_TTL, IPV6_HOPLIMIT
	pktinfoLen int   // sizeof(struct in_pktinfo), sizeof(struct in6_pktinfo)
	pktIfindex int   // offset of the interface index: ipi_ifindex, ipi6_ifindex
	pktSrc     int   // offset of the source address to send from: ipi_spec_dst, ipi6_addr
	pktDst     int   // offset of the destination received: ipi_addr, ipi6_addr
}

var inet4Layout = layout{
	network: "ip4:112", wildcard: "0.0.0.0",
	af: unix.AF_INET, addrLen: 4, headerLen: ipv4.HeaderLen,

	sockaddrLen:  unix.SizeofSockaddrInet4,
	sockaddrAddr: int(unsafe.Offsetof(unix.RawSockaddrInet4{}.Addr)),

	level: unix.IPPROTO_IP, pktinfo: unix.IP_PKTINFO, hopsType: unix.IP_TTL,
	pktinfoLen: unix.SizeofInet4Pktinfo,
	pktIfindex: int(unsafe.Offsetof(unix.Inet4Pktinfo{}.Ifindex)),
	pktSrc:     int(unsafe.Offsetof(unix.Inet4Pktinfo{}.Spec_dst)),
	pktDst:     int(unsafe.Offsetof(unix.Inet4Pktinfo{}.Addr)),
}

var inet6Layout = layout{
	network: "ip6:112", wildcard: "::",
	af: unix.AF_INET6, addrLen: 16,

	sockaddrLen:  unix.SizeofSockaddrInet6,
	sockaddrAddr: int(unsafe.Offsetof(unix.RawSockaddrInet6{}.Addr)),
	sockaddrZone: int(unsafe.Offsetof(unix.RawSockaddrInet6{}.Scope_id)),

	level: unix.IPPROTO_IPV6, pktinfo: unix.IPV6_PKTINFO, hopsType: unix.IPV6_HOPLIMIT,
	pktinfoLen: unix.SizeofInet6Pktinfo,
	pktIfindex: int(unsafe.Offsetof(unix.Inet6Pktinfo{}.Ifindex)),
	pktSrc:     int(unsafe.Offsetof(unix.Inet6Pktinfo{}.Addr)),
	pktDst:     int(unsafe.Offsetof(unix.Inet6Pktinfo{}.Addr)),
}

// putAddr writes a into b if it is an address of the family (an IPv4
// address may come in IPv6 form), reporting whether it was.
func (l *layout) putAddr(b []byte, a netip.Addr) bool {
	if l.addrLen == 4 {
		if a = a.Unmap(); !a.Is4() {
			return false
		}
		a4 := a.As4()
		copy(b, a4[:])
		return true
	}
	if !a.Is6() || a.Is4In6() {
		return false
	}
	a16 := a.As16()
	copy(b, a16[:])
	return true
}

// addr reads an address of the family at the start of b.
func (l *layout) addr(b []byte) netip.Addr {
	if l.addrLen == 4 {
		return netip.AddrFrom4([4]byte(b))
	}
	return netip.AddrFrom16([16]byte(b)).Unmap()
}

// cmsg returns a control message of level and type typ (cmsg(3)) with
// room for datalen bytes of data, zeroed, from CmsgLen(0). Being allocated
// on its own, it is aligned as a struct cmsghdr must be.
func cmsg(level, typ int32, datalen int) []byte {
	b := make([]byte, unix.CmsgSpace(datalen))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(datalen))
	return b
}

// sysmsg makes the system call trap, SYS_SENDMSG on fd with msg, or
// SYS_SENDMMSG or SYS_RECVMMSG with vlen messages from msg, again when a
// signal interrupts it. It reports false when the socket is not ready
// (EAGAIN), for syscall.RawConn to wait until it is.
func sysmsg(trap, fd uintptr, msg unsafe.Pointer, vlen int) (n int, ready bool, err error) {
	for {
		syscall6 := unix.Syscall6
		if trap == unix.SYS_RECVMMSG {
			// Reading the socket, which does not block, returns at once:
			// a raw system call, which the runtime's sysmon never has to
			// take the processor back from. With Syscall6, doing so took
			// a fifth of a busy backup's time.
			syscall6 = unix.RawSyscall6
		}
		r, _, errno := syscall6(trap, fd, uintptr(msg), uintptr(vlen), 0, 0, 0)
		switch errno {
		case 0:
			return int(r), true, nil
		case unix.EINTR:
		case unix.EAGAIN:
			return 0, false, nil
		default:
			return 0, true, errno
		}
	}
}

// A rawConn is the raw VRRP socket of one interface and family.
type rawConn struct {
	c       net.PacketConn
	rc      syscall.RawConn
	l       *layout
	ifindex int
	r       receiver
	batch   batch

	// senders holds the senders no WriteTo is using. A WriteTo takes one
	// for itself, so that writers from several goroutines do not wait for
	// each other's system call. It is not a sync.Pool: that drops its
	// contents at garbage collections (and at random with the race
	// detector), which would allocate anew.
	senders struct {
		sync.Mutex
		free []*sender
	}
}

func newRawConn(c net.PacketConn, rc syscall.RawConn, ifindex int, l *layout) *rawConn {
	conn := &rawConn{c: c, rc: rc, l: l, ifindex: ifindex}
	conn.r.init(l)
	conn.batch.send = conn.batch.sendmmsg
	return conn
}

// A receiver is what recvmmsg(2) fills: a slot per message, for one read
// at a time.
type receiver struct {
	mu    sync.Mutex
	l     *layout
	slots []slot
	hdrs  []unix.Mmsghdr // hdrs[i] is slots[i]'s
	vlen  int            // how many the next recvmmsg asks for
	// recv is r.recvmmsg, made once: a func value made per read would
	// escape into RawConn.Read, and be allocated each time.
	recv func(fd uintptr) bool
	n    int
	err  error
}

// A slot is where one message is read.
type slot struct {
	iov     [2]unix.Iovec // the IPv4 header and the payload; the payload alone in IPv6
	payload *unix.Iovec   // the iovec of the payload: the caller's buffer
	hdr     [ipv4.HeaderLen]byte
	name    [unix.SizeofSockaddrInet6]byte // the source's sockaddr
	oob     []byte                         // the control messages
}

func (r *receiver) init(l *layout) {
	r.l = l
	r.slots = make([]slot, maxReadBatch)
	r.hdrs = make([]unix.Mmsghdr, maxReadBatch)
	for i := range r.slots {
		s, msg := &r.slots[i], &r.hdrs[i].Hdr
		msg.Name = &s.name[0]
		msg.Iov = &s.iov[0]
		iovs := 1
		if l.headerLen > 0 {
			s.iov[0].Base = &s.hdr[0]
			s.iov[0].SetLen(l.headerLen)
			iovs = 2
		}
		msg.SetIovlen(iovs)
		s.payload = &s.iov[iovs-1]
		// Room for what the options asked for at open put in each
		// message: the packet information, the TTL (hop limit), an int,
		// and the overflow count, a uint32.
		s.oob = make([]byte, unix.CmsgSpace(l.pktinfoLen)+2*unix.CmsgSpace(4))
		msg.Control = &s.oob[0]
	}
	r.recv = r.recvmmsg
}

func (r *receiver) recvmmsg(fd uintptr) bool {
	var ready bool
	r.n, ready, r.err = sysmsg(unix.SYS_RECVMMSG, fd, unsafe.Pointer(&r.hdrs[0]), r.vlen)
	if r.err != nil {
		r.err = os.NewSyscallError("recvmmsg", r.err)
	}
	return ready
}

// read reads at most len(bufs) messages, at least one, the payload of
// each into its buffer, and sets the length of each payload in ns and what
// the kernel told of it in infos. A message of another interface than
// ifindex (the socket may have queued some before it was bound to its own),
// or shorter than its IPv4 header says, gets a length of -1.
func (r *receiver) read(rc syscall.RawConn, ifindex int, bufs [][]byte, ns []int, infos []PacketInfo) (int, error) {
	r.vlen = min(len(bufs), len(r.slots))
	for i, b := range bufs[:r.vlen] {
		s, msg := &r.slots[i], &r.hdrs[i].Hdr
		s.payload.Base = nil
		if len(b) > 0 {
			s.payload.Base = &b[0]
		}
		s.payload.SetLen(len(b))
		msg.Namelen = uint32(r.l.sockaddrLen)
		msg.SetControllen(len(s.oob))
		msg.Flags = 0
	}
	err := rc.Read(r.recv)
	for i := range r.vlen {
		r.slots[i].payload.Base = nil // not to keep the buffers alive
	}
	if err == nil {
		err = r.err
	}
	if err != nil {
		return 0, err
	}
	for i := range r.n {
		var in int
		in, infos[i] = r.info(i)
		ns[i] = r.payloadLen(i, bufs[i])
		if in != ifindex {
			ns[i] = -1
		}
	}
	return r.n, nil
}

// payloadLen returns the length of the payload of message i read into b,
// moving it to the start of b past IPv4 options, if any; -1 for a message
// shorter than its IPv4 header says.
func (r *receiver) payloadLen(i int, b []byte) int {
	n := int(r.hdrs[i].Len)
	hl := r.l.headerLen
	if hl == 0 {
		return n
	}
	// The IPv4 header: its first hl bytes in the slot, its options, if
	// any, at the start of b.
	ihl := int(r.slots[i].hdr[0]&0x0f) << 2
	if ihl < hl || n < ihl {
		return -1
	}
	copy(b, b[ihl-hl:n-hl])
	return n - ihl
}

// info returns what the kernel told of message i: its source, from the
// sockaddr, and the interface it came in on, its destination and its TTL
// (hop limit), from the control messages. It walks the control messages
// itself: unix.ParseSocketControlMessage would allocate.
func (r *receiver) info(i int) (ifindex int, info PacketInfo) {
	l, s := r.l, &r.slots[i]
	info.Src = l.addr(s.name[l.sockaddrAddr:])
	oob := s.oob[:min(int(r.hdrs[i].Hdr.Controllen), len(s.oob))]
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			info.Drops = binary.NativeEndian.Uint32(data)
		case h.Level != l.level:
		case h.Type == l.pktinfo && len(data) >= l.pktinfoLen:
			ifindex = int(binary.NativeEndian.Uint32(data[l.pktIfindex:]))
			info.Dst = l.addr(data[l.pktDst:])
		case h.Type == l.hopsType && len(data) >= 4:
			info.TTL = uint8(binary.NativeEndian.Uint32(data))
		}
	}
	return ifindex, info
}

// ReadFrom skips the messages of other interfaces. Calls from several
// goroutines take turns.
func (c *rawConn) ReadFrom(b []byte) (int, PacketInfo, error) {
	var (
		ns    [1]int
		infos [1]PacketInfo
	)
	for {
		if _, err := c.readBatch([][]byte{b}, ns[:], infos[:]); err != nil {
			return 0, PacketInfo{}, err
		}
		if ns[0] >= 0 {
			return ns[0], infos[0], nil
		}
	}
}

// readBatch reads at most len(bufs) messages in one recvmmsg(2), waiting
// for the first, as receiver.read says. Calls from several goroutines take
// turns.
func (c *rawConn) readBatch(bufs [][]byte, ns []int, infos []PacketInfo) (int, error) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	n, err := c.r.read(c.rc, c.ifindex, bufs, ns, infos)
	if err != nil {
		return 0, c.opError("read", netip.Addr{}, err)
	}
	return n, nil
}

// A sender is what sendmsg(2) sends: the destination's sockaddr and the
// packet information, which says the interface and, per message, the
// source address (the socket is shared by routers that may send from
// different addresses). The TTL (hop limit) and the TOS (traffic class)
// are the socket's, set at open; an IPV6_HOPLIMIT control message, which
// x/net sent too, would only repeat it.
type sender struct {
	l    *layout
	msg  unix.Msghdr
	iov  unix.Iovec                     // the payload: the caller's buffer
	name [unix.SizeofSockaddrInet6]byte // the destination's sockaddr
	oob  []byte                         // IP_PKTINFO, IPV6_PKTINFO
	src  []byte                         // where in oob the source goes
	// send is s.sendmsg, made once: a func value made per WriteTo would
	// escape into RawConn.Write, and be allocated each time.
	send func(fd uintptr) bool
	err  error
}

func newSender(l *layout, ifindex int) *sender {
	s := &sender{l: l}
	binary.NativeEndian.PutUint16(s.name[:], l.af)
	s.oob = cmsg(l.level, l.pktinfo, l.pktinfoLen)
	info := s.oob[unix.CmsgLen(0):]
	binary.NativeEndian.PutUint32(info[l.pktIfindex:], uint32(ifindex))
	s.src = info[l.pktSrc : l.pktSrc+l.addrLen]
	s.msg.Name = &s.name[0]
	s.msg.Namelen = uint32(l.sockaddrLen)
	s.msg.Iov = &s.iov
	s.msg.SetIovlen(1)
	s.msg.Control = &s.oob[0]
	s.msg.SetControllen(len(s.oob))
	s.send = s.sendmsg
	return s
}

func (s *sender) sendmsg(fd uintptr) bool {
	var ready bool
	_, ready, s.err = sysmsg(unix.SYS_SENDMSG, fd, unsafe.Pointer(&s.msg), 0)
	if s.err != nil {
		s.err = os.NewSyscallError("sendmsg", s.err)
	}
	return ready
}

// address sets the destination and the source of the next message,
// reporting false if dst is not an address of the family. An IPv6
// link-local destination takes the interface's index as its scope (its
// zone: not a name, which would be looked up in the namespace of whatever
// thread runs this). An invalid src, or one of the other family, leaves
// the choice of the source to the kernel.
func (s *sender) address(src, dst netip.Addr, ifindex int) bool {
	l := s.l
	if !l.putAddr(s.name[l.sockaddrAddr:], dst) {
		return false
	}
	if l.sockaddrZone != 0 {
		var zone uint32
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
			zone = uint32(ifindex)
		}
		binary.NativeEndian.PutUint32(s.name[l.sockaddrZone:], zone)
	}
	if !l.putAddr(s.src, src) {
		clear(s.src)
	}
	return true
}

// payload makes b the payload of the next message.
func (s *sender) payload(b []byte) {
	s.iov.Base = nil
	if len(b) > 0 {
		s.iov.Base = &b[0]
	}
	s.iov.SetLen(len(b))
}

// sender returns a sender no other WriteTo is using.
func (c *rawConn) sender() *sender {
	c.senders.Lock()
	defer c.senders.Unlock()
	if n := len(c.senders.free); n > 0 {
		s := c.senders.free[n-1]
		c.senders.free = c.senders.free[:n-1]
		return s
	}
	return newSender(c.l, c.ifindex)
}

func (c *rawConn) release(s *sender) {
	c.senders.Lock()
	c.senders.free = append(c.senders.free, s)
	c.senders.Unlock()
}

func (c *rawConn) WriteTo(b []byte, src, dst netip.Addr) error {
	s := c.sender()
	defer c.release(s)
	if !s.address(src, dst, c.ifindex) {
		return c.notFamily(dst)
	}
	s.payload(b)
	err := c.rc.Write(s.send)
	s.payload(nil) // not to keep b alive
	if err == nil {
		err = s.err
	}
	if err != nil {
		return c.opError("write", dst, err)
	}
	return nil
}

// A batch is what sendmmsg(2) sends: a message header per message, each
// made by a sender of its own. The scheduler of the interface is its only
// user; the lock only makes that safe to assume.
type batch struct {
	mu      sync.Mutex
	senders []*sender
	hdrs    []unix.Mmsghdr
	which   []int // the message of each header
	from    int   // the first header not sent yet
	n       int   // how many the last sendmmsg sent
	err     error
	// send is b.sendmmsg, made once, as sender.send is.
	send func(fd uintptr) bool
}

// maxBatch is the most messages one sendmmsg sends.
const maxBatch = 64

func (b *batch) sendmmsg(fd uintptr) bool {
	var ready bool
	b.n, ready, b.err = sysmsg(unix.SYS_SENDMMSG, fd, unsafe.Pointer(&b.hdrs[b.from]), len(b.hdrs)-b.from)
	if b.err != nil {
		b.err = os.NewSyscallError("sendmmsg", b.err)
	}
	return ready
}

// writeBatch sends msgs, those without an error yet, maxBatch to a
// system call, and sets the error of each that did not leave. sendmmsg(2)
// stops at the first message that fails, and fails only if it is the
// first: that one gets the error and the rest go on.
func (c *rawConn) writeBatch(msgs []outMsg) {
	b := &c.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(msgs) > 0 {
		chunk := msgs[:min(len(msgs), maxBatch)]
		msgs = msgs[len(chunk):]
		b.hdrs, b.which = b.hdrs[:0], b.which[:0]
		for i := range chunk {
			m := &chunk[i]
			if m.err != nil {
				continue
			}
			if len(b.senders) == len(b.hdrs) {
				b.senders = append(b.senders, newSender(c.l, c.ifindex))
			}
			s := b.senders[len(b.hdrs)]
			if !s.address(m.src, m.dst, c.ifindex) {
				m.err = c.notFamily(m.dst)
				continue
			}
			s.payload(m.b)
			b.hdrs = append(b.hdrs, unix.Mmsghdr{Hdr: s.msg})
			b.which = append(b.which, i)
		}
		for b.from = 0; b.from < len(b.hdrs); {
			err := c.rc.Write(b.send)
			if err == nil {
				err = b.err
			}
			if err == nil && b.n > 0 {
				b.from += b.n
				continue
			}
			m := &chunk[b.which[b.from]]
			m.err = c.opError("write", m.dst, cmp.Or(err, io.ErrShortWrite))
			b.from++
		}
		for _, s := range b.senders[:len(b.hdrs)] {
			s.payload(nil) // not to keep the messages alive
		}
	}
}

// notFamily is the error of a destination of the other family.
func (c *rawConn) notFamily(dst netip.Addr) error {
	return c.opError("write", dst, &net.AddrError{Err: "not an address of the socket's family", Addr: dst.String()})
}

// opError describes a failed read or write as package net does. An error
// of RawConn's own (net.ErrClosed after Close) is unwrapped first: its Op is
// RawConn's.
func (c *rawConn) opError(op string, addr netip.Addr, err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		err = oe.Err
	}
	e := &net.OpError{Op: op, Net: c.l.network, Err: err}
	if addr.IsValid() {
		e.Addr = &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	}
	return e
}

func (c *rawConn) Close() error { return c.c.Close() }
