package vmac

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
	saved  string // the parent's sysctls before the first macvlan, as parentSysctls writes them
}

// parentSysctls are what the parent needs while it carries a virtual MAC,
// so that it never answers for a virtual address with its own MAC:
// keepalived's arp_ignore 1 and arp_filter 1 (its vrrp_if_config.c; ARP
// for a virtual address on the macvlan is answered there alone), and
// arp_announce 2, which keepalived leaves to the administrator
// (doc/NOTE_vrrp_vmac.txt): without it the master's own ARP requests,
// sent from the parent for traffic it answers from a virtual address,
// name the virtual address with the parent's MAC, and neighbours take it.
var parentSysctls = [...]struct{ name, value string }{{"arp_ignore", "1"}, {"arp_filter", "1"}, {"arp_announce", "2"}}

// aliasPrefix starts the alias (IFLA_IFALIAS) of a macvlan of this
// package: the parent's sysctls as they were before the first macvlan of
// a virtual MAC came on it, kept on the host so that every process, and
// one that starts again after a crash, puts back the same.
const aliasPrefix = "vipkit vmac; parent was "

// Create makes the macvlan name with address mac on the interface of
// index parent, in the network namespace of the calling thread, and brings
// it up. It needs CAP_NET_ADMIN. A macvlan of that name, address and
// parent is taken for one a crashed run left behind and made again; any
// other interface of that name is refused, untouched. While any macvlan of
// a virtual router MAC is on the parent (this process's, another's,
// keepalived's or FRR's), the parent has parentSysctls; Delete of the last
// puts back what they were before the first.
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
	l := &Link{Name: name, MAC: mac, parent: p.Attributes.Name}
	links, err := c.Link.List()
	if err != nil {
		return nil, fmt.Errorf("vmac: listing interfaces: %w", err)
	}
	for _, m := range links {
		a := m.Attributes
		if a == nil || a.Info == nil || a.Info.Kind != "macvlan" || a.Type != uint32(parent) || !isVirtualMAC(a.Address) {
			if a != nil && a.Name == name {
				return nil, fmt.Errorf("vmac: interface %s exists and is not the macvlan of %v on %s; name another", name, mac, l.parent)
			}
			continue
		}
		if a.Alias != nil && strings.HasPrefix(*a.Alias, aliasPrefix) && l.saved == "" {
			l.saved = strings.TrimPrefix(*a.Alias, aliasPrefix)
		}
		switch {
		case a.Name != name:
		case !bytes.Equal(a.Address, mac):
			return nil, fmt.Errorf("vmac: interface %s exists and is not the macvlan of %v on %s; name another", name, mac, l.parent)
		default: // ours, left by a crashed run
			if err := c.Link.Delete(m.Index); err != nil {
				return nil, fmt.Errorf("vmac: removing stale %s: %w", name, err)
			}
		}
	}
	if l.saved == "" { // the first macvlan of a virtual MAC on the parent
		if l.saved, err = readParent(l.parent); err != nil {
			return nil, err
		}
	}
	alias := aliasPrefix + l.saved
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
		return nil, fmt.Errorf("vmac: making macvlan %s on %s: %w", name, l.parent, err)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("vmac: %w", err)
	}
	l.Index = ifi.Index
	if err := l.setUp(c, ipv6, alias); err != nil {
		_ = c.Link.Delete(uint32(l.Index))
		return nil, err
	}
	var set []string
	for _, s := range parentSysctls {
		set = append(set, s.name+"="+s.value)
	}
	if err := writeParent(l.parent, strings.Join(set, " ")); err != nil {
		_ = c.Link.Delete(uint32(l.Index))
		return nil, err
	}
	return l, nil
}

// isVirtualMAC reports whether mac is a virtual router MAC address of
// RFC 5798 §7.3.
func isVirtualMAC(mac net.HardwareAddr) bool {
	return len(mac) == 6 && mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2)
}

// setUp sets the macvlan's alias and sysctls and brings it up: no address
// of its own (addr_gen_mode 1, none; an IPv4 one without IPv6), and
// arp_ignore 1, so that it answers ARP only for the virtual addresses it
// holds, never for the parent's.
func (l *Link) setUp(c *rtnetlink.Conn, ipv6 bool, alias string) error {
	settings := [][2]string{{"ipv6/conf/" + l.Name + "/addr_gen_mode", "1"}, {"ipv4/conf/" + l.Name + "/arp_ignore", "1"}}
	if !ipv6 {
		settings = append(settings, [2]string{"ipv6/conf/" + l.Name + "/disable_ipv6", "1"})
	}
	for _, s := range settings {
		if err := writeSysctl(s[0], s[1]); err != nil {
			return err
		}
	}
	if err := setAlias(l.Index, alias); err != nil {
		return fmt.Errorf("vmac: the alias of %s: %w", l.Name, err)
	}
	err := c.Link.Set(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: uint32(l.Index), Flags: unix.IFF_UP, Change: unix.IFF_UP})
	if err != nil {
		return fmt.Errorf("vmac: bringing %s up: %w", l.Name, err)
	}
	return nil
}

// setAlias sets the alias (IFLA_IFALIAS) of interface index, in an
// RTM_SETLINK of its own: package rtnetlink decodes the alias but does not
// encode it.
func setAlias(index int, alias string) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFALIAS, alias)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	ifinfo := make([]byte, unix.SizeofIfInfomsg) // struct ifinfomsg, rtnetlink(7)
	ifinfo[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(ifinfo[4:], uint32(index))
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_SETLINK, Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(ifinfo, attrs...),
	})
	return err
}

// Delete removes the macvlan, and the virtual addresses with it; when no
// macvlan of a virtual MAC is left on the parent, it puts the parent's
// sysctls back. Deleting one that is gone already, as with its parent, is
// not an error; an interface that has taken its index is left alone.
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
	var parent uint32
	for _, m := range links {
		if a := m.Attributes; a != nil && a.Name == l.parent {
			parent = m.Index
		}
	}
	others := false
	for _, m := range links {
		a := m.Attributes
		switch {
		case a == nil || a.Info == nil || a.Info.Kind != "macvlan" || a.Type != parent || !isVirtualMAC(a.Address):
		case m.Index == uint32(l.Index) && a.Name == l.Name && bytes.Equal(a.Address, l.MAC):
			if err := c.Link.Delete(m.Index); err != nil && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("vmac: deleting %s: %w", l.Name, err)
			}
		default:
			others = true
		}
	}
	if others || parent == 0 {
		return nil
	}
	return writeParent(l.parent, l.saved)
}

// readParent returns the parent's parentSysctls as writeParent takes them:
// "arp_ignore=0 arp_filter=0 arp_announce=0".
func readParent(parent string) (string, error) {
	var vals []string
	for _, s := range parentSysctls {
		v, err := readSysctl("ipv4/conf/" + parent + "/" + s.name)
		if err != nil {
			return "", err
		}
		vals = append(vals, s.name+"="+v)
	}
	return strings.Join(vals, " "), nil
}

// writeParent sets the parent's sysctls that vals names, as readParent
// writes them; it takes only those of parentSysctls.
func writeParent(parent, vals string) error {
	var errs []error
	for _, kv := range strings.Fields(vals) {
		name, v, _ := strings.Cut(kv, "=")
		known := false
		for _, s := range parentSysctls {
			known = known || s.name == name
		}
		if _, err := strconv.Atoi(v); !known || err != nil {
			errs = append(errs, fmt.Errorf("vmac: %s: not a sysctl of the parent's to set", kv))
			continue
		}
		errs = append(errs, writeSysctl("ipv4/conf/"+parent+"/"+name, v))
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
