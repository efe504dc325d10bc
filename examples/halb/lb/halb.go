// Package lb is the program halb: a small highly available TCP load
// balancer. It spreads connections over backends, round robin, skipping the
// ones its health checks find down, and two of it form an HA pair on a
// virtual address with VRRP (package vrrp), owning the address while
// master (package havip). When no backend is healthy its priority drops by
// -weight, as a keepalived track_script with a weight would, so the peer
// takes over.
//
// The program lives in this package, not in package main, so that the lab
// (examples/lab) can run it too; examples/halb is its command.
package lb

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/vrrp"
)

// options are what the command line asks for.
type options struct {
	vipcmd.Options
	listen   string
	backends vipcmd.Strings
	health   time.Duration
	weight   int
	drain    time.Duration
}

// about is the first line of -h.
const about = "halb is a highly available TCP load balancer: it spreads connections over healthy backends, and with a peer over VRRP it holds the virtual address while master."

func parse(args []string, usage io.Writer) (options, error) {
	fs := flag.NewFlagSet("halb", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.listen, "listen", "", "address to accept connections on, e.g. :80 (required)")
	fs.Var(&o.backends, "backend", "backend `HOST:PORT`, repeatable (at least one)")
	fs.DurationVar(&o.health, "health-interval", time.Second, "time between health checks of a backend")
	fs.IntVar(&o.weight, "weight", 60, "priority lost while no backend is healthy (1..253)")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long connections may finish after SIGTERM")
	flags := vipcmd.AddFlags(fs)
	flags.MovingPriority("-weight")
	flags.SetBy("Checks", "-weight/-health-interval") // the backends' check
	if err := vipcmd.Parse(fs, args, about, "halb -listen ADDR -backend HOST:PORT -interface IF -vrid N -vip PREFIX [flags]", usage); err != nil {
		return o, err
	}
	var err error
	if o.Options, err = flags.Options(); err != nil {
		return o, err
	}
	switch {
	case o.listen == "":
		return o, vipcmd.Usagef("-listen is required")
	case len(o.backends) == 0:
		return o, vipcmd.Usagef("at least one -backend is required")
	case o.weight < 1 || o.weight > 253:
		return o, vipcmd.Usagef("-weight %d: need 1..253", o.weight)
	case o.health <= 0:
		return o, vipcmd.Usagef("-health-interval %v: need a positive duration", o.health)
	case o.drain < 0:
		return o, vipcmd.Usagef("-drain %v: need a duration of 0 or more", o.drain)
	}
	if err := hostPort("-listen", o.listen); err != nil {
		return o, err
	}
	for _, be := range o.backends {
		if err := hostPort("-backend", be); err != nil {
			return o, err
		}
	}
	return o, nil
}

// hostPort refuses s, the value of the flag name, unless it is HOST:PORT.
func hostPort(name, s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			err = errors.New(ae.Err)
		}
		return vipcmd.Usagef("%s %s: %v", name, s, err)
	}
	return nil
}

// Run runs halb with the command-line arguments args until ctx ends: it
// writes a JSON line for each VRRP transition to stdout (see
// vipcmd.Transition) and logs to stderr. It returns the exit status: 0
// after a clean stop, 2 for bad flags, 1 for any other failure.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return vipcmd.Exit(stderr, "halb", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	bal := newBalancer(o.backends, log)
	bal.checkInterval = o.health
	// The router's own health: no healthy backend costs -weight.
	o.Router.Checks = append(o.Router.Checks, vrrp.Check{Name: "backends", Interval: o.health, Weight: -o.weight,
		Run: func(context.Context) error {
			if bal.healthyCount() == 0 {
				return errors.New("no healthy backend")
			}
			return nil
		}})
	o.Router.Logger = log
	r, err := o.NewRouter()
	if err != nil {
		return vipcmd.Exit(stderr, "halb", err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		r.Close()
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // "bind: address already in use"
		}
		return vipcmd.Exit(stderr, "halb", fmt.Errorf("-listen %s: %w", o.listen, err))
	}
	client, err := o.NewClient(ctx, log)
	if err != nil {
		ln.Close()
		r.Close()
		return vipcmd.Exit(stderr, "halb", err)
	}

	// A balancer that cannot accept stops the router too: a master
	// without a listener would hold the address for nothing.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	checking, stopChecking := context.WithCancel(context.Background())
	defer stopChecking()
	wg.Go(func() { bal.checkHealth(checking) })
	serveErr := make(chan error, 1)
	wg.Go(func() {
		err := bal.serve(ctx, ln, o.drain)
		stop()
		serveErr <- err
	})
	err = o.Serve(ctx, r, client, stdout) // hands over with priority 0 when ctx ends
	stopChecking()
	wg.Wait()
	return vipcmd.Exit(stderr, "halb", errors.Join(err, <-serveErr))
}
