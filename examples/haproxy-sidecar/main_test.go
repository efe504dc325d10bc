package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// base is a good command line but for the check.
var base = []string{"-interface", "lo", "-vrid", "51", "-vip", "192.0.2.100/24"}

func with(args ...string) []string { return append(append([]string{}, base...), args...) }

func TestBadFlags(t *testing.T) {
	const url = "http://127.0.0.1:8404/healthz"
	for _, tc := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"no check", with(), "-haproxy-url or -haproxy-socket"},
		{"empty url and socket", with("-haproxy-url", "", "-haproxy-socket", ""), "-haproxy-url or -haproxy-socket"},
		{"url without scheme", with("-haproxy-url", "127.0.0.1:8404/healthz"), "-haproxy-url"},
		{"url scheme", with("-haproxy-url", "ftp://127.0.0.1/healthz"), "-haproxy-url"},
		{"url without host", with("-haproxy-url", "http:///healthz"), "-haproxy-url"},
		{"url unparsable", with("-haproxy-url", "http://[::1/healthz"), "-haproxy-url"},
		{"interval 0", with("-haproxy-url", url, "-check-interval", "0"), "-check-interval"},
		{"interval negative", with("-haproxy-url", url, "-check-interval", "-1s"), "-check-interval"},
		{"interval not a duration", with("-haproxy-url", url, "-check-interval", "2"), "-check-interval"},
		{"timeout negative", with("-haproxy-url", url, "-check-timeout", "-1s"), "-check-timeout"},
		{"rise 0", with("-haproxy-url", url, "-check-rise", "0"), "-check-rise"},
		{"fall negative", with("-haproxy-url", url, "-check-fall", "-2"), "-check-fall"},
		{"weight too big", with("-haproxy-url", url, "-check-weight", "254"), "-check-weight"},
		{"weight too small", with("-haproxy-url", url, "-check-weight", "-254"), "-check-weight"},
		{"weight of an owner", with("-haproxy-url", url, "-priority", "255", "-check-weight", "-50"), "-priority 255"},
		{"no interface", []string{"-vrid", "51", "-vip", "192.0.2.100/24", "-haproxy-url", url}, "-interface is required"},
		{"no vrid", []string{"-interface", "lo", "-vip", "192.0.2.100/24", "-haproxy-url", url}, "-vrid"},
		{"no vip", []string{"-interface", "lo", "-vrid", "51", "-haproxy-url", url}, "-vip is required"},
		{"priority 0", with("-haproxy-url", url, "-priority", "0"), "-priority"},
		{"version", with("-haproxy-url", url, "-version", "4"), "-version"},
		{"v2 interval", with("-haproxy-url", url, "-version", "2", "-advert-int", "100ms"), "-advert-int 100ms: VRRPv2"},
		{"v3 auth", with("-haproxy-url", url, "-auth-pass", "1111"), "-auth-pass: VRRPv3"},
		{"src without peer", with("-haproxy-url", url, "-src", "192.0.2.1"), "-peer: none, but -src is set"},
		{"unknown flag", with("-haproxy-url", url, "-track-script", "checkhaproxy"), "track-script"},
		{"argument", with("-haproxy-url", url, "extra"), "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			assert.Equal(t, 2, code, "%s", stderr.String())
			assert.Empty(t, stdout.String())
			assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "not one line: %q", stderr.String())
			assert.True(t, strings.HasPrefix(stderr.String(), "haproxy-sidecar: "), "%q", stderr.String())
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, &stdout, &stderr))
	assert.Empty(t, stdout.String())
	for _, flag := range []string{"-haproxy-url", "-haproxy-socket", "-check-interval", "-check-timeout",
		"-check-rise", "-check-fall", "-check-weight", "-nopreempt", "-auth-pass", "-garp-master-refresh", "-tencentcloud"} {
		assert.Contains(t, stderr.String(), flag)
	}
}

// TestCheckFromFlags: the flags make the vrrp.Check the router runs, with
// keepalived's vrrp_script defaults.
func TestCheckFromFlags(t *testing.T) {
	o, err := parse(with("-haproxy-url", "http://127.0.0.1:8404/healthz"), nil)
	require.NoError(t, err)
	c := o.check.check(slog.New(slog.DiscardHandler))
	assert.Equal(t, "checkhaproxy", c.Name)
	assert.Equal(t, time.Second, c.Interval)
	assert.Zero(t, c.Timeout, "0: the interval")
	assert.Equal(t, 1, c.Rise)
	assert.Equal(t, 1, c.Fall)
	assert.Zero(t, c.Weight, "0: FAULT while HAProxy is down")
	assert.NotNil(t, c.Run)

	o, err = parse(with("-haproxy-socket", "/run/haproxy/admin.sock", "-check-interval", "2s", "-check-timeout", "500ms",
		"-check-rise", "3", "-check-fall", "2", "-check-weight", "-60"), nil)
	require.NoError(t, err)
	c = o.check.check(slog.New(slog.DiscardHandler))
	assert.Equal(t, 2*time.Second, c.Interval)
	assert.Equal(t, 500*time.Millisecond, c.Timeout)
	assert.Equal(t, 3, c.Rise)
	assert.Equal(t, 2, c.Fall)
	assert.Equal(t, -60, c.Weight)
}
