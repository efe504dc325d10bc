package netmon

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
)

// Groups are the kinds of rtnetlink event a [Monitor] subscribes to.
type Groups uint32

const (
	// LinkEvents are links appearing, changing and going (RTMGRP_LINK).
	LinkEvents Groups = 1 << iota
	// AddrEvents are IPv4 and IPv6 addresses added and removed
	// (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR).
	AddrEvents
)

func (g Groups) String() string {
	var s []string
	if g&LinkEvents != 0 {
		s = append(s, "link")
	}
	if g&AddrEvents != 0 {
		s = append(s, "address")
	}
	if len(s) == 0 {
		return "no"
	}
	return strings.Join(s, " and ")
}

// An EventType says what an [Event] is: the rtnetlink message type, or
// Lost.
type EventType uint16

// The types of Event. The message types have rtnetlink's numbers.
const (
	// Lost says that events were lost: the kernel dropped some (ENOBUFS)
	// or receiving failed. Whoever follows a state reads it again.
	Lost    EventType = 0
	NewLink EventType = 16 // RTM_NEWLINK: a link appeared or changed
	DelLink EventType = 17 // RTM_DELLINK: a link went (deleted, or moved to another namespace)
	NewAddr EventType = 20 // RTM_NEWADDR: an address was added (or changed)
	DelAddr EventType = 21 // RTM_DELADDR: an address was removed
)

func (t EventType) String() string {
	switch t {
	case Lost:
		return "lost"
	case NewLink:
		return "RTM_NEWLINK"
	case DelLink:
		return "RTM_DELLINK"
	case NewAddr:
		return "RTM_NEWADDR"
	case DelAddr:
		return "RTM_DELADDR"
	}
	return "rtnetlink message type " + strconv.Itoa(int(t))
}

// A Link is an interface as an rtnetlink link message tells it.
type Link struct {
	Index        int
	Name         string           // IFLA_IFNAME
	Flags        uint32           // the IFF_* flags, as Linux numbers them
	HardwareAddr net.HardwareAddr // IFLA_ADDRESS; nil when the message has none
}

// Linux's IFF_UP and IFF_RUNNING.
const (
	iffUp      = 0x1
	iffRunning = 0x40
)

// Up reports whether l can carry traffic: up and running (with carrier),
// as keepalived requires of a tracked interface.
func (l Link) Up() bool { return l.Flags&iffUp != 0 && l.Flags&iffRunning != 0 }

// An Addr is an interface's address as an rtnetlink address message tells
// it. Prefix is the interface's own address with the prefix length:
// IFA_LOCAL where the message has one (an IPv4 address; IFA_ADDRESS is the
// peer of a point-to-point link), IFA_ADDRESS otherwise (IPv6).
type Addr struct {
	Index  int
	Prefix netip.Prefix
}

// An Event is one message of a [Monitor].
type Event struct {
	Type EventType
	Link Link  // of NewLink and DelLink
	Addr Addr  // of NewAddr and DelAddr
	Err  error // of Lost: why (ENOBUFS, or the error receiving)
}

// ErrNotSupported is returned by [Open] where there is no rtnetlink.
var ErrNotSupported = errors.New("rtnetlink monitoring is not supported on " + runtime.GOOS)
