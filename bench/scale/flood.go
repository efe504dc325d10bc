package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipkit/vipkit/vrrp"
)

// maxFlood is the highest -flood, well beyond what the one goroutine that
// writes the flood keeps up with: the table shows the rate achieved.
const maxFlood = 1_000_000

// floodTick is how often the flooder sends a burst.
const floodTick = time.Millisecond

// A flooder sends advertisements of a VRID that no router runs from node
// a's namespace toward node b, on every link in turn, at a steady rate.
type flooder struct {
	rate  int // messages per second, over all links
	links []floodLink
	sent  atomic.Uint64

	mu     sync.Mutex
	failed uint64 // messages whose write failed
	err    error  // the first failure

	stop, done chan struct{}
	drains     sync.WaitGroup
	stopOnce   sync.Once
}

// A floodLink is the flood's socket on one link and the message it sends
// there.
type floodLink struct {
	conn vrrp.Conn
	src  netip.Addr
	msg  []byte
}

// startFlood opens a raw VRRP socket on each of node a's links, in a's
// namespace, and starts flooding at c.flood messages per second.
func (w *world) startFlood() (*flooder, error) {
	c := w.cfg
	f := &flooder{rate: c.flood, stop: make(chan struct{}), done: make(chan struct{})}
	for l := range c.links {
		src := nodeAddr(l, c.links, floodSrcHost).Addr()
		msg, err := floodAdvert(c, l).Append(nil, src, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
		if err != nil {
			f.closeConns()
			return nil, fmt.Errorf("flood: encoding its advertisement: %w", err)
		}
		var conn vrrp.Conn
		err = w.a.Do(func() error {
			ifi, err := net.InterfaceByName(ifaceName(l))
			if err != nil {
				return err
			}
			conn, err = vrrp.OpenConn(ifi, false)
			return err
		})
		if err != nil {
			f.closeConns()
			return nil, fmt.Errorf("flood: host %s: %w", w.a.Name(), err)
		}
		f.links = append(f.links, floodLink{conn: conn, src: src, msg: msg})
	}
	for _, fl := range f.links {
		f.drains.Go(func() { drain(fl.conn) })
	}
	go f.run()
	return f, nil
}

// floodAdvert is the advertisement the flood sends on link l: valid, of
// the version and interval of the routers, for a VRID none of them runs.
func floodAdvert(c config, l int) *vrrp.Advertisement {
	return &vrrp.Advertisement{
		Version: vrrp.Version(c.version), Type: vrrp.TypeAdvertisement, VRID: c.floodVRID(),
		Priority: 100, Interval: c.advert, Addresses: []netip.Addr{nodeAddr(l, c.links, floodVIPHost).Addr()},
	}
}

// drain reads and drops what the flood's socket receives, until it is
// closed: the socket joined the VRRP group, and what it left unread (a
// node b that took over would send) would count as node a's socket drops.
func drain(conn vrrp.Conn) {
	buf := make([]byte, 4096) // the longest VRRP message, 255 IPv6 addresses, fits
	for {
		_, _, err := conn.ReadFrom(buf)
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil: // a passing error: again, without spinning
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// run sends until stop: every floodTick, as many messages as the rate asks
// for since the start less those already sent, on the links in turn, so
// that a late wake-up is made up by the next burst and the average rate
// stays exact.
func (f *flooder) run() {
	defer close(f.done)
	tick := time.NewTicker(floodTick)
	defer tick.Stop()
	start := time.Now()
	var n uint64 // messages sent or failed
	for {
		select {
		case <-f.stop:
			return
		case <-tick.C:
		}
		due := uint64(time.Since(start).Seconds() * float64(f.rate))
		for ; n < due; n++ {
			fl := &f.links[n%uint64(len(f.links))]
			if err := fl.conn.WriteTo(fl.msg, fl.src, vrrp.MulticastGroupIPv4); err != nil {
				f.fail(err)
				continue
			}
			f.sent.Add(1)
		}
	}
}

// fail counts a message whose write failed.
func (f *flooder) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed++
	if f.err == nil {
		f.err = err
	}
}

// count returns how many messages have been sent: 0 when f is nil, no
// flood.
func (f *flooder) count() uint64 {
	if f == nil {
		return 0
	}
	return f.sent.Load()
}

// close stops the flood and closes its sockets; it returns how many writes
// failed and the first error. It may be called again.
func (f *flooder) close() (uint64, error) {
	f.stopOnce.Do(func() {
		close(f.stop)
		<-f.done
		f.closeConns()
		f.drains.Wait()
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed, f.err
}

// closeConns closes the flood's sockets.
func (f *flooder) closeConns() {
	for _, fl := range f.links {
		fl.conn.Close()
	}
}

// floodRate is the flood's messages per second between two samples.
func floodRate(s0, s1 sample) float64 {
	return per(float64(s1.flood-s0.flood), s1.at.Sub(s0.at).Seconds())
}
