package garp_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vipkit/vipkit/garp"
)

// A gratuitous ARP in the form keepalived sends, appended to a reusable
// buffer.
func ExampleAppendGratuitousARP() {
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	buf := make([]byte, 0, garp.ARPFrameLen)
	buf, err := garp.AppendGratuitousARP(buf[:0], garp.OperationRequest, mac, netip.MustParseAddr("192.0.2.100"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", buf[:14])
	fmt.Printf("% x\n", buf[14:])
	// Output:
	// ff ff ff ff ff ff 00 00 5e 00 53 01 08 06
	// 00 01 08 00 06 04 00 01 00 00 5e 00 53 01 c0 00 02 64 ff ff ff ff ff ff c0 00 02 64
}

// An unsolicited neighbour advertisement, decoded again.
func ExampleAppendUnsolicitedNA() {
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	b, err := garp.AppendUnsolicitedNA(nil, mac, netip.Addr{}, netip.MustParseAddr("2001:db8::100"))
	if err != nil {
		panic(err)
	}
	var f garp.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	na := f.NA
	fmt.Println(len(b), f.Destination, na.Source, "->", na.Destination)
	fmt.Printf("target %v at %v, R=%v S=%v O=%v\n", na.Target, na.TargetLinkLayerAddr, na.Router, na.Solicited, na.Override)
	// Output:
	// 86 33:33:00:00:00:01 2001:db8::100 -> ff02::1
	// target 2001:db8::100 at 00:00:5e:00:53:01, R=false S=false O=true
}

// Decoding reports what is wrong through sentinels.
func ExampleNeighborAdvertisement_UnmarshalBinary() {
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	na := garp.UnsolicitedNA(mac, netip.Addr{}, netip.MustParseAddr("2001:db8::100"))
	b, _ := na.MarshalBinary()
	b[7] = 64 // forwarded by a router: not on-link any more

	var got garp.NeighborAdvertisement
	err := got.UnmarshalBinary(b)
	fmt.Println(err)
	// Output:
	// garp: IPv6 hop limit 64: IPv6 hop limit is not 255
}

// printConn stands in for the AF_PACKET socket of garp.NewSender.
type printConn struct{}

func (printConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var f garp.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		return 0, err
	}
	if f.ARP.SenderIP.IsValid() {
		fmt.Printf("to %v: ARP %v %v is at %v\n", addr, f.ARP.Operation, f.ARP.SenderIP, f.ARP.SenderHardwareAddr)
	} else {
		fmt.Printf("to %v: NA %v is at %v\n", addr, f.NA.Target, f.NA.TargetLinkLayerAddr)
	}
	return len(b), nil
}

func (printConn) Close() error { return nil }

// A Sender announces a VIP after a failover: three rounds, 10ms apart, from
// the VRRP virtual MAC of VRID 51. On Linux, garp.NewSenderByName("eth0", opts)
// opens the real socket (it needs CAP_NET_RAW).
func ExampleSender_Burst() {
	ifi := &net.Interface{Index: 2, Name: "eth0", HardwareAddr: net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}}
	s, err := garp.NewSenderConn(printConn{}, ifi, &garp.Options{
		Count:     3,
		Interval:  10 * time.Millisecond,
		SourceMAC: net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = s.Burst(ctx, netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100"))
	fmt.Println("burst:", err)
	// Output:
	// to ff:ff:ff:ff:ff:ff: ARP request 192.0.2.100 is at 00:00:5e:00:01:33
	// to 33:33:00:00:00:01: NA 2001:db8::100 is at 00:00:5e:00:01:33
	// to ff:ff:ff:ff:ff:ff: ARP request 192.0.2.100 is at 00:00:5e:00:01:33
	// to 33:33:00:00:00:01: NA 2001:db8::100 is at 00:00:5e:00:01:33
	// to ff:ff:ff:ff:ff:ff: ARP request 192.0.2.100 is at 00:00:5e:00:01:33
	// to 33:33:00:00:00:01: NA 2001:db8::100 is at 00:00:5e:00:01:33
	// burst: <nil>
}
