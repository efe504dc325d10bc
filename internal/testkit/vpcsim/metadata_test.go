package vpcsim_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

func get(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestMetadata(t *testing.T) {
	w := newWorld(t)
	md := httptest.NewServer(w.cloud.MetadataHandler("ins-a"))
	t.Cleanup(md.Close)

	for path, want := range map[string]string{
		"/latest/meta-data/instance-id":                                                                 "ins-a",
		"/latest/meta-data/mac":                                                                         "52:54:00:aa:bb:01",
		"/latest/meta-data/local-ipv4":                                                                  "192.0.2.1",
		"/latest/meta-data/placement/region":                                                            vpcsim.DefaultRegion,
		"/latest/meta-data/placement/zone":                                                              vpcsim.DefaultZone,
		"/latest/meta-data/network/interfaces/macs/":                                                    "52:54:00:aa:bb:01/\n",
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:01/primary-local-ipv4":                "192.0.2.1",
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:01/vpc-id":                            vpcsim.DefaultVpcID,
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:01/subnet-id":                         "subnet-ab",
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:01/local-ipv4s/":                      "192.0.2.1/\n192.0.2.101/\n",
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:01/local-ipv4s/192.0.2.1/gateway":     "192.0.2.254",
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:01/local-ipv4s/192.0.2.1/subnet-mask": "255.255.255.0",
		"/latest/meta-data/cam/security-credentials/":                                                   vpcsim.DefaultRole,
	} {
		status, body := get(t, md.URL, path)
		assert.Equal(t, http.StatusOK, status, path)
		assert.Equal(t, want, body, path)
	}
	for _, path := range []string{
		"/latest/meta-data/nothing",
		"/latest/meta-data/cam/security-credentials/other-role",
		"/latest/meta-data/network/interfaces/macs/52:54:00:aa:bb:02/mac",
		"/other",
	} {
		status, _ := get(t, md.URL, path)
		assert.Equal(t, http.StatusNotFound, status, path)
	}
	status, body := get(t, md.URL, "/latest/meta-data/")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "instance-id\n")

	w.cloud.SetRole("ins-a", "")
	status, _ = get(t, md.URL, "/latest/meta-data/cam/security-credentials/")
	assert.Equal(t, http.StatusNotFound, status, "no role bound")

	// An unknown instance has no metadata.
	md2 := httptest.NewServer(w.cloud.MetadataHandler("ins-nope"))
	t.Cleanup(md2.Close)
	status, _ = get(t, md2.URL, "/latest/meta-data/instance-id")
	assert.Equal(t, http.StatusNotFound, status)
}

type roleKeys struct {
	TmpSecretId, TmpSecretKey, Token, Expiration, Code string
	ExpiredTime                                        int64
}

func fetchKeys(t *testing.T, base string) roleKeys {
	t.Helper()
	status, role := get(t, base, "/latest/meta-data/cam/security-credentials/")
	require.Equal(t, http.StatusOK, status)
	status, body := get(t, base, "/latest/meta-data/cam/security-credentials/"+role)
	require.Equal(t, http.StatusOK, status)
	var k roleKeys
	require.NoError(t, json.Unmarshal([]byte(body), &k))
	require.Equal(t, "Success", k.Code)
	exp, err := time.Parse(time.RFC3339, k.Expiration)
	require.NoError(t, err)
	assert.Equal(t, k.ExpiredTime, exp.Unix())
	return k
}

func TestRoleKeys(t *testing.T) {
	w := newWorld(t)
	md := httptest.NewServer(w.cloud.MetadataHandler("ins-b"))
	t.Cleanup(md.Close)
	const ttl = 1500 * time.Millisecond
	w.cloud.SetRoleTTL(ttl)

	k := fetchKeys(t, md.URL)
	assert.InDelta(t, time.Now().Add(ttl).Unix(), k.ExpiredTime, 2)
	assert.Equal(t, k, fetchKeys(t, md.URL), "the same keys while more than half their life is left")
	api := w.client(t, common.NewTokenCredential(k.TmpSecretId, k.TmpSecretKey, k.Token))
	_, err := describeHaVips(t, api)
	require.NoError(t, err, "temporary keys work")
	calls := w.cloud.Calls()
	assert.Equal(t, k.TmpSecretId, calls[len(calls)-1].SecretID)

	_, err = describeHaVips(t, w.client(t, common.NewTokenCredential(k.TmpSecretId, k.TmpSecretKey, "other-token")))
	assert.Equal(t, vpcsim.CodeTokenFailure, code(err), "%v", err)
	_, err = describeHaVips(t, w.client(t, common.NewCredential(k.TmpSecretId, k.TmpSecretKey)))
	assert.Equal(t, vpcsim.CodeTokenFailure, code(err), "no token: %v", err)
	_, err = describeHaVips(t, w.client(t, common.NewTokenCredential(k.TmpSecretId, "wrong", k.Token)))
	assert.Equal(t, vpcsim.CodeSignatureFailure, code(err), "%v", err)

	time.Sleep(ttl + 100*time.Millisecond)
	_, err = describeHaVips(t, api)
	assert.Equal(t, vpcsim.CodeTokenFailure, code(err), "expired: %v", err)

	k2 := fetchKeys(t, md.URL)
	assert.NotEqual(t, k.TmpSecretId, k2.TmpSecretId, "new keys after expiry")
	_, err = describeHaVips(t, w.client(t, common.NewTokenCredential(k2.TmpSecretId, k2.TmpSecretKey, k2.Token)))
	require.NoError(t, err)

	w.cloud.ExpireRoleKeys()
	_, err = describeHaVips(t, w.client(t, common.NewTokenCredential(k2.TmpSecretId, k2.TmpSecretKey, k2.Token)))
	assert.Equal(t, vpcsim.CodeTokenFailure, code(err), "%v", err)
}

// TestSDKRoleProvider has the SDK's own CvmRoleProvider, which reads
// http://metadata.tencentyun.com/latest/meta-data/, fetch the keys: the
// test binary's default transport is pointed at the fake for that host.
func TestSDKRoleProvider(t *testing.T) {
	w := newWorld(t)
	md := httptest.NewServer(w.cloud.MetadataHandler("ins-a"))
	t.Cleanup(md.Close)

	saved := http.DefaultTransport
	tr := saved.(*http.Transport).Clone()
	tr.Proxy = nil
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "metadata.tencentyun.com:") {
			addr = strings.TrimPrefix(md.URL, "http://")
		}
		return dial(ctx, network, addr)
	}
	http.DefaultTransport = tr
	t.Cleanup(func() { http.DefaultTransport = saved })

	cred, err := common.DefaultCvmRoleProvider().GetCredential()
	require.NoError(t, err)
	id, key, token := cred.GetCredential()
	assert.True(t, strings.HasPrefix(id, "AKID"), id)
	assert.NotEmpty(t, key)
	assert.NotEmpty(t, token)
	_, err = describeHaVips(t, w.client(t, cred))
	require.NoError(t, err)
}
