package main

import (
	"fmt"
	"net/netip"
)

// The benchmark's addresses, all from the documentation ranges (RFC 5737):
// the links share 192.0.2.0/24, cut into as many equal subnets as there are
// links (4 links: four /26), node a .1 and node b .2 of each; with -flood,
// node a's end also has .3, the flooder's source, and the flood advertises
// .4, which no interface has; the virtual addresses come from
// 198.51.100.0/24 and 203.0.113.0/24.
const (
	maxLinks      = 64 // 192.0.2.0/24 in /30s
	maxFloodLinks = 32 // in /29s, room for hosts .3 and .4
	vipPool       = 2 * 254
)

// The host numbers, in each link's subnet, of the flood (see flood.go).
const (
	floodSrcHost = 3 // the flooder's source: a second address of node a's end
	floodVIPHost = 4 // the one virtual address of the flood's advertisements
)

// ifaceName is the name of link l's interface in both nodes: netlab names
// a host's veth ends eth0, eth1... in the order they are made.
func ifaceName(l int) string { return fmt.Sprintf("eth%d", l) }

// linkBits is the prefix length of each link's subnet.
func linkBits(links int) int {
	bits := 24
	for 1<<(bits-24) < links {
		bits++
	}
	return max(bits, 24)
}

// nodeAddr is host n's address on link l of links, with its subnet's
// length: 1 node a, 2 node b, floodSrcHost and floodVIPHost the flood's.
func nodeAddr(l, links, n int) netip.Prefix {
	bits := linkBits(links)
	base := l << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(base + n)}), bits)
}

// vip returns the virtual address of router i (0-based, link by link): 508
// addresses, 198.51.100.1-254 then 203.0.113.1-254, used again from the
// first for routers beyond them. A link has at most 255 routers, so the
// routers of one interface never share an address; with more than 508
// routers, routers of different links do (a VIP is only advertised by
// vipkit, and keepalived adds each to its own interface).
func vip(i int) netip.Addr {
	i %= vipPool
	if i < 254 {
		return netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
	}
	return netip.AddrFrom4([4]byte{203, 0, 113, byte(i - 254 + 1)})
}
