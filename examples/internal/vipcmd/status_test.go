package vipcmd

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/vrrp"
)

// fill sets every field of the struct v points to to a value of its own,
// and returns each value as it must come out in JSON. It fails the test
// on a kind of field it does not know: add it here, and to the mapping.
func fill(t *testing.T, v any) []any {
	t.Helper()
	s := reflect.ValueOf(v).Elem()
	var want []any
	base := time.Date(2026, 11, 24, 5, 39, 14, 123456000, time.UTC)
	for i := range s.NumField() {
		f, name := s.Field(i), s.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeFor[vrrp.Reason]():
			r := vrrp.ReasonPreempted
			f.Set(reflect.ValueOf(r))
			want = append(want, r.String())
		case f.Type() == reflect.TypeFor[time.Time]():
			tm := base.Add(time.Duration(i) * time.Hour)
			f.Set(reflect.ValueOf(tm))
			want = append(want, tm.Format(timeFormat))
		case f.CanUint():
			f.SetUint(uint64(1000 + i))
			want = append(want, float64(1000+i))
		case f.CanInt():
			f.SetInt(int64(1000 + i))
			want = append(want, float64(1000+i))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
			want = append(want, true)
		case f.Kind() == reflect.String:
			f.SetString("value of " + name)
			want = append(want, "value of "+name)
		default:
			t.Fatalf("%s.%s is a %v: teach fill and the status mapping about it", s.Type(), name, f.Type())
		}
	}
	return want
}

// jsonValues returns the values of the JSON object v marshals to.
func jsonValues(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// TestStatusComplete: every field of vrrp.Stats and havip.Status comes out
// in the JSON, each under a key of its own and with its value. A field
// added to either fails here until statsJSON or havipJSON maps it (and
// Stats or HAVIPStatus has a key for it).
func TestStatusComplete(t *testing.T) {
	var stats vrrp.Stats
	wantStats := fill(t, &stats)
	var hs havip.Status
	wantHAVIP := fill(t, &hs)
	for _, c := range []struct {
		name   string
		struc  any
		want   []any
		mapped any
	}{
		{"vrrp.Stats", stats, wantStats, statsJSON(stats)},
		{"havip.Status", hs, wantHAVIP, havipJSON(hs)},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := reflect.TypeOf(c.struc).NumField()
			assert.Equal(t, n, reflect.TypeOf(c.mapped).NumField(),
				"%s has %d fields, its JSON type %T %d: map the new one", c.name, n, c.mapped, reflect.TypeOf(c.mapped).NumField())
			got := jsonValues(t, c.mapped)
			assert.Len(t, got, n, "%s: not one key per field: %v", c.name, got)
			var values []any
			for _, v := range got {
				values = append(values, v)
			}
			assert.ElementsMatch(t, c.want, values, "%s: a field is missing, or mapped from the wrong one: %v", c.name, got)
		})
	}
}

// snakeCase is a JSON key: lower-case words joined by '_'.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$`)

// keys returns the keys of the JSON object v and of every object in it,
// with their paths.
func keys(v any, path string) []string {
	var ks []string
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			ks = append(ks, path+k)
			ks = append(ks, keys(e, path+k+".")...)
		}
	}
	return ks
}

// fullStatus is a Status with every part present.
func fullStatus(t *testing.T) Status {
	var stats vrrp.Stats
	fill(t, &stats)
	var hs havip.Status
	fill(t, &hs)
	cfg := vrrp.Config{Interface: "eth0", VRID: 51, Version: vrrp.Version3, Priority: 150}
	last := vrrp.MasterInfo{Addr: netip.MustParseAddr("192.0.2.2"), Priority: 200, Interval: time.Second, Time: time.Now()}
	return newStatus(time.Now(), cfg, vrrp.Master, cfg.Priority, last, stats, &hs)
}

func TestStatusSnakeCase(t *testing.T) {
	var m any
	b, err := json.Marshal(fullStatus(t))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	ks := keys(m, "")
	assert.Greater(t, len(ks), 40)
	for _, k := range ks {
		for _, part := range strings.Split(k, ".") {
			assert.Regexp(t, snakeCase, part, "key %s", k)
		}
	}
}

