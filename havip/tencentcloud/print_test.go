package tencentcloud_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

// roleKeys returns the CAM role keys the metadata service at metaURL
// hands out now (the same ones until half their life is left).
func roleKeys(t *testing.T, metaURL string) (id, key, token string) {
	t.Helper()
	resp, err := http.Get(metaURL + "/latest/meta-data/cam/security-credentials/" + vpcsim.DefaultRole)
	require.NoError(t, err)
	defer resp.Body.Close()
	var k struct{ TmpSecretId, TmpSecretKey, Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&k))
	require.NotEmpty(t, k.TmpSecretKey)
	require.NotEmpty(t, k.Token)
	return k.TmpSecretId, k.TmpSecretKey, k.Token
}

// TestPrintingHidesSecrets: no way of printing a Binder, a Config or a
// havip.Config holding a Binder (fmt's verbs, slog's handlers, the
// Binder's own logs) shows a secret key or a role's temporary key or
// token, and what is printed still tells the mode, instance and ENI.
func TestPrintingHidesSecrets(t *testing.T) {
	w := newWorld(t)
	var logs bytes.Buffer // the Binders' own logs
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	cfg := w.config("ins-b", tencentcloud.ModePrivateIP, false)
	cfg.Logger = logger
	fixed, err := tencentcloud.New(context.Background(), cfg)
	require.NoError(t, err)
	roleCfg := w.config("ins-a", tencentcloud.ModeHAVIP, true)
	roleCfg.Logger = logger
	role, err := tencentcloud.New(context.Background(), roleCfg)
	require.NoError(t, err)

	// Both Binders work, and so hold their keys: fixed signs with
	// secretKey (after a throttled try, which logs), role with the keys
	// the metadata service handed out.
	w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: vpcsim.CodeRequestLimitExceeded})
	require.NoError(t, fixed.Claim(context.Background(), []netip.Addr{privateAddr}))
	require.True(t, w.cloud.BindHaVip(havipAddr, "eni-a"))
	require.NoError(t, role.Claim(context.Background(), []netip.Addr{havipAddr}))
	tmpID, tmpKey, token := roleKeys(t, w.meta["ins-a"])
	calls := w.cloud.Calls()
	require.Equal(t, tmpID, calls[len(calls)-1].SecretID, "the role Binder does not use the keys the test knows")

	var secrets []string // each as is and in hex, as %x would print it
	for _, s := range []string{secretKey, tmpKey, token} {
		secrets = append(secrets, s, hex.EncodeToString([]byte(s)))
	}
	check := func(t *testing.T, out string, want ...string) {
		t.Helper()
		for _, s := range secrets {
			require.NotContains(t, out, s, "a secret was printed")
		}
		for _, s := range want {
			assert.Contains(t, out, s)
		}
	}
	fixedShows := []string{"private-ip", "ins-b", "eni-b", secretID}
	roleShows := []string{"havip", "ins-a", "eni-a", "CAM role"}

	t.Run("fmt", func(t *testing.T) {
		values := []struct {
			name  string
			v     any
			shows []string
		}{
			{"*Binder", fixed, fixedShows},
			{"Binder", *fixed, fixedShows},
			{"*Binder role", role, roleShows},
			{"Binder role", *role, roleShows},
			{"havip.Config", havip.Config{Interface: "eth0", Binder: fixed}, append([]string{"eth0"}, fixedShows...)},
			{"*havip.Config role", &havip.Config{Interface: "eth0", Binder: role}, append([]string{"eth0"}, roleShows...)},
			{"Config", cfg, []string{"private-ip", secretID}},
			{"*Config", &cfg, []string{"private-ip", secretID}},
			{"[]any", []any{fixed, cfg}, fixedShows},
		}
		for _, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%20.4s", "%d", "%x", "%X"} {
				out := fmt.Sprintf(verb, v.v)
				var shows []string
				if strings.ContainsAny(verb, "vsq") && !strings.Contains(verb, ".") {
					shows = v.shows // the other verbs print nothing readable
				}
				t.Run(v.name+"/"+verb, func(t *testing.T) { check(t, out, shows...) })
			}
		}
	})

	// fmt prints the fields of a value without its methods for a %p of a
	// non-pointer and in an unexported field: a Binder keeps no secret to
	// print there. (A Config holds the key it is given.)
	t.Run("no methods", func(t *testing.T) {
		type holder struct {
			b   tencentcloud.Binder
			ptr *tencentcloud.Binder
		}
		for b, instance := range map[*tencentcloud.Binder]string{fixed: "ins-b", role: "ins-a"} {
			for _, out := range []string{
				fmt.Sprintf("%p", *b),
				fmt.Sprintf("%v", holder{*b, b}),
				fmt.Sprintf("%+v", holder{*b, b}),
				fmt.Sprintf("%#v", holder{*b, b}),
			} {
				check(t, out, instance)
			}
		}
	})

	t.Run("slog", func(t *testing.T) {
		attrs := []struct {
			name  string
			attr  slog.Attr
			shows []string
		}{
			{"*Binder", slog.Any("binder", fixed), fixedShows},
			{"Binder", slog.Any("binder", *role), roleShows},
			{"Config", slog.Any("config", cfg), []string{"private-ip", secretID}},
			{"*Config", slog.Any("config", &roleCfg), []string{"havip"}},
			// JSONHandler marshals a havip.Config as JSON: the Binder shows
			// as {}, so only the interface tells which config it is.
			{"havip.Config", slog.Any("havip", havip.Config{Interface: "eth0", Binder: fixed}), []string{"eth0"}},
			{"group", slog.Group("g", slog.Any("binder", fixed), "config", cfg, slog.Group("role", "binder", role)),
				append(fixedShows, roleShows...)},
		}
		for _, h := range []struct {
			name string
			new  func(*bytes.Buffer) slog.Handler
		}{
			{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
			{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		} {
			for _, a := range attrs {
				var out bytes.Buffer
				slog.New(h.new(&out)).LogAttrs(context.Background(), slog.LevelInfo, "printed", a.attr)
				t.Run(h.name+"/"+a.name, func(t *testing.T) { check(t, out.String(), a.shows...) })
				out.Reset()
				slog.New(h.new(&out)).With(a.attr).WithGroup("later").Info("printed", "binder", fixed)
				t.Run(h.name+"/"+a.name+"/With", func(t *testing.T) { check(t, out.String(), a.shows...) })
			}
		}
		var out bytes.Buffer
		slog.New(slog.NewTextHandler(&out, nil)).Info("printed", "havip", havip.Config{Interface: "eth0", Binder: role})
		t.Run("text/havip.Config role", func(t *testing.T) { check(t, out.String(), append([]string{"eth0"}, roleShows...)...) })
	})

	t.Run("own logs", func(t *testing.T) {
		check(t, logs.String(), "private-ip", "ins-b", "eni-b", "havip", "ins-a", "eni-a", vpcsim.CodeRequestLimitExceeded)
	})
}
