package havip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/internal/netmon"
)

// netlinkHost is the Host of one interface, through rtnetlink, in the
// network namespace it was opened in.
type netlinkHost struct {
	ifi   *net.Interface
	label string
	conn  *rtnetlink.Conn // adds and removes
	mon   *netmon.Monitor // lists, and follows address events
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
	mon, err := netmon.Open(netmon.AddrEvents)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("havip: %w", err)
	}
	return &netlinkHost{ifi: ifi, label: label, conn: conn, mon: mon}, nil
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
	addrs, err := h.mon.Addrs()
	if err != nil {
		return nil, fmt.Errorf("havip: %s: %w", h.ifi.Name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Index == h.ifi.Index {
			out = append(out, a.Prefix)
		}
	}
	return out, nil
}

// WatchRemoved calls removed for every address deleted from the interface
// until ctx ends. Lost events are reported as a removal of the zero
// Prefix, so the caller checks everything.
func (h *netlinkHost) WatchRemoved(ctx context.Context, removed func(netip.Prefix)) {
	h.mon.Run(ctx, func(e netmon.Event) {
		switch {
		case e.Type == netmon.Lost:
			removed(netip.Prefix{})
		case e.Type == netmon.DelAddr && e.Addr.Index == h.ifi.Index:
			removed(e.Addr.Prefix)
		}
	})
}

func (h *netlinkHost) Close() error {
	return errors.Join(h.mon.Close(), h.conn.Close())
}
