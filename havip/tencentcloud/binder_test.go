package tencentcloud_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

const (
	secretID  = "AKIDvipkittest"
	secretKey = "SK-vipkit-d0-n0t-pr1nt-7f3a9c"
)

var (
	havipAddr   = netip.MustParseAddr("192.0.2.100")
	privateAddr = netip.MustParseAddr("192.0.2.101")
	freeAddr    = netip.MustParseAddr("192.0.2.102")
)

// world is a simulated VPC with instances a and b in one subnet, an
// HAVIP, and a private IP held by a, served over loopback.
type world struct {
	cloud *vpcsim.Cloud
	api   string // endpoint host:port
	meta  map[string]string
}

func newWorld(t *testing.T) *world {
	t.Setenv("TENCENTCLOUD_SECRET_ID", "")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "")
	cloud := vpcsim.NewCloud(secretID, secretKey)
	t.Cleanup(cloud.Close)
	cloud.AddSubnet("subnet-1", netip.MustParsePrefix("192.0.2.0/24"))
	cloud.AddInstance("ins-a", "eni-a", nil, "subnet-1", netip.MustParseAddr("192.0.2.1"))
	cloud.AddInstance("ins-b", "eni-b", nil, "subnet-1", netip.MustParseAddr("192.0.2.2"))
	cloud.AddHaVip("havip-1", havipAddr, "subnet-1")
	cloud.AddPrivateIP("eni-a", privateAddr)
	api := httptest.NewServer(cloud.APIHandler())
	t.Cleanup(api.Close)
	w := &world{cloud: cloud, api: strings.TrimPrefix(api.URL, "http://"), meta: map[string]string{}}
	for _, ins := range []string{"ins-a", "ins-b"} {
		m := httptest.NewServer(cloud.MetadataHandler(ins))
		t.Cleanup(m.Close)
		w.meta[ins] = m.URL
	}
	return w
}

// config is the Config of instance ins's Binder, with keys unless role is
// set, logging nowhere.
func (w *world) config(ins string, mode tencentcloud.Mode, role bool) tencentcloud.Config {
	cfg := tencentcloud.Config{Mode: mode, Endpoint: w.api, Scheme: "http",
		Metadata:     tencentcloud.Metadata{BaseURL: w.meta[ins]},
		PollInterval: 10 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		VerifyTimeout: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if !role {
		cfg.SecretID, cfg.SecretKey = secretID, secretKey
	}
	return cfg
}

// binder makes the Binder of instance ins, with keys unless role is set.
func (w *world) binder(t *testing.T, ins string, mode tencentcloud.Mode, role bool) *tencentcloud.Binder {
	t.Helper()
	b, err := tencentcloud.New(context.Background(), w.config(ins, mode, role))
	require.NoError(t, err)
	return b
}

func (w *world) holder(ip netip.Addr) string {
	h, _ := w.cloud.Holder(ip)
	return h
}

func TestPrivateIPMigrates(t *testing.T) {
	w := newWorld(t)
	w.cloud.SetTaskLatency(50 * time.Millisecond)
	b := w.binder(t, "ins-b", tencentcloud.ModePrivateIP, false)
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{privateAddr}))
	assert.Equal(t, "eni-b", w.holder(privateAddr))
	assert.Len(t, w.cloud.CallsOf("MigratePrivateIpAddress"), 1)
	assert.NotEmpty(t, w.cloud.CallsOf("DescribeVpcTaskResult"), "the task was not polled")

	// Claiming again while it is here changes nothing.
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{privateAddr}))
	assert.Len(t, w.cloud.CallsOf("MigratePrivateIpAddress"), 1)
}

func TestPrivateIPAssignedWhenFree(t *testing.T) {
	w := newWorld(t)
	b := w.binder(t, "ins-a", tencentcloud.ModePrivateIP, false)
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{freeAddr}))
	assert.Equal(t, "eni-a", w.holder(freeAddr))
	assert.Len(t, w.cloud.CallsOf("AssignPrivateIpAddresses"), 1)
}

