// Package garp builds, parses and sends the frames that tell a LAN "this IP
// address is now at this MAC address": gratuitous ARP for IPv4 and
// unsolicited neighbour advertisements for IPv6.
//
// # Wire formats
//
// [ARP] is the 28-byte Ethernet/IPv4 ARP packet of RFC 826. A gratuitous ARP
// (RFC 5227 §3, "ARP Announcement") has the sender and target protocol
// addresses both set to the announced address. By default this package sends
// the request form, exactly as keepalived does: op=request, SHA=our MAC,
// SPA=TPA=VIP, THA=ff:ff:ff:ff:ff:ff, Ethernet destination broadcast. The
// reply form (op=reply, also broadcast) sets THA=SHA as RFC 5944 §4.6 asks of
// a gratuitous reply; Linux (net/ipv4/arp.c, arp_is_garp) only treats a reply
// as gratuitous when it does, and ignores a non-gratuitous update within the
// neighbour's locktime (1 s by default).
//
// [NeighborAdvertisement] is an IPv6 packet (fixed header, RFC 8200 §3) that
// carries an ICMPv6 Neighbor Advertisement (RFC 4861 §4.4). The unsolicited
// form of RFC 4861 §7.2.6 goes to the all-nodes group ff02::1 (Ethernet
// 33:33:00:00:00:01, RFC 2464 §7) with hop limit 255, Solicited clear,
// Override set and a Target Link-Layer Address option. Its source address is
// the target address itself unless configured otherwise, as keepalived does
// (keepalived/vrrp/vrrp_ndisc.c); Linux accepts it because it only checks that
// the target is not one of its own addresses.
//
// [Frame] is an Ethernet II frame that carries either of the two. The
// Append* functions write a complete frame into a caller's buffer and do not
// allocate when the buffer has room.
//
// Encoding appends to a caller's buffer (AppendBinary); MarshalBinary is a
// thin wrapper. Decoding (UnmarshalBinary) fills a caller-owned value and
// reuses the capacity of its hardware address slices, so decoding into the same
// value again allocates nothing. Input that ends too early gives
// [io.ErrUnexpectedEOF]; input that is long enough but wrong gives an error
// that wraps one of the exported sentinels (ErrHardwareType, ErrChecksum, ...).
// Length fields are never trusted: every one is checked against the bytes
// actually present. Whatever decodes without error encodes again, and decodes
// to an equal value.
//
// # Sending
//
// A [Sender] writes these frames on one interface through a Linux AF_PACKET
// socket (github.com/mdlayher/packet). [Sender.Announce] sends one frame per
// address; [Sender.Burst] repeats that [Options.Count] times, [Options.Interval]
// apart, and stops when its context is done. IPv4 addresses get a gratuitous
// ARP, IPv6 addresses an unsolicited neighbour advertisement. [NewSenderConn]
// takes any [Conn], so tests run without root. On systems other than Linux,
// [NewSender] and [NewSenderByName] return an error wrapping [ErrNotSupported].
package garp
