package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/internal/testkit/fakelan"
	"github.com/vipkit/vipkit/vrrp"
)

var (
	vips  = []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

// host is a havip.Host in memory.
type host struct {
	mu    sync.Mutex
	addrs []netip.Prefix
}

func (h *host) Interface() *net.Interface {
	return &net.Interface{Name: "eth0", Index: 2, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
}

func (h *host) Add(p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Contains(h.addrs, p) {
		h.addrs = append(h.addrs, p)
	}
	return nil
}

func (h *host) Remove(p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addrs = slices.DeleteFunc(h.addrs, func(q netip.Prefix) bool { return q == p })
	return nil
}

func (h *host) Addresses() ([]netip.Prefix, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.addrs), nil
}

func (h *host) WatchRemoved(ctx context.Context, _ func(netip.Prefix)) { <-ctx.Done() }
func (h *host) Close() error                                           { return nil }

// announcer is a havip.Announcer that sends nothing.
type announcer struct{}

func (announcer) BurstN(context.Context, int, ...netip.Addr) error { return nil }
func (announcer) Close() error                                     { return nil }

func newRouter(t *testing.T, l *fakelan.LAN, src netip.Addr, prio uint8) *vrrp.Router {
	t.Helper()
	cfg := vrrp.Config{Interface: "eth0", VRID: 51, Priority: prio, AdvertInterval: 20 * time.Millisecond,
		VirtualAddresses: vips, Logger: slog.New(slog.DiscardHandler)}
	r, err := vrrp.NewRouterConn(cfg, l.Conn(src), src)
	require.NoError(t, err)
	return r
}

// run runs r, and c following it if not nil, until the returned stop is
// called or the test ends; stop waits for them.
func run(t *testing.T, r *vrrp.Router, c *havip.Client) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, r.Run(ctx)) })
	if c != nil {
		wg.Go(func() { c.Follow(ctx, r) })
		wg.Go(func() { assert.NoError(t, c.Run(ctx)) })
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// series is a scrape: each series, written name{label="value",...} with
// the labels sorted, and its value.
type series map[string]float64

func key(name string, labels map[string]string) string {
	var ls []string
	for k, v := range labels {
		ls = append(ls, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func flatten(mfs []*dto.MetricFamily) series {
	s := series{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue // the Go runtime's summaries and histograms
			}
			s[key(mf.GetName(), labels)] = v
		}
	}
	return s
}

// scrape gets h's metrics as Prometheus does, and checks their types.
func scrape(t *testing.T, h http.Handler) series {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	return parse(t, rec.Body)
}

func parse(t *testing.T, r io.Reader) series {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	require.NoError(t, err)
	var mfs []*dto.MetricFamily
	for name, mf := range fams {
		switch {
		case strings.HasSuffix(name, "_total"):
			assert.Equal(t, dto.MetricType_COUNTER, mf.GetType(), name)
		case strings.HasPrefix(name, "keepalived_") || strings.HasPrefix(name, "vipkit_"):
			assert.Equal(t, dto.MetricType_GAUGE, mf.GetType(), name)
		}
		mfs = append(mfs, mf)
	}
	return flatten(mfs)
}

func labelsOf(iname string) map[string]string {
	return map[string]string{"iname": iname, "intf": "eth0", "vrid": "51"}
}

func with(m map[string]string, kv ...string) map[string]string {
	m = maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// get returns the value of the series name of iname with the labels kv
// besides, failing the test if there is none.
func (s series) get(t *testing.T, name, iname string, kv ...string) float64 {
	t.Helper()
	k := key(name, with(labelsOf(iname), kv...))
	v, ok := s[k]
	require.True(t, ok, "no series %s", k)
	return v
}

// names returns the series of s whose name has prefix.
func (s series) names(prefix string) []string {
	var ks []string
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// TestElection runs two routers until one is master, and scrapes them:
// states, counters going up, labels; then the master stops and the
// backup takes over, and a reload drops the stopped instance.
func TestElection(t *testing.T) {
	var l fakelan.LAN
	a := newRouter(t, &l, addrA, 200)
	b := newRouter(t, &l, addrB, 100)
	client, err := havip.NewWith(havip.Config{Interface: "eth0",
		Addresses: []netip.Prefix{netip.PrefixFrom(vips[0], 32), netip.PrefixFrom(vips[1], 32)},
		Announce:  &havip.Announce{Repeat: 1}, Logger: slog.New(slog.DiscardHandler)}, &host{}, announcer{})
	require.NoError(t, err)

	var mu sync.Mutex
	instances := []Instance{{Name: "VI_A", Router: a, Client: client}, {Name: "VI_B", Router: b}}
	h := Handler(func() []Instance {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(instances)
	})

	// Before they run: INIT, nothing counted, the havip client not master.
	s := scrape(t, h)
	assert.Equal(t, 1.0, s["keepalived_up{}"])
	for _, in := range []string{"VI_A", "VI_B"} {
		for _, ip := range vips {
			assert.Equal(t, 0.0, s.get(t, "keepalived_vrrp_state", in, "ip_address", ip.String()))
		}
		assert.Equal(t, 0.0, s.get(t, "keepalived_become_master_total", in))
		assert.Equal(t, 1.0, s.get(t, "vipkit_vrrp_new_master_reason", in, "reason", "none"))
	}
	assert.Equal(t, 0.0, s.get(t, "vipkit_havip_master", "VI_A"))
	assert.Empty(t, s.names(`vipkit_havip_master{iname="VI_B"`), "VI_B has no client")

	stopA := run(t, a, client)
	require.Eventually(t, func() bool { return a.State() == vrrp.Master }, 5*time.Second, time.Millisecond)
	run(t, b, nil)
	require.Eventually(t, func() bool {
		return b.State() == vrrp.Backup && b.LastMaster().Addr == addrA && client.Status().Master
	}, 5*time.Second, time.Millisecond)

	s = scrape(t, h)
	for _, ip := range vips {
		assert.Equal(t, 2.0, s.get(t, "keepalived_vrrp_state", "VI_A", "ip_address", ip.String()), "MASTER")
		assert.Equal(t, 1.0, s.get(t, "keepalived_vrrp_state", "VI_B", "ip_address", ip.String()), "BACKUP")
	}
	assert.Len(t, s.names("keepalived_vrrp_state{"), 4, "one series per instance and address")
	assert.Equal(t, 1.0, s.get(t, "keepalived_become_master_total", "VI_A"))
	assert.Equal(t, 0.0, s.get(t, "keepalived_release_master_total", "VI_A"))
	assert.Equal(t, 0.0, s.get(t, "keepalived_become_master_total", "VI_B"))
	assert.Equal(t, 1.0, s.get(t, "vipkit_vrrp_new_master_reason", "VI_A", "reason", vrrp.ReasonMasterDown.String()))
	assert.Empty(t, s.names(`vipkit_vrrp_new_master_reason{iname="VI_A",intf="eth0",reason="none"`))
	assert.Equal(t, 200.0, s.get(t, "vipkit_vrrp_priority", "VI_A"))
	assert.Equal(t, 100.0, s.get(t, "vipkit_vrrp_priority", "VI_B"))
	assert.Equal(t, 100.0, s.get(t, "vipkit_vrrp_configured_priority", "VI_B"))
	assert.Equal(t, 200.0, s.get(t, "vipkit_vrrp_last_advert_priority", "VI_B", "source", addrA.String()))
	assert.InDelta(t, float64(time.Now().Unix()), s.get(t, "vipkit_vrrp_last_advert_timestamp_seconds", "VI_B"), 10)
	assert.Empty(t, s.names(`vipkit_vrrp_last_advert_priority{iname="VI_A"`), "A heard no one")
	assert.Equal(t, 1.0, s.get(t, "vipkit_havip_master", "VI_A"))
	assert.Greater(t, s.get(t, "vipkit_havip_bursts_total", "VI_A"), 0.0)
	assert.Greater(t, s.get(t, "vipkit_havip_master_changed_timestamp_seconds", "VI_A"), 0.0)
	assert.Empty(t, s.names("vipkit_havip_last_claim_timestamp_seconds"), "no Binder: never claimed")
	assert.Equal(t, 0.0, s.get(t, "keepalived_ip_ttl_errors_total", "VI_B"))

	// The counters go up.
	sentA, rcvdB := s.get(t, "keepalived_advertisements_sent_total", "VI_A"), s.get(t, "keepalived_advertisements_received_total", "VI_B")
	assert.Greater(t, sentA, 0.0)
	require.Eventually(t, func() bool {
		s = scrape(t, h)
		return s.get(t, "keepalived_advertisements_sent_total", "VI_A") > sentA &&
			s.get(t, "keepalived_advertisements_received_total", "VI_B") > rcvdB
	}, 5*time.Second, 10*time.Millisecond)

	// A stops: it sends priority 0, B takes over.
	stopA()
	require.Eventually(t, func() bool { return b.State() == vrrp.Master }, 5*time.Second, time.Millisecond)
	s = scrape(t, h)
	assert.Equal(t, 0.0, s.get(t, "keepalived_vrrp_state", "VI_A", "ip_address", vips[0].String()), "INIT")
	assert.Equal(t, 2.0, s.get(t, "keepalived_vrrp_state", "VI_B", "ip_address", vips[0].String()))
	assert.Equal(t, 1.0, s.get(t, "keepalived_release_master_total", "VI_A"))
	assert.GreaterOrEqual(t, s.get(t, "keepalived_priority_zero_sent_total", "VI_A"), 1.0)
	assert.GreaterOrEqual(t, s.get(t, "keepalived_priority_zero_received_total", "VI_B"), 1.0)
	assert.Equal(t, 1.0, s.get(t, "keepalived_become_master_total", "VI_B"))
	assert.Equal(t, 0.0, s.get(t, "keepalived_release_master_total", "VI_B"))
	assert.Equal(t, 1.0, s.get(t, "vipkit_vrrp_new_master_reason", "VI_B", "reason", vrrp.ReasonMasterStepDown.String()))
	assert.Equal(t, 0.0, s.get(t, "vipkit_havip_master", "VI_A"))

	// A reload drops VI_A.
	mu.Lock()
	instances = instances[1:]
	mu.Unlock()
	s = scrape(t, h)
	assert.Empty(t, s.names(`keepalived_vrrp_state{iname="VI_A"`))
	assert.Empty(t, s.names(`vipkit_havip_master{iname="VI_A"`))
	assert.NotEmpty(t, s.names(`keepalived_vrrp_state{iname="VI_B"`))
	assert.Equal(t, 1.0, s["keepalived_up{}"])
}

// TestDuplicateInstance: an instance listed twice does not hide the
// others (promhttp.ContinueOnError).
func TestDuplicateInstance(t *testing.T) {
	var l fakelan.LAN
	r := newRouter(t, &l, addrA, 100)
	t.Cleanup(func() { r.Close() })
	h := Handler(func() []Instance {
		return []Instance{{Name: "VI_1", Router: r}, {Name: "VI_1", Router: r}, {Name: "nil"}}
	})
	s := scrape(t, h)
	assert.Equal(t, 100.0, s.get(t, "vipkit_vrrp_priority", "VI_1"))
	assert.Equal(t, 1.0, s["keepalived_up{}"])
}

// snapCollector collects one snapshot.
type snapCollector struct{ s snapshot }

func (c snapCollector) Describe(ch chan<- *prometheus.Desc) { newCollector(nil).Describe(ch) }
func (c snapCollector) Collect(ch chan<- prometheus.Metric) { c.s.collect(ch) }

// gather collects s in a pedantic registry, which checks that every
// metric was described and is consistent.
func gather(t *testing.T, s snapshot) series {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(snapCollector{s}))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	return flatten(mfs)
}

func testSnapshot() snapshot {
	return snapshot{name: "VI_1", cfg: vrrp.Config{Interface: "eth0", VRID: 51, Priority: 150, VirtualAddresses: vips},
		addrIntf: "vrrp.51", state: vrrp.Backup, prio: 140, havip: &havip.Status{}}
}

// setField sets field i of the struct v points to to a value of its own
// and returns it as it must come out, for a number; it fails the test on
// a kind of field it does not know: add it here, and to the mapping.
func setField(t *testing.T, v reflect.Value, i int) (want float64, number bool) {
	t.Helper()
	f, name := v.Field(i), v.Type().Field(i).Name
	switch {
	case f.Type() == reflect.TypeFor[vrrp.Reason]():
		f.Set(reflect.ValueOf(vrrp.ReasonPreempted))
	case f.Type() == reflect.TypeFor[time.Time]():
		f.Set(reflect.ValueOf(time.Date(2026, 11, 24, 5, 39, 14, 0, time.UTC).Add(time.Duration(i) * time.Hour)))
	case f.CanUint():
		f.SetUint(uint64(1000 + i))
		return float64(1000 + i), true
	case f.Kind() == reflect.Bool:
		f.SetBool(true)
	case f.Kind() == reflect.String:
		f.SetString("value of " + name)
	default:
		t.Fatalf("%s.%s is a %v: teach setField and the metrics about it", v.Type(), name, f.Type())
	}
	return 0, false
}

// TestStatsComplete: every field of vrrp.Stats and of havip.Status is
// exported. Each is set alone to a value of its own: some series must
// change, and for a counter one must be its value, a series no other
// field sets. A field added to either fails here until statsCounters (or
// snapshot.collect) or havipMetrics maps it.
func TestStatsComplete(t *testing.T) {
	base := gather(t, testSnapshot())
	for _, c := range []struct {
		name  string
		typ   reflect.Type
		field func(s *snapshot) reflect.Value
	}{
		{"vrrp.Stats", reflect.TypeFor[vrrp.Stats](), func(s *snapshot) reflect.Value { return reflect.ValueOf(&s.stats).Elem() }},
		{"havip.Status", reflect.TypeFor[havip.Status](), func(s *snapshot) reflect.Value { return reflect.ValueOf(s.havip).Elem() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			owner := map[string]string{} // series → the field whose value it carries
			for i := range c.typ.NumField() {
				name := c.typ.Field(i).Name
				s := testSnapshot()
				want, number := setField(t, c.field(&s), i)
				got := gather(t, s)
				var changed, carrying []string
				for k, v := range got {
					if bv, ok := base[k]; !ok || bv != v {
						changed = append(changed, k)
						if number && v == want {
							carrying = append(carrying, k)
						}
					}
				}
				for k := range base {
					if _, ok := got[k]; !ok {
						changed = append(changed, k)
					}
				}
				if !assert.NotEmpty(t, changed, "%s.%s is exported by no metric: map it", c.name, name) || !number {
					continue
				}
				if assert.Len(t, carrying, 1, "%s.%s = %v: not one series of that value: %v", c.name, name, want, changed) {
					k := carrying[0]
					assert.Empty(t, owner[k], "%s carries both %s and %s", k, owner[k], name)
					owner[k] = name
				}
			}
		})
	}
}

// TestStateEncoding: keepalived's numbers for the states, one series per
// address, labelled with the interface the addresses go on.
func TestStateEncoding(t *testing.T) {
	for state, want := range map[vrrp.State]float64{vrrp.Initialize: 0, vrrp.Backup: 1, vrrp.Master: 2, vrrp.Fault: 3} {
		s := testSnapshot()
		s.state = state
		got := gather(t, s)
		for _, ip := range vips {
			k := key("keepalived_vrrp_state", map[string]string{"iname": "VI_1", "intf": "vrrp.51", "vrid": "51", "ip_address": ip.String()})
			assert.Equal(t, want, got[k], "%v: %s", state, k)
		}
		assert.Len(t, got.names("keepalived_vrrp_state{"), len(vips))
	}
}

// TestMetricsText: the text of one snapshot, as a scraper reads it.
func TestMetricsText(t *testing.T) {
	s := testSnapshot()
	s.stats = vrrp.Stats{MasterTransitions: 3, NewMasterReason: vrrp.ReasonPreempted, AdvertsReceived: 7, AuthErrors: 2}
	s.state = vrrp.Master
	s.released = 2
	s.cfg.VirtualAddresses = vips[:1]
	s.havip = nil
	s.last = vrrp.MasterInfo{Addr: addrB, Priority: 100, Time: time.Unix(1700000000, 500000000)}
	want := `
# HELP keepalived_vrrp_state State of the VRRP instance: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT; one series per virtual address.
# TYPE keepalived_vrrp_state gauge
keepalived_vrrp_state{iname="VI_1",intf="vrrp.51",ip_address="192.0.2.100",vrid="51"} 2
# HELP keepalived_become_master_total Times the instance became MASTER (vrrpv3StatisticsMasterTransitions).
# TYPE keepalived_become_master_total counter
keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 3
# HELP keepalived_release_master_total Times the instance left MASTER.
# TYPE keepalived_release_master_total counter
keepalived_release_master_total{iname="VI_1",intf="eth0",vrid="51"} 2
# HELP keepalived_advertisements_received_total Advertisements received (vrrpv3StatisticsRcvdAdvertisements).
# TYPE keepalived_advertisements_received_total counter
keepalived_advertisements_received_total{iname="VI_1",intf="eth0",vrid="51"} 7
# HELP vipkit_authentication_errors_total VRRPv2 messages dropped for their authentication type or password: keepalived's invalid, mismatch and failure together.
# TYPE vipkit_authentication_errors_total counter
vipkit_authentication_errors_total{iname="VI_1",intf="eth0",vrid="51"} 2
# HELP vipkit_vrrp_new_master_reason Why the instance last became MASTER (vrrpv3StatisticsNewMasterReason): 1 for that reason, none before the first time.
# TYPE vipkit_vrrp_new_master_reason gauge
vipkit_vrrp_new_master_reason{iname="VI_1",intf="eth0",reason="preempted",vrid="51"} 1
# HELP vipkit_vrrp_priority Priority in force: the configured one moved by checks, reports and SetPriority (vrrpv3OperationsPriority).
# TYPE vipkit_vrrp_priority gauge
vipkit_vrrp_priority{iname="VI_1",intf="eth0",vrid="51"} 140
# HELP vipkit_vrrp_last_advert_priority Priority of the last advertisement heard from another router, whose address is source.
# TYPE vipkit_vrrp_last_advert_priority gauge
vipkit_vrrp_last_advert_priority{iname="VI_1",intf="eth0",source="192.0.2.2",vrid="51"} 100
# HELP vipkit_vrrp_last_advert_timestamp_seconds When the last advertisement from another router was heard, in seconds since the epoch.
# TYPE vipkit_vrrp_last_advert_timestamp_seconds gauge
vipkit_vrrp_last_advert_timestamp_seconds{iname="VI_1",intf="eth0",vrid="51"} 1.7000000005e+09
`
	names := []string{"keepalived_vrrp_state", "keepalived_become_master_total", "keepalived_release_master_total",
		"keepalived_advertisements_received_total", "vipkit_authentication_errors_total", "vipkit_vrrp_new_master_reason",
		"vipkit_vrrp_priority", "vipkit_vrrp_last_advert_priority", "vipkit_vrrp_last_advert_timestamp_seconds", "vipkit_havip_master"}
	require.NoError(t, testutil.CollectAndCompare(snapCollector{s}, strings.NewReader(want), names...))
}

// TestLint: the metrics follow Prometheus's naming conventions.
func TestLint(t *testing.T) {
	s := testSnapshot()
	s.last = vrrp.MasterInfo{Addr: addrB, Priority: 100, Time: time.Now()}
	s.havip = &havip.Status{Since: time.Now(), LastClaimTime: time.Now(), LastContested: time.Now()}
	problems, err := testutil.CollectAndLint(snapCollector{s})
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestServe: /metrics on the address until the context ends, then the
// server is gone and serve returns nil.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var l fakelan.LAN
	r := newRouter(t, &l, addrA, 100)
	t.Cleanup(func() { r.Close() })
	go func() { done <- ServeOn(ctx, ln, func() []Instance { return []Instance{{Name: "VI_1", Router: r}} }) }()

	code, body := get(t, "http://"+addr+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	s := parse(t, strings.NewReader(body))
	assert.Equal(t, 1.0, s["keepalived_up{}"])
	assert.Equal(t, 100.0, s.get(t, "vipkit_vrrp_priority", "VI_1"))
	assert.NotEmpty(t, s.names("go_goroutines"), "the Go collector")
	code, _ = get(t, "http://"+addr+"/")
	assert.Equal(t, http.StatusNotFound, code)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return once its context ended")
	}
	_, err = http.Get("http://" + addr + "/metrics")
	assert.Error(t, err, "still serving")
}

// TestServeListen: Serve listens on its address, returns nil once its
// context ends, and an error at once when it cannot listen.
func TestServeListen(t *testing.T) {
	none := func() []Instance { return nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", none) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Serve returned before its context ended: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return once its context ended")
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	err = Serve(context.Background(), taken.Addr().String(), none)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics:")
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "%v", err)
}
