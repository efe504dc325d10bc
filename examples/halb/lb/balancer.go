package lb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A backend is one server connections are spread over.
type backend struct {
	addr    string
	healthy atomic.Bool
}

// A balancer accepts TCP connections and proxies each to the next healthy
// backend, round robin, checking every backend's health by connecting to
// it at an interval.
type balancer struct {
	backends []*backend
	log      *slog.Logger

	mu   sync.Mutex
	next int // where the round robin goes on

	dialTimeout   time.Duration
	checkInterval time.Duration
	rise, fall    int

	conns sync.WaitGroup // proxied connections, for draining
}

func newBalancer(addrs []string, log *slog.Logger) *balancer {
	b := &balancer{log: log, dialTimeout: time.Second, checkInterval: time.Second, rise: 2, fall: 3}
	for _, a := range addrs {
		b.backends = append(b.backends, &backend{addr: a})
	}
	return b
}

// pick returns the next healthy backend after the last one picked, or nil
// if none is healthy.
func (b *balancer) pick() *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	for i := range n {
		j := (b.next + i) % n
		if be := b.backends[j]; be.healthy.Load() {
			b.next = j + 1
			return be
		}
	}
	return nil
}

// healthyCount returns how many backends are healthy.
func (b *balancer) healthyCount() int {
	n := 0
	for _, be := range b.backends {
		if be.healthy.Load() {
			n++
		}
	}
	return n
}

// checkHealth checks every backend every checkInterval until ctx ends: a
// backend becomes healthy after rise successful connections in a row and
// unhealthy after fall failed ones.
func (b *balancer) checkHealth(ctx context.Context) {
	var wg sync.WaitGroup
	for _, be := range b.backends {
		wg.Go(func() {
			ok, fail := 0, 0
			t := time.NewTicker(b.checkInterval)
			defer t.Stop()
			for {
				d := net.Dialer{Timeout: b.dialTimeout}
				c, err := d.DialContext(ctx, "tcp", be.addr)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					c.Close()
					ok, fail = ok+1, 0
					if ok >= b.rise && !be.healthy.Swap(true) {
						b.log.Info("backend healthy", "backend", be.addr)
					}
				} else {
					ok, fail = 0, fail+1
					if fail >= b.fall && be.healthy.Swap(false) {
						b.log.Warn("backend unhealthy", "backend", be.addr, "err", err)
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
}

// serve accepts on ln until ctx ends, then stops accepting and waits up to
// drain for the connections in flight to finish.
func (b *balancer) serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return b.drain(drain)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		b.conns.Go(func() { b.proxy(c) })
	}
}

// drain waits for the proxied connections, up to d.
func (b *balancer) drain(d time.Duration) error {
	done := make(chan struct{})
	go func() { b.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return errors.New("halb: connections still open after the drain timeout")
	}
}

// proxy copies between c and a healthy backend until either side closes.
func (b *balancer) proxy(c net.Conn) {
	defer c.Close()
	be := b.pick()
	if be == nil {
		b.log.Warn("no healthy backend", "client", c.RemoteAddr())
		return
	}
	up, err := net.DialTimeout("tcp", be.addr, b.dialTimeout)
	if err != nil {
		b.log.Warn("backend refused", "backend", be.addr, "err", err)
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		close(done)
	}()
	io.Copy(c, up)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	<-done
}
