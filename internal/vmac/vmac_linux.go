package vmac

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A Link is a macvlan that Create made.
type Link struct {
	Name   string
	Index  int
	MAC    net.HardwareAddr
	parent string
	gone   bool // Delete has released the parent; guarded by parentsMu
}

// Create makes the macvlan name with address mac on the interface of
// index parent, in the network namespace of the calling thread, and brings
// it up. It needs CAP_NET_ADMIN. A macvlan of that name, address and
// parent is taken for one a crashed run left behind and made again; any
// other interface of that name is refused, untouched. Create also sets on
// the parent what keepalived sets there (arp_ignore 1, arp_filter 1, so
// that it does not answer ARP for the virtual addresses with its own MAC);
// Delete of the last Link of the parent puts them back.
func Create(parent int, name string, mac net.HardwareAddr, ipv6 bool) (*Link, error) {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("vmac: rtnetlink: %w", err)
	}
	defer c.Close()
	p, err := c.Link.Get(uint32(parent))
	if err != nil {
		return nil, fmt.Errorf("vmac: interface %d: %w", parent, err)
	}
	if err := removeStale(c, name, mac, uint32(parent)); err != nil {
		return nil, err
	}
	err = c.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{
			Name:    name,
			Address: mac,
			Type:    uint32(parent), // IFLA_LINK, as rtnetlink names it
			Info:    &rtnetlink.LinkInfo{Kind: "macvlan", Data: &macvlan{mode: macvlanModeBridge}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("vmac: making macvlan %s on %s: %w", name, p.Attributes.Name, err)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("vmac: %w", err)
	}
	l := &Link{Name: name, Index: ifi.Index, MAC: mac, parent: p.Attributes.Name}
	if err := l.setUp(c, ipv6); err != nil {
		_ = c.Link.Delete(uint32(l.Index))
		return nil, err
	}
	if err := hold(l.parent); err != nil {
		_ = c.Link.Delete(uint32(l.Index))
		return nil, err
	}
	return l, nil
}

// removeStale deletes the interface name if it is a macvlan of address
// mac on parent, and refuses any other interface of that name.
func removeStale(c *rtnetlink.Conn, name string, mac net.HardwareAddr, parent uint32) error {
	links, err := c.Link.List()
	if err != nil {
		return fmt.Errorf("vmac: listing interfaces: %w", err)
	}
	for _, l := range links {
		a := l.Attributes
		if a == nil || a.Name != name {
			continue
		}
		if a.Info == nil || a.Info.Kind != "macvlan" || !bytes.Equal(a.Address, mac) || a.Type != parent {
			return fmt.Errorf("vmac: interface %s exists and is not the macvlan of %v on interface %d; name another", name, mac, parent)
		}
		if err := c.Link.Delete(l.Index); err != nil {
			return fmt.Errorf("vmac: removing stale %s: %w", name, err)
		}
	}
	return nil
}

// setUp sets the macvlan's sysctls and brings it up: no address of its
// own (addr_gen_mode 1, none; an IPv4 one without IPv6), and arp_ignore 1,
// so that it answers ARP only for the virtual addresses it holds, never
// for the parent's.
func (l *Link) setUp(c *rtnetlink.Conn, ipv6 bool) error {
	settings := [][2]string{{"ipv6/conf/" + l.Name + "/addr_gen_mode", "1"}, {"ipv4/conf/" + l.Name + "/arp_ignore", "1"}}
	if !ipv6 {
		settings = append(settings, [2]string{"ipv6/conf/" + l.Name + "/disable_ipv6", "1"})
	}
	for _, s := range settings {
		if err := writeSysctl(s[0], s[1]); err != nil {
			return err
		}
	}
	err := c.Link.Set(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: uint32(l.Index), Flags: unix.IFF_UP, Change: unix.IFF_UP})
	if err != nil {
		return fmt.Errorf("vmac: bringing %s up: %w", l.Name, err)
	}
	return nil
}

// Delete removes the macvlan, and the virtual addresses with it; after
// the last Link of its parent, the parent's ARP sysctls are put back.
// Deleting one that is gone already, as with its parent, is not an error;
// an interface that has taken its index is left alone.
func (l *Link) Delete() error {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return fmt.Errorf("vmac: rtnetlink: %w", err)
	}
	defer c.Close()
	links, err := c.Link.List()
	if err != nil {
		return fmt.Errorf("vmac: listing interfaces: %w", err)
	}
	for _, m := range links {
		a := m.Attributes
		if m.Index != uint32(l.Index) || a == nil || a.Name != l.Name || !bytes.Equal(a.Address, l.MAC) {
			continue
		}
		if err := c.Link.Delete(m.Index); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("vmac: deleting %s: %w", l.Name, err)
		}
	}
	return l.release()
}

// The parent's sysctls that keepalived sets for a macvlan (its
// vrrp_if_config.c), and what they were, per parent, while Links of this
// process are on it.
var (
	parentsMu sync.Mutex
	parents   = map[string]*parentState{}
)

type parentState struct {
	links int
	saved map[string]string // sysctl path → its value before
}

var parentSysctls = []string{"arp_ignore", "arp_filter"}

// hold sets the parent's ARP sysctls to 1, remembering them at its first
// Link.
func hold(parent string) error {
	parentsMu.Lock()
	defer parentsMu.Unlock()
	st := parents[parent]
	if st == nil {
		st = &parentState{saved: map[string]string{}}
		for _, name := range parentSysctls {
			path := "ipv4/conf/" + parent + "/" + name
			v, err := readSysctl(path)
			if err != nil {
				return err
			}
			st.saved[path] = v
		}
		for path := range st.saved {
			if err := writeSysctl(path, "1"); err != nil {
				return err
			}
		}
		parents[parent] = st
	}
	st.links++
	return nil
}

// release puts the parent's sysctls back after its last Link, once for l.
func (l *Link) release() error {
	parentsMu.Lock()
	defer parentsMu.Unlock()
	st := parents[l.parent]
	if st == nil || l.gone {
		return nil
	}
	l.gone = true
	if st.links--; st.links > 0 {
		return nil
	}
	delete(parents, l.parent)
	var errs []error
	for path, v := range st.saved {
		if err := writeSysctl(path, v); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// The sysctls of the calling thread's network namespace.
func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys/net", path))
	if err != nil {
		return "", fmt.Errorf("vmac: sysctl: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(path, v string) error {
	if err := os.WriteFile(filepath.Join("/proc/sys/net", path), []byte(v), 0); err != nil {
		return fmt.Errorf("vmac: sysctl: %w", err)
	}
	return nil
}

// macvlanModeBridge is MACVLAN_MODE_BRIDGE of linux/if_link.h.
const macvlanModeBridge = 4

// macvlan is the macvlan driver's IFLA_INFO_DATA: its mode.
type macvlan struct{ mode uint32 }

func (m *macvlan) New() rtnetlink.LinkDriver { return &macvlan{} }
func (m *macvlan) Kind() string              { return "macvlan" }
func (m *macvlan) Encode(ae *netlink.AttributeEncoder) error {
	ae.Uint32(unix.IFLA_MACVLAN_MODE, m.mode)
	return nil
}
func (m *macvlan) Decode(ad *netlink.AttributeDecoder) error {
	for ad.Next() {
		if ad.Type() == unix.IFLA_MACVLAN_MODE {
			m.mode = ad.Uint32()
		}
	}
	return ad.Err()
}