// TestStatusJSON: a Status as it is written, field by field.
func TestStatusJSON(t *testing.T) {
	now := time.Date(2026, 11, 24, 5, 39, 14, 123456789, time.FixedZone("CET", 3600))
	cfg := vrrp.Config{Interface: "eth0", VRID: 51, Version: vrrp.Version2, Priority: 150}
	last := vrrp.MasterInfo{Addr: netip.MustParseAddr("2001:db8::2"), Priority: 200, Interval: 1500 * time.Millisecond,
		Time: now.Add(-time.Second)}
	stats := vrrp.Stats{MasterTransitions: 2, NewMasterReason: vrrp.ReasonMasterDown, AdvertsReceived: 3, AdvertsSent: 4,
		PriorityZeroReceived: 5, PriorityZeroSent: 6, SendErrors: 7, TTLErrors: 8, ChecksumErrors: 9, VersionErrors: 10,
		VRIDErrors: 11, IntervalErrors: 12, AuthErrors: 13, LengthErrors: 14, TypeErrors: 15, AddressErrors: 16,
		PeerErrors: 17, AddressListErrors: 18, SocketDrops: 19, EventsDropped: 20, OwnerDiscards: 29}
	hs := havip.Status{Master: true, Since: now.Add(-time.Minute), Bursts: 21, BurstErrors: 22, Readded: 23,
		ReannouncesHeld: 24, Claims: 25, ClaimErrors: 26, LastClaimErr: "denied", Contested: 28, LastContested: now.Add(-2 * time.Second),
		HoldError: "no address", HoldFailures: 27}
	b, err := json.Marshal(newStatus(now, cfg, vrrp.Master, 140, last, stats, &hs))
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"time": "2026-11-24T04:39:14.123456Z",
		"instance": {"interface": "eth0", "vrid": 51, "version": 2, "priority": 150, "effective_priority": 140},
		"state": "MASTER",
		"last_master": {"address": "2001:db8::2", "priority": 200, "interval_ms": 1500, "time": "2026-11-24T04:39:13.123456Z"},
		"stats": {
			"master_transitions": 2, "new_master_reason": "master-down",
			"adverts_received": 3, "adverts_sent": 4,
			"priority_zero_received": 5, "priority_zero_sent": 6, "send_errors": 7,
			"ip_ttl_errors": 8, "checksum_errors": 9, "version_errors": 10, "vrid_errors": 11,
			"adv_interval_errors": 12, "auth_errors": 13, "packet_length_errors": 14, "invalid_type_received": 15,
			"address_errors": 16, "peer_errors": 17, "address_list_errors": 18,
			"owner_discards": 29, "socket_drops": 19, "events_dropped": 20
		},
		"havip": {
			"master": true, "since": "2026-11-24T04:38:14.123456Z",
			"bursts": 21, "burst_errors": 22, "readded": 23, "reannounces_held": 24,
			"claims": 25, "claim_errors": 26, "last_claim_error": "denied", "last_claim_time": "",
			"contested": 28, "last_contested": "2026-11-24T04:39:12.123456Z",
			"hold_error": "no address", "hold_failures": 27
		}
	}`, string(b))

	// A router that has heard no one, never been master, and holds no
	// addresses.
	b, err = json.Marshal(newStatus(now, cfg, vrrp.Backup, cfg.Priority, vrrp.MasterInfo{}, vrrp.Stats{}, nil))
	require.NoError(t, err)
	m := jsonValues(t, json.RawMessage(b))
	assert.Equal(t, "BACKUP", m["state"])
	assert.Nil(t, m["last_master"])
	assert.Nil(t, m["havip"])
	assert.Contains(t, m, "havip")
	assert.Equal(t, "", m["stats"].(map[string]any)["new_master_reason"])
}

// TestWriteStatusFile: the file is replaced whole (a new inode, no
// temporary file left), mode 0644 whatever the umask, and holds one JSON
// object; a directory that is not there is an error.
func TestWriteStatusFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	inode := func() uint64 {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	var inodes []uint64
	for i := range 3 {
		s := fullStatus(t)
		s.Stats.AdvertsSent = uint64(i)
		require.NoError(t, writeStatusFile(path, s))
		inodes = append(inodes, inode())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var got Status
		require.NoError(t, json.Unmarshal(b, &got))
		assert.Equal(t, s, got)
		assert.Equal(t, 1, bytes.Count(b, []byte("\n")))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "a temporary file was left")
	}
	assert.Len(t, slices.Compact(inodes), 3, "the file was not replaced: %v", inodes)
	assert.Error(t, writeStatusFile(filepath.Join(dir, "nowhere", "status.json"), fullStatus(t)))
}

// writes records each Write.
type writes [][]byte

func (w *writes) Write(b []byte) (int, error) { *w = append(*w, slices.Clone(b)); return len(b), nil }

func TestWriteStatusLine(t *testing.T) {
	var w writes
	s := fullStatus(t)
	require.NoError(t, writeStatusLine(&w, s))
	require.Len(t, w, 1, "not one Write")
	line := w[0]
	assert.Equal(t, 1, bytes.Count(line, []byte("\n")))
	assert.True(t, bytes.HasPrefix(line, []byte("{")) && bytes.HasSuffix(line, []byte("}\n")), "%s", line)
	var got Status
	require.NoError(t, json.Unmarshal(line, &got))
	assert.Equal(t, s, got)
}

func TestStatusFileFlag(t *testing.T) {
	o, err := parse(append(base, "-status-file", "/run/vrrpd/status.json")...)
	require.NoError(t, err)
	assert.Equal(t, "/run/vrrpd/status.json", o.StatusFile)
	o, err = parse(base...)
	require.NoError(t, err)
	assert.Empty(t, o.StatusFile)
}
