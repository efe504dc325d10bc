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
// cloud binder to make the network agree. [github.com/vipkit/vipkit/havip/tencentcloud]
// is the binder for Tencent Cloud's VPC.
//
// The repository has three floors. The library above rests on a little
// internal plumbing (the Internet checksum, the rtnetlink monitor). The
// example programs in examples/ (vrrpd, halb, haproxy-sidecar and the
// one-command lab) are built on the library and share their
// keepalived-style flags in examples/internal/vipcmd. Beside both,
// internal/testkit holds what the tests and the lab build their networks
// with: network namespaces (netlab), a simulated Tencent Cloud VPC (vpcsim)
// and capture files (pcapio); the library never imports it.
package vipkit
