package havip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/internal/netmon"
)

// netlinkHost is the Host of one interface, through rtnetlink, in the
// network namespace it was opened in.
type netlinkHost struct {
	ifi    *net.Interface
	label  string
	conn   *rtnetlink.Conn // requests
	events *rtnetlink.Conn // address events (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR)
}

// OpenHost opens the Host of the named interface in the calling thread's
// network namespace. label, if not empty, labels the IPv4 addresses it adds
// (as keepalived's "label"; Linux wants it to start with the interface
// name, e.g. "eth0:vip"). Adding and removing addresses needs
// CAP_NET_ADMIN.
func OpenHost(name, label string) (Host, error) {
	ifi, err := netmon.InterfaceByName(name)
	if err != nil {
		return nil, configError("Interface", "%v", err)
	}
	conn, err := rtnetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("havip: rtnetlink: %w", err)
	}
	events, err := rtnetlink.Dial(&netlink.Config{Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("havip: rtnetlink address events: %w", err)
	}
	return &netlinkHost{ifi: ifi, label: label, conn: conn, events: events}, nil
}

func (h *netlinkHost) Interface() *net.Interface { return h.ifi }

// message returns the rtnetlink message for p on the interface.
func (h *netlinkHost) message(p netip.Prefix) *rtnetlink.AddressMessage {
	m := &rtnetlink.AddressMessage{
		Family:       unix.AF_INET,
		PrefixLength: uint8(p.Bits()),
		Index:        uint32(h.ifi.Index),
		Attributes:   &rtnetlink.AddressAttributes{Address: p.Addr().AsSlice(), Local: p.Addr().AsSlice()},
	}
	if p.Addr().Is6() {
		// No duplicate address detection: the address is ours the moment
		// we are master (keepalived does the same).
		m.Family, m.Flags = unix.AF_INET6, unix.IFA_F_NODAD
		m.Attributes.Local = nil
		m.Attributes.Flags = unix.IFA_F_NODAD
	}
	return m
}

func (h *netlinkHost) Add(p netip.Prefix) error {
	m := h.message(p)
	if p.Addr().Is4() {
		m.Attributes.Label = h.label // on Add only: a label in a delete must match
	}
	err := h.conn.Address.New(m)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("havip: adding %v to %s: %w", p, h.ifi.Name, err)
	}
	return nil
}

func (h *netlinkHost) Remove(p netip.Prefix) error {
	err := h.conn.Address.Delete(h.message(p))
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("havip: removing %v from %s: %w", p, h.ifi.Name, err)
	}
	return nil
}

func (h *netlinkHost) Addresses() ([]netip.Prefix, error) {
	msgs, err := h.conn.Address.List()
	if err != nil {
		return nil, fmt.Errorf("havip: listing addresses of %s: %w", h.ifi.Name, err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		if int(m.Index) != h.ifi.Index || m.Attributes == nil {
			continue
		}
		if a, ok := localAddr(m.Attributes); ok {
			out = append(out, netip.PrefixFrom(a, int(m.PrefixLength)))
		}
	}
	return out, nil
}

// WatchRemoved calls removed for every address deleted from the interface
// until ctx ends. Lost events (ENOBUFS) are reported as a removal of the
// zero Prefix, so the caller checks everything.
func (h *netlinkHost) WatchRemoved(ctx context.Context, removed func(netip.Prefix)) {
	stop := context.AfterFunc(ctx, func() { h.events.Close() })
	defer stop()
	for ctx.Err() == nil {
		_, raw, err := h.events.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				removed(netip.Prefix{})
			} else {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for _, m := range raw {
			if m.Header.Type != unix.RTM_DELADDR {
				continue
			}
			var am rtnetlink.AddressMessage
			if am.UnmarshalBinary(m.Data) != nil || int(am.Index) != h.ifi.Index || am.Attributes == nil {
				continue
			}
			if a, ok := localAddr(am.Attributes); ok {
				removed(netip.PrefixFrom(a, int(am.PrefixLength)))
			}
		}
	}
}

// localAddr is the interface's own address of an address message: IFA_LOCAL
// for IPv4 (IFA_ADDRESS is the peer on point-to-point links), IFA_ADDRESS
// for IPv6.
func localAddr(a *rtnetlink.AddressAttributes) (netip.Addr, bool) {
	ip := a.Address
	if a.Local != nil {
		ip = a.Local
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}

func (h *netlinkHost) Close() error {
	h.events.Close()
	return h.conn.Close()
}
