package netlab

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingInterval is how often Ping sends an echo request while it waits.
const pingInterval = 200 * time.Millisecond

// Ping sends ICMP (or ICMPv6) echo requests from the host to dst, one every
// 200ms, until an echo reply from dst arrives or timeout runs out, and
// returns nil when a reply came. It needs no ping binary: it opens a raw
// socket inside the host with [Host.Do]. A link-local dst needs its zone,
// the name of the interface in this host (fe80::1%eth0).
func (h *Host) Ping(dst netip.Addr, timeout time.Duration) error {
	err := h.Do(func() error { return ping(dst, timeout) })
	if err != nil {
		return fmt.Errorf("netlab: ping %v from %s: %w", dst, h.name, err)
	}
	return nil
}

func ping(dst netip.Addr, timeout time.Duration) error {
	network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
	var echo, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() && !dst.Is4In6() {
		network, laddr, proto = "ip6:ipv6-icmp", "::", 58
		echo, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	} else {
		dst = dst.Unmap()
	}
	c, err := icmp.ListenPacket(network, laddr)
	if err != nil {
		return err
	}
	defer c.Close()

	var token [18]byte // 2 bytes of ID, 16 of payload
	if _, err := rand.Read(token[:]); err != nil {
		return err
	}
	id := int(binary.BigEndian.Uint16(token[:2]))
	data := token[2:]
	to := &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for seq := 1; ; seq++ {
		msg := icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}
		b, err := msg.Marshal(nil) // the kernel computes the ICMPv6 checksum
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, to); err != nil {
			return err
		}
		next := time.Now().Add(pingInterval)
		if next.After(deadline) {
			next = deadline
		}
		if err := c.SetReadDeadline(next); err != nil {
			return err
		}
		for {
			n, from, err := c.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return err
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			if !ok || e.ID != id || !bytes.Equal(e.Data, data) {
				continue
			}
			if a, ok := from.(*net.IPAddr); ok && (dst.IsMulticast() || sameIP(a.IP, dst)) {
				return nil
			}
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("no echo reply within %v", timeout)
		}
	}
}

func sameIP(ip net.IP, a netip.Addr) bool {
	b, ok := netip.AddrFromSlice(ip)
	return ok && b.Unmap() == a.WithZone("").Unmap()
}
