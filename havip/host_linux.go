package havip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/internal/netmon"
)

// netlinkHost is the Host of one interface, through rtnetlink, in the
// network namespace it was opened in. It follows the interface by name:
// when an interface of that name is deleted and made again (a VLAN, a bond
// or a veth made again, a cloud NIC hot-plugged), the new one has a new
// index and MAC address, and the Host moves to it, as keepalived follows
// an interface that comes back; a MAC address changed in place (a bond
// taking its first slave's) is followed too. While the interface is gone,
// Add fails with the kernel's error (ENODEV), naming the interface, and
// Remove has nothing to remove.
type netlinkHost struct {
	name  string
	label string
	conn  *rtnetlink.Conn // adds and removes
	watch *netmon.Watch   // the namespace's links and addresses, shared with vrrp's routers there

	mu  sync.Mutex     // guards ifi
	ifi *net.Interface // the interface as it is now; replaced, never changed
}

// OpenHost opens the Host of the named interface in the calling thread's
// network namespace. label, if not empty, labels the IPv4 addresses it adds
// (as keepalived's "label"; Linux wants it to start with the interface
// name, e.g. "eth0:vip"). Adding and removing addresses needs
// CAP_NET_ADMIN.
func OpenHost(name, label string) (Host, error) {
	// Opened before the interface is looked up: an interface made again
	// in between comes as an event.
	watch, err := netmon.OpenWatch()
	if err != nil {
		return nil, fmt.Errorf("havip: %w", err)
	}
	ifi, err := netmon.InterfaceByName(name)
	if err != nil {
		watch.Close()
		return nil, configError("Interface", "%v", err)
	}
	conn, err := rtnetlink.Dial(nil)
	if err != nil {
		watch.Close()
		return nil, fmt.Errorf("havip: rtnetlink: %w", err)
	}
	return &netlinkHost{name: name, ifi: ifi, label: label, conn: conn, watch: watch}, nil
}

// Interface returns the interface as it is now: after it was deleted and
// made again, the new one.
func (h *netlinkHost) Interface() *net.Interface {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ifi
}

// follow moves the Host to l if l is its interface (by name) with another
// index or MAC address than the Host's, and reports whether it did.
func (h *netlinkHost) follow(l netmon.Link) bool {
	if l.Name != h.name {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	mac := l.HardwareAddr
	if mac == nil {
		mac = h.ifi.HardwareAddr // a message without IFLA_ADDRESS says nothing of it
	}
	if l.Index == h.ifi.Index && bytes.Equal(mac, h.ifi.HardwareAddr) {
		return false
	}
	h.ifi = &net.Interface{Index: l.Index, Name: l.Name, HardwareAddr: mac, Flags: linkFlags(l.Flags)}
	return true
}

// linkFlags returns the net.Flags of Linux's IFF_* flags, as
// net.InterfaceByName reads them.
func linkFlags(f uint32) net.Flags {
	var out net.Flags
	for _, m := range [...]struct {
		iff  uint32
		flag net.Flags
	}{
		{unix.IFF_UP, net.FlagUp},
		{unix.IFF_BROADCAST, net.FlagBroadcast},
		{unix.IFF_LOOPBACK, net.FlagLoopback},
		{unix.IFF_POINTOPOINT, net.FlagPointToPoint},
		{unix.IFF_MULTICAST, net.FlagMulticast},
		{unix.IFF_RUNNING, net.FlagRunning},
	} {
		if f&m.iff != 0 {
			out |= m.flag
		}
	}
	return out
}

// message returns the rtnetlink message for p on the interface.
func (h *netlinkHost) message(p netip.Prefix) *rtnetlink.AddressMessage {
	m := &rtnetlink.AddressMessage{
		Family:       unix.AF_INET,
		PrefixLength: uint8(p.Bits()),
		Index:        uint32(h.Interface().Index),
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
		return fmt.Errorf("havip: adding %v to %s: %w", p, h.name, err)
	}
	return nil
}

// Remove removes p. An interface that is gone (ENODEV) has no address
// left to remove: that is not an error either.
func (h *netlinkHost) Remove(p netip.Prefix) error {
	err := h.conn.Address.Delete(h.message(p))
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("havip: removing %v from %s: %w", p, h.name, err)
	}
	return nil
}

func (h *netlinkHost) Addresses() ([]netip.Prefix, error) {
	index := h.Interface().Index
	var out []netip.Prefix
	h.watch.Read(func(v *netmon.View) { out = slices.Clone(v.Addrs(index)) })
	return out, nil
}

// WatchRemoved calls removed for every address deleted from the interface
// until ctx ends. Lost events are reported as a removal of the zero
// Prefix, so the caller checks everything; so is the interface made again
// (a link of its name with a new index, told by an event or found in the
// view after lost events), once the Host has moved to it: a master adds
// its addresses to the new interface.
func (h *netlinkHost) WatchRemoved(ctx context.Context, removed func(netip.Prefix)) {
	stop := h.watch.Subscribe(func(v *netmon.View, e netmon.Event) {
		switch e.Type {
		case netmon.Lost:
			if l, ok := v.Link(h.name); ok {
				h.follow(l)
			}
			removed(netip.Prefix{})
		case netmon.NewLink:
			if h.follow(e.Link) {
				removed(netip.Prefix{})
			}
		case netmon.DelAddr:
			if e.Addr.Index == h.Interface().Index {
				removed(e.Addr.Prefix)
			}
		}
	})
	defer stop()
	<-ctx.Done()
}

func (h *netlinkHost) Close() error {
	return errors.Join(h.watch.Close(), h.conn.Close())
}
