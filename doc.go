// Package vipkit keeps a virtual IP address alive across servers, as a
// library a Go program links in instead of running keepalived beside it.
//
// It is three packages that fit together:
//
//   - [github.com/vipkit/vipkit/vrrp] speaks VRRP version 2 (RFC 3768) and
//     version 3 (RFC 5798, RFC 9568) over IPv4 and IPv6, multicast or with
//     unicast peers, and decides which server is master of a virtual router.
//   - [github.com/vipkit/vipkit/garp] tells the LAN that an address has moved:
//     gratuitous ARP for IPv4 and unsolicited neighbour advertisements for
//     IPv6, so that switches, neighbours and cloud SDNs learn the new owner at
//     once.
//   - [github.com/vipkit/vipkit/havip] follows the election: on the master it
//     owns the address on the host (netlink), announces it with garp and, where
//     ARP alone does not move an address (an ordinary private IP in a cloud
//     VPC), drives the cloud's API; elsewhere it gives the address up.
//
// The data flows one way: received advertisements drive the vrrp state
// machine, its transitions reach havip in order, and havip uses garp and a
// cloud binder to make the network agree.
package vipkit
