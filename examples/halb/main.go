// Command halb is a small highly available TCP load balancer: it spreads
// connections over backends, round robin, skipping the ones its health
// checks find down, and two of it form an HA pair on a virtual address
// with VRRP (package vrrp) and own the address while master (package
// havip). When no backend is healthy its priority drops by -weight, as a
// keepalived track_script with a weight would, so the peer takes over.
//
//	halb -listen :80 -backend 192.0.2.11:8080 -backend 192.0.2.12:8080 \
//		-interface eth0 -vrid 51 -priority 150 -vip 192.0.2.100/24
//
// On SIGTERM or SIGINT it hands over (priority 0), stops accepting and
// drains the connections in flight. A bad flag is a one-line error and
// exit status 2. It needs CAP_NET_RAW and CAP_NET_ADMIN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/vrrp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// options are what the command line asks for.
type options struct {
	listen   string
	backends list
	health   time.Duration
	weight   int
	drain    time.Duration
	router   vrrp.Config
	vips     []netip.Prefix
}

// usageError is a bad command line: exit status 2.
type usageError struct{ error }

func parse(args []string) (options, error) {
	fs := flag.NewFlagSet("halb", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		o        options
		vips     list
		peers    list
		src      string
		vrid     = fs.Uint("vrid", 0, "virtual router ID, 1..255 (required)")
		priority = fs.Uint("priority", 100, "VRRP priority, 1..254")
	)
	fs.StringVar(&o.listen, "listen", "", "address to accept connections on, e.g. :80 (required)")
	fs.Var(&o.backends, "backend", "backend HOST:PORT, repeatable (at least one)")
	fs.DurationVar(&o.health, "health-interval", time.Second, "time between health checks of a backend")
	fs.IntVar(&o.weight, "weight", 60, "priority lost while no backend is healthy (1..253)")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long connections may finish after SIGTERM")
	fs.StringVar(&o.router.Interface, "interface", "", "interface of the virtual address (required)")
	fs.DurationVar(&o.router.AdvertInterval, "advert-int", time.Second, "VRRP advertisement interval")
	fs.Var(&vips, "vip", "virtual address PREFIX, repeatable (at least one)")
	fs.StringVar(&src, "src", "", "unicast source address")
	fs.Var(&peers, "peer", "unicast peer ADDR, repeatable; none means multicast")
	fs.BoolVar(&o.router.NoPreempt, "nopreempt", false, "do not preempt a lower-priority master")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return o, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case o.listen == "":
		return o, usageError{errors.New("-listen is required")}
	case len(o.backends) == 0:
		return o, usageError{errors.New("at least one -backend is required")}
	case *vrid == 0 || *vrid > 255:
		return o, usageError{fmt.Errorf("-vrid %d: need 1..255", *vrid)}
	case *priority == 0 || *priority > 254:
		return o, usageError{fmt.Errorf("-priority %d: need 1..254", *priority)}
	case o.weight < 1 || o.weight > 253:
		return o, usageError{fmt.Errorf("-weight %d: need 1..253", o.weight)}
	case o.health <= 0 || o.drain < 0:
		return o, usageError{errors.New("-health-interval must be positive and -drain not negative")}
	}
	for _, be := range o.backends {
		if _, _, err := net.SplitHostPort(be); err != nil {
			return o, usageError{fmt.Errorf("-backend %q: %v", be, err)}
		}
	}
	o.router.VRID, o.router.Priority = uint8(*vrid), uint8(*priority)
	for _, s := range vips {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return o, usageError{fmt.Errorf("-vip: %v", err)}
		}
		o.vips = append(o.vips, p)
		o.router.VirtualAddresses = append(o.router.VirtualAddresses, p.Addr())
	}
	for _, s := range peers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return o, usageError{fmt.Errorf("-peer: %v", err)}
		}
		o.router.UnicastPeers = append(o.router.UnicastPeers, a)
	}
	if src != "" {
		a, err := netip.ParseAddr(src)
		if err != nil {
			return o, usageError{fmt.Errorf("-src: %v", err)}
		}
		o.router.UnicastSource = a
	}
	return o, nil
}

// run runs halb until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	o, err := parse(args)
	var (
		bal    *balancer
		r      *vrrp.Router
		client *havip.Client
		ln     net.Listener
	)
	if err == nil {
		bal = newBalancer(o.backends, log)
		bal.checkInterval = o.health
		// The router's own health: no healthy backend costs -weight.
		o.router.Checks = []vrrp.Check{{Name: "backends", Interval: o.health, Weight: -o.weight,
			Run: func(context.Context) error {
				if bal.healthyCount() == 0 {
					return errors.New("no healthy backend")
				}
				return nil
			}}}
		o.router.Logger = log
		r, err = vrrp.NewRouter(o.router)
	}
	if err == nil {
		client, err = havip.New(havip.Config{Interface: o.router.Interface, Addresses: o.vips, Logger: log})
		if err != nil {
			r.Close()
		}
	}
	if err == nil {
		if ln, err = net.Listen("tcp", o.listen); err != nil {
			r.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "halb: %s\n", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "vrrp: "), "havip: "))
		if errors.As(err, new(usageError)) || errors.Is(err, vrrp.ErrConfig) || errors.Is(err, havip.ErrConfig) {
			return 2
		}
		return 1
	}

	var wg sync.WaitGroup
	hold, release := context.WithCancel(context.Background())
	defer release()
	wg.Go(func() { bal.checkHealth(hold) })
	wg.Go(func() { client.Run(hold) })
	wg.Go(func() { client.Follow(hold, r) })
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- bal.serve(ctx, ln, o.drain) })

	err = r.Run(ctx) // hands over with priority 0 when ctx ends
	release()
	wg.Wait()
	if err = errors.Join(err, <-serveErr); err != nil {
		fmt.Fprintf(stderr, "halb: %v\n", err)
		return 1
	}
	return 0
}