// TestTransientErrorsRetried: throttling, a task running on the address
// and an internal error are each retried until the migration succeeds.
func TestTransientErrorsRetried(t *testing.T) {
	for _, code := range []string{vpcsim.CodeRequestLimitExceeded, vpcsim.CodeMutexTaskRunning, vpcsim.CodeInternalError} {
		t.Run(code, func(t *testing.T) {
			w := newWorld(t)
			b := w.binder(t, "ins-b", tencentcloud.ModePrivateIP, false)
			w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: code, Times: 3})
			require.NoError(t, b.Claim(context.Background(), []netip.Addr{privateAddr}))
			assert.Equal(t, "eni-b", w.holder(privateAddr))
			calls := w.cloud.CallsOf("MigratePrivateIpAddress")
			require.Len(t, calls, 4)
			for _, c := range calls[:3] {
				assert.Equal(t, code, c.ErrCode)
			}
		})
	}
}

// TestFatalErrorsStop: a fatal error ends the claim at once with its code,
// and the secret never shows in it.
func TestFatalErrorsStop(t *testing.T) {
	for _, code := range []string{vpcsim.CodeSecretIDNotFound, vpcsim.CodePrimaryIP, vpcsim.CodeResourceNotFound} {
		t.Run(code, func(t *testing.T) {
			w := newWorld(t)
			b := w.binder(t, "ins-b", tencentcloud.ModePrivateIP, false)
			w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: code, Times: -1})
			err := b.Claim(context.Background(), []netip.Addr{privateAddr})
			require.Error(t, err)
			assert.Contains(t, err.Error(), code)
			assert.NotContains(t, err.Error(), secretKey)
			assert.Len(t, w.cloud.CallsOf("MigratePrivateIpAddress"), 1, "a fatal error was retried")
			assert.Equal(t, "eni-a", w.holder(privateAddr))
		})
	}
}

// TestCancelStopsCalls: once its context ends (mastership lost), a claim
// stops at once and makes no further call, even while throttled.
//
// The requests are counted where the Binder begins them, in its HTTP
// client: the one in flight when the claim is cancelled may reach the
// server only after the claim returned (the client wrote it, then gave
// up; a loaded machine had not yet run the server), so the server's count
// cannot tell a late request from a new one. The client's can: a request
// begun after Claim returned is a call the cancelled claim made.
func TestCancelStopsCalls(t *testing.T) {
	w := newWorld(t)
	b := w.binder(t, "ins-b", tencentcloud.ModePrivateIP, false)
	var begun atomic.Int64
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	tencentcloud.SetTransport(b, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		begun.Add(1)
		return transport.RoundTrip(r)
	}))
	served := len(w.cloud.Calls())
	w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: vpcsim.CodeRequestLimitExceeded, Times: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Claim(ctx, []netip.Addr{privateAddr})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
	n := begun.Load()
	require.Positive(t, n, "the claim made no call through its client")
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, n, begun.Load(), "calls begun after the claim was cancelled")
	// Every request the server saw went through the counting client (the
	// count misses none), and the address stayed where it was.
	assert.LessOrEqual(t, int64(len(w.cloud.Calls())-served), n, "the server saw requests the client did not count")
	assert.Equal(t, "eni-a", w.holder(privateAddr))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHaVipVerified(t *testing.T) {
	w := newWorld(t)
	b := w.binder(t, "ins-a", tencentcloud.ModeHAVIP, false)

	// Not bound here: ErrNotBound after VerifyTimeout, so havip announces again.
	err := b.Claim(context.Background(), []netip.Addr{havipAddr})
	require.ErrorIs(t, err, havip.ErrNotBound)

	// Bound while the binder waits: success.
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.cloud.BindHaVip(havipAddr, "eni-a")
	}()
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{havipAddr}))

	// An address that is no HAVIP is a clear error.
	err = b.Claim(context.Background(), []netip.Addr{freeAddr})
	require.Error(t, err)
	assert.NotErrorIs(t, err, havip.ErrNotBound)
	assert.Contains(t, err.Error(), "no HAVIP")
}

