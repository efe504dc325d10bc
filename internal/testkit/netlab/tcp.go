package netlab

import (
	"io"
	"net"
	"net/netip"
	"time"
)

// ServeName accepts TCP connections on port inside h, on every address,
// and answers each with h's name, until the returned stop is called or
// the lab is removed. Tests use it to see which host a connection reached.
func (h *Host) ServeName(port uint16) (stop func()) {
	h.lab.t.Helper()
	var ln net.Listener
	if err := h.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(netip.IPv6Unspecified(), port).String())
		return err
	}); err != nil {
		h.lab.t.Fatalf("netlab: %s: listening on port %d: %v", h.name, port, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(h.name))
			c.Close()
		}
	}()
	stop = func() { ln.Close() }
	h.lab.addStopper(stop)
	return stop
}

// A Probe is one connection attempt of ConnectLoop.
type Probe struct {
	At     time.Time
	Server string // the name the server answered, "" when the attempt failed
}

// ConnectLoop connects from h to dst every 5 ms (each attempt given 50 ms)
// until stop is closed, and then delivers every attempt on the returned
// channel.
func (h *Host) ConnectLoop(dst netip.AddrPort, stop <-chan struct{}) <-chan []Probe {
	out := make(chan []Probe, 1)
	go func() {
		var probes []Probe
		h.Do(func() error {
			for {
				select {
				case <-stop:
					return nil
				case <-time.After(5 * time.Millisecond):
				}
				p := Probe{At: time.Now()}
				if name, err := askName(dst, 50*time.Millisecond); err == nil {
					p.Server = name
				}
				probes = append(probes, p)
			}
		})
		out <- probes
	}()
	return out
}

// AskName connects from h to dst, where a server answers with a name and
// closes (as [Host.ServeName] does), and returns the name. timeout bounds
// the connection and, again, the answer.
func (h *Host) AskName(dst netip.AddrPort, timeout time.Duration) (string, error) {
	var name string
	err := h.Do(func() (err error) {
		name, err = askName(dst, timeout)
		return err
	})
	return name, err
}

// askName is AskName in the calling thread's namespace.
func askName(dst netip.AddrPort, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", dst.String(), timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	return string(b), err
}
