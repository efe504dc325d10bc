package lb

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// server runs handle for each connection to a loopback listener until the
// test ends, and returns its address.
func server(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// nameServer answers each connection with its name and the bytes it was
// sent.
func nameServer(t *testing.T, name string) string {
	return server(t, func(c net.Conn) {
		in, _ := io.ReadAll(c)
		c.Write(append([]byte(name+":"), in...))
	})
}

// startBalancer runs a balancer over addrs on loopback until the test
// ends and returns its address.
func startBalancer(t *testing.T, addrs ...string) (*balancer, string, context.CancelFunc) {
	b := newBalancer(addrs, slog.New(slog.DiscardHandler))
	b.checkInterval, b.dialTimeout, b.rise, b.fall = 10*time.Millisecond, 100*time.Millisecond, 1, 1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go b.checkHealth(ctx)
	go func() { done <- b.serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return b, ln.Addr().String(), cancel
}

// ask sends msg through addr and returns the answer.
func ask(t *testing.T, addr, msg string) string {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	c.Write([]byte(msg))
	c.(*net.TCPConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return string(out)
}

func TestRoundRobinSkipsUnhealthy(t *testing.T) {
	a, b := nameServer(t, "a"), nameServer(t, "b")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there

	bal, addr, _ := startBalancer(t, a, deadAddr, b)
	require.Eventually(t, func() bool { return bal.healthyCount() == 2 }, time.Second, 5*time.Millisecond)
	count := map[string]int{}
	for range 10 {
		name, rest, _ := strings.Cut(ask(t, addr, "ping"), ":")
		assert.Equal(t, "ping", rest, "the bytes were not proxied both ways")
		count[name]++
	}
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, count)
}

func TestNoHealthyBackend(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	dead.Close()
	bal, addr, _ := startBalancer(t, deadAddr)
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, bal.healthyCount())
	assert.Empty(t, ask(t, addr, "ping"), "a connection was served with no healthy backend")
}

// TestDrain: on stop the balancer accepts no more, and a connection in
// flight finishes.
func TestDrain(t *testing.T) {
	// A slow backend: answers 300 ms after the request.
	slow := server(t, func(c net.Conn) {
		buf := make([]byte, 4)
		if n, _ := io.ReadFull(c, buf); n == 4 {
			time.Sleep(300 * time.Millisecond)
			c.Write(bytes.ToUpper(buf))
		}
	})
	bal, addr, stop := startBalancer(t, slow)
	require.Eventually(t, func() bool { return bal.healthyCount() == 1 }, time.Second, 5*time.Millisecond)

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	c.Write([]byte("ping"))
	time.Sleep(50 * time.Millisecond)
	stop()
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err, "the connection in flight was cut")
	assert.Equal(t, "PING", string(buf))
	time.Sleep(20 * time.Millisecond)
	_, err = net.DialTimeout("tcp", addr, 100*time.Millisecond)
	assert.Error(t, err, "still accepting after stop")
}

func TestBadFlags(t *testing.T) {
	base := []string{"-listen", ":80", "-backend", "192.0.2.11:8080", "-interface", "lo", "-vrid", "1", "-vip", "192.0.2.100/24"}
	without := func(flag string) []string {
		var out []string
		for i := 0; i < len(base); i += 2 {
			if base[i] != flag {
				out = append(out, base[i], base[i+1])
			}
		}
		return out
	}
	for _, args := range [][]string{
		without("-listen"), without("-backend"), without("-vrid"),
		append(base, "-priority", "255"),
		append(base, "-weight", "0"),
		append(base, "-backend", "no-port"),
		append(base, "-vip", "bogus"),
		append(base, "-advert-int", "5ms"),
		append(base, "-bogus"),
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, Run(context.Background(), args, &stdout, &stderr), "%v: %s", args, stderr.String())
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: not one line: %q", args, stderr.String())
		assert.Empty(t, stdout.String())
	}
}