// TestRoleCredentials: without keys, the instance's CAM role keys are
// used, and keys the API refuses are fetched anew.
func TestRoleCredentials(t *testing.T) {
	w := newWorld(t)
	b := w.binder(t, "ins-b", tencentcloud.ModePrivateIP, true)
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{freeAddr}))
	calls := w.cloud.Calls()
	assert.NotEqual(t, secretID, calls[0].SecretID, "the role's temporary keys were not used")

	// Expired keys are refreshed from the metadata service.
	w.cloud.ExpireRoleKeys()
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{privateAddr}))
	calls = w.cloud.Calls()
	assert.Empty(t, calls[len(calls)-1].ErrCode)
	assert.NotEqual(t, calls[0].SecretID, calls[len(calls)-1].SecretID, "the refused keys were used again")
	assert.Equal(t, "eni-b", w.holder(privateAddr))
}

func TestNewFails(t *testing.T) {
	w := newWorld(t)
	_, err := tencentcloud.New(context.Background(), tencentcloud.Config{Mode: tencentcloud.ModeHAVIP, Endpoint: w.api, Scheme: "http",
		SecretID: secretID, SecretKey: secretKey, Metadata: tencentcloud.Metadata{BaseURL: "http://127.0.0.1:1"}})
	require.Error(t, err, "metadata service unreachable")
	_, err = tencentcloud.New(context.Background(), tencentcloud.Config{})
	assert.ErrorContains(t, err, "Mode")
	_, err = tencentcloud.New(context.Background(), tencentcloud.Config{Mode: tencentcloud.ModeHAVIP, SecretID: "x"})
	assert.ErrorContains(t, err, "SecretKey")
}

// TestIPv6LeftToTheAnnouncement: the VPC calls used here are IPv4 only.
func TestIPv6LeftToTheAnnouncement(t *testing.T) {
	w := newWorld(t)
	b := w.binder(t, "ins-b", tencentcloud.ModePrivateIP, false)
	n := len(w.cloud.Calls())
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{netip.MustParseAddr("2001:db8::100")}))
	assert.Len(t, w.cloud.Calls(), n)
}

// TestPlainHTTPOnlyToLoopback: New refuses plain http to an endpoint that
// is not a loopback address or localhost, naming the fields, before any
// request; http to loopback (the simulated VPC here) works, and https is
// never refused for its endpoint (nothing answers there in the test).
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	w := newWorld(t)
	_, port, _ := strings.Cut(w.api, ":")
	const (
		refused = iota
		works
		unanswered
	)
	for _, c := range []struct {
		scheme, endpoint string
		want             int
	}{
		{"http", "203.0.113.1:8080", refused},
		{"HTTP", "198.51.100.7", refused},
		{"http", "", refused}, // the SDK's endpoint
		{"http", "localhost.example:80", refused},
		{"http", "127.0.0.1:" + port, works},
		{"http", "localhost:" + port, works},
		{"http", "[::1]:1", unanswered},
		{"http", "::1", unanswered},
		{"https", "203.0.113.1:8080", unanswered},
		{"", "203.0.113.1:8080", unanswered},
	} {
		cfg := w.config("ins-b", tencentcloud.ModePrivateIP, false)
		cfg.Scheme, cfg.Endpoint = c.scheme, c.endpoint
		served := len(w.cloud.Calls())
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := tencentcloud.New(ctx, cfg)
		cancel()
		switch c.want {
		case refused:
			require.Error(t, err, "%s %s", c.scheme, c.endpoint)
			assert.ErrorContains(t, err, fmt.Sprintf("Config.Scheme %q with Config.Endpoint %q: plain http is allowed only to a loopback endpoint", c.scheme, c.endpoint))
			assert.Len(t, w.cloud.Calls(), served, "a request was made")
		case works:
			assert.NoError(t, err, "%s %s", c.scheme, c.endpoint)
		case unanswered:
			require.Error(t, err, "%s %s", c.scheme, c.endpoint)
			assert.NotContains(t, err.Error(), "plain http", "%s %s", c.scheme, c.endpoint)
		}
	}
}
