package vrrp_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os/signal"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/vrrp"
)

// A virtual router as keepalived's vrrp_instance would run it: VRID 51 on
// eth0, priority 150, one virtual address. Run returns when the context
// ends, after a master has handed over with priority 0.
func ExampleRouter() {
	r, err := vrrp.NewRouter(vrrp.Config{
		Interface:        "eth0",
		VRID:             51,
		Priority:         150,
		AdvertInterval:   time.Second,
		VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		for e := range r.Subscribe(ctx) {
			fmt.Printf("%v → %v (%v)\n", e.From, e.To, e.Reason)
		}
	}()
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// Encoding an advertisement for an IPv4 packet from 192.0.2.1 to the VRRP
// group, and decoding it as a receiver that accepts both checksum forms.
func ExampleAdvertisement_Append() {
	adv := vrrp.Advertisement{
		Version:   vrrp.Version3,
		Type:      vrrp.TypeAdvertisement,
		VRID:      51,
		Priority:  150,
		Interval:  time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
	}
	src := netip.MustParseAddr("192.0.2.1")
	b, err := adv.Append(nil, src, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b)

	var got vrrp.Advertisement
	form, err := got.Decode(b, src, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.VRID, got.Priority, got.Interval, got.Addresses, form)
	// Output:
	// 31 33 96 01 00 64 d3 71 c0 00 02 64
	// 51 150 1s [192.0.2.100] pseudo-header
}
