// Command halb is a small highly available TCP load balancer: it spreads
// connections over backends, round robin, skipping the ones its health
// checks find down, and two of it form an HA pair on a virtual address
// with VRRP and own the address while master. When no backend is healthy
// its priority drops by -weight, as a keepalived track_script with a
// weight would, so the peer takes over.
//
//	halb -listen :80 -backend 192.0.2.11:8080 -backend 192.0.2.12:8080 \
//		-interface eth0 -vrid 51 -priority 150 -vip 192.0.2.100/24
//
// It takes vrrpd's VRRP and garp flags too (-peer, -src, -nopreempt,
// -version, -tencentcloud, ...; see -h), but its -priority is 1..254:
// -weight moves it, and an address owner's 255 never moves. It writes a
// JSON line per VRRP transition on standard output and logs on standard
// error. On SIGTERM or SIGINT it hands over (priority 0), stops accepting
// and drains the connections in flight. A bad flag is a one-line error
// that names the flag, and exit status 2.
// It needs CAP_NET_RAW and CAP_NET_ADMIN.
//
// The program is in package [github.com/vipkit/vipkit/examples/halb/lb].
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkit/vipkit/examples/halb/lb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(lb.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
