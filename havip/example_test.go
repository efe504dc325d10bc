package havip_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/vrrp"
)

// A Client follows a virtual router: it holds 192.0.2.100/24 on eth0 and
// announces it while the router is master, and removes it when the router
// stops being master or stops.
func ExampleClient_Follow() {
	r, err := vrrp.NewRouter(vrrp.Config{Interface: "eth0", VRID: 51, Priority: 150,
		VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}})
	if err != nil {
		log.Fatal(err)
	}
	c, err := havip.New(havip.Config{
		Interface: "eth0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background() // a signal.NotifyContext in a program
	hold, release := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(hold); close(done) }()
	go c.Follow(hold, r)
	r.Run(ctx) // a master hands over with priority 0 when ctx ends
	release()  // then the address goes
	<-done
}

// exampleHost keeps eth0's addresses in memory and reports each change.
type exampleHost struct {
	mu     sync.Mutex
	addrs  []netip.Prefix
	events chan string
}

func (h *exampleHost) Interface() *net.Interface {
	return &net.Interface{Index: 2, Name: "eth0", HardwareAddr: net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}}
}

func (h *exampleHost) Add(p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Contains(h.addrs, p) {
		h.addrs = append(h.addrs, p)
		h.events <- "add " + p.String()
	}
	return nil
}

func (h *exampleHost) Remove(p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.addrs, p); i >= 0 {
		h.addrs = slices.Delete(h.addrs, i, i+1)
		h.events <- "remove " + p.String()
	}
	return nil
}

func (h *exampleHost) Addresses() ([]netip.Prefix, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.addrs), nil
}

func (h *exampleHost) WatchRemoved(ctx context.Context, _ func(netip.Prefix)) { <-ctx.Done() }
func (h *exampleHost) Close() error                                           { return nil }

// exampleAnnouncer reports each burst instead of sending it.
type exampleAnnouncer struct{ events chan string }

func (a exampleAnnouncer) BurstN(_ context.Context, rounds int, addrs ...netip.Addr) error {
	a.events <- fmt.Sprintf("announce %v, %d frames each", addrs, rounds)
	return nil
}
func (a exampleAnnouncer) Close() error { return nil }

// exampleBinder reports each claim instead of calling a cloud.
type exampleBinder struct{ claims chan string }

func (b exampleBinder) Claim(_ context.Context, addrs []netip.Addr) error {
	b.claims <- fmt.Sprintf("claim %v from the cloud", addrs)
	return nil
}

// NewWith runs a Client over an injected Host and Announcer (here ones that
// print what they are asked to do) and a Binder: on master the address is
// added, announced and claimed; on backup it is removed.
func ExampleNewWith() {
	events, claims := make(chan string, 16), make(chan string, 16)
	host := &exampleHost{addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}, events: events}
	c, err := havip.NewWith(havip.Config{
		Interface: "eth0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")},
		Announce:  &havip.Announce{Repeat: 3}, // one burst of three, no second burst, no refresh
		Binder:    exampleBinder{claims},
	}, host, exampleAnnouncer{events})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()

	c.SetMaster(true)
	fmt.Println(<-events)
	fmt.Println(<-events)
	fmt.Println(<-claims)
	c.SetMaster(false)
	fmt.Println(<-events)
	stop()
	<-done
	// Output:
	// add 192.0.2.100/24
	// announce [192.0.2.100], 3 frames each
	// claim [192.0.2.100] from the cloud
	// remove 192.0.2.100/24
}
