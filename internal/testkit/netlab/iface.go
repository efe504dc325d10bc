package netlab

import (
	"net"
	"net/netip"
)

// An Iface is a network interface in a host: one end of a veth pair made by
// [Lab.Link] or [Switch.Attach], or a switch's bridge.
type Iface struct {
	host   *Host
	name   string
	peer   *Iface
	bridge string // the bridge a switch port is enslaved to, or ""
}

// Name returns the interface's name inside its host, such as "eth0".
func (i *Iface) Name() string { return i.name }

// Host returns the host the interface is in.
func (i *Iface) Host() *Host { return i.host }

// Peer returns the other end of the veth pair: the interface in the other
// host for [Lab.Link], the switch port for [Switch.Attach]. It is nil for a
// bridge.
func (i *Iface) Peer() *Iface { return i.peer }

// String returns "host-namespace/name".
func (i *Iface) String() string { return i.host.name + "/" + i.name }

// Interface returns the interface as its host sees it (index, MAC, MTU,
// flags), looked up inside the host. It fails the test if the interface is
// not there.
func (i *Iface) Interface() *net.Interface {
	t := i.host.lab.t
	t.Helper()
	var ifi *net.Interface
	err := i.host.Do(func() error {
		var err error
		ifi, err = net.InterfaceByName(i.name)
		return err
	})
	if err != nil {
		t.Fatalf("netlab: %v: %v", i, err)
	}
	return ifi
}

// Index returns the interface's index inside its host.
func (i *Iface) Index() int {
	i.host.lab.t.Helper()
	return i.Interface().Index
}

// MAC returns the interface's hardware address.
func (i *Iface) MAC() net.HardwareAddr {
	i.host.lab.t.Helper()
	return i.Interface().HardwareAddr
}

// AddAddr adds the address p (address and prefix length, such as
// 192.0.2.1/24) to the interface. An IPv6 address is added with "nodad", so
// it is usable at once. Use only the documentation ranges (see the package
// doc). It fails the test on error.
func (i *Iface) AddAddr(p netip.Prefix) {
	i.host.lab.t.Helper()
	args := []string{"-n", i.host.name, "addr", "add", p.String(), "dev", i.name}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	i.host.lab.mustIP(args...)
}

// DelAddr removes the address p from the interface. It fails the test on
// error.
func (i *Iface) DelAddr(p netip.Prefix) {
	i.host.lab.t.Helper()
	i.host.lab.mustIP("-n", i.host.name, "addr", "del", p.String(), "dev", i.name)
}

// SetUp sets the link up or down. Setting one end of a veth pair down takes
// the carrier off the other end too, as pulling a cable does. It fails the
// test on error.
func (i *Iface) SetUp(up bool) {
	i.host.lab.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	i.host.lab.mustIP("-n", i.host.name, "link", "set", i.name, state)
}

// Delete deletes the veth pair the interface is an end of, both ends, as
// taking a VLAN, a bond or a hot-plugged NIC away does. It fails the test
// on error.
func (i *Iface) Delete() {
	i.host.lab.t.Helper()
	i.host.lab.mustIP("-n", i.host.name, "link", "del", i.name)
}

// Make makes the deleted veth pair again with the same names: new
// interfaces, with new indexes and no addresses, both up, a switch port
// enslaved to its bridge again. It fails the test on error.
func (i *Iface) Make() {
	l := i.host.lab
	l.t.Helper()
	l.mustIP("-n", i.host.name, "link", "add", i.name, "type", "veth", "peer", "name", i.peer.name, "netns", i.peer.host.name)
	for _, end := range []*Iface{i, i.peer} {
		if end.bridge != "" {
			l.mustIP("-n", end.host.name, "link", "set", end.name, "master", end.bridge)
		}
		l.mustIP("-n", end.host.name, "link", "set", end.name, "up")
	}
}
