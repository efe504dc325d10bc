// Package vmac makes the interface that carries a VRRP virtual router's
// virtual MAC address (RFC 5798 §7.3), as keepalived's use_vmac does: a
// macvlan on the router's interface whose address is 00-00-5E-00-01-{VRID}
// for IPv4 or 00-00-5E-00-02-{VRID} for IPv6. The virtual addresses go on
// it while master, so the master answers ARP and neighbour solicitations
// for them with the virtual MAC, and a failover changes no neighbour's
// cache: only the switch learns the MAC on another port.
//
// The macvlan is in bridge mode, as FRR's vrrpd requires, so that frames
// from another node's virtual MAC, the same as ours, still reach the
// parent interface, where the router's socket hears them (in private
// mode, keepalived's, they would go to the macvlan alone). It sends
// nothing of its own while it holds no address: no link-local address
// (addr_gen_mode none, IPv6 off on an IPv4 one), so no router solicitation
// or MLD report from the virtual MAC on a backup, which would draw the
// master's traffic to it.
//
// While a macvlan of a virtual MAC is on it, the parent interface has
// arp_ignore 1, arp_filter 1 and arp_announce 2, so that it never speaks
// for a virtual address with its own MAC; what they were before is kept
// in the macvlan's alias, so that the last macvlan to go, whichever
// process made it, puts them back, also after a crash.
package vmac

import (
	"fmt"
	"net"
)

// MAC returns the virtual router MAC address of vrid: 00-00-5E-00-01-{VRID}
// for IPv4, 00-00-5E-00-02-{VRID} for IPv6 (RFC 5798 §7.3).
func MAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	family := byte(1)
	if ipv6 {
		family = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, family, vrid}
}

// DefaultName is the macvlan's name when none is configured: vrrp.{VRID}
// for IPv4 (keepalived's), vrrp6.{VRID} for IPv6, so that the two families
// of one VRID can both have one.
func DefaultName(vrid uint8, ipv6 bool) string {
	if ipv6 {
		return fmt.Sprintf("vrrp6.%d", vrid)
	}
	return fmt.Sprintf("vrrp.%d", vrid)
}
