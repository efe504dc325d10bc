package tencentcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultMetadataURL is the base URL of the metadata service of a CVM.
const DefaultMetadataURL = "http://metadata.tencentyun.com"

// Metadata is a small client of the CVM metadata service: this instance's
// ID, MAC address and region, and the temporary keys of its CAM role.
type Metadata struct {
	// BaseURL is the service's base URL; empty means DefaultMetadataURL.
	BaseURL string
	// Client makes the requests; nil means one with a 2 s timeout.
	Client *http.Client
}

func (m *Metadata) get(ctx context.Context, path string) (string, error) {
	base := m.BaseURL
	if base == "" {
		base = DefaultMetadataURL
	}
	client := m.Client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/latest/meta-data/"+path, nil)
	if err != nil {
		return "", fmt.Errorf("tencentcloud: metadata %s: %w", path, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("tencentcloud: metadata %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("tencentcloud: metadata %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("tencentcloud: metadata %s: %s", path, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// InstanceID returns this instance's ID (ins-...).
func (m *Metadata) InstanceID(ctx context.Context) (string, error) {
	return m.get(ctx, "instance-id")
}

// MAC returns the MAC address of this instance's primary network interface.
func (m *Metadata) MAC(ctx context.Context) (net.HardwareAddr, error) {
	s, err := m.get(ctx, "mac")
	if err != nil {
		return nil, err
	}
	mac, err := net.ParseMAC(s)
	if err != nil {
		return nil, fmt.Errorf("tencentcloud: metadata mac %q: %w", s, err)
	}
	return mac, nil
}

// Region returns this instance's region (ap-guangzhou, ...).
func (m *Metadata) Region(ctx context.Context) (string, error) {
	return m.get(ctx, "placement/region")
}

// roleKeys are the temporary keys of a CAM role, as the metadata service
// gives them.
type roleKeys struct {
	TmpSecretID  string `json:"TmpSecretId"`
	TmpSecretKey string `json:"TmpSecretKey"`
	Token        string `json:"Token"`
	ExpiredTime  int64  `json:"ExpiredTime"`
	Code         string `json:"Code"`
}

// roleKeys fetches the temporary keys of the instance's CAM role (the
// first role the service lists).
func (m *Metadata) roleKeys(ctx context.Context) (roleKeys, error) {
	roles, err := m.get(ctx, "cam/security-credentials/")
	if err != nil {
		return roleKeys{}, err
	}
	role, _, _ := strings.Cut(roles, "\n")
	if role == "" {
		return roleKeys{}, fmt.Errorf("tencentcloud: the instance has no CAM role")
	}
	s, err := m.get(ctx, "cam/security-credentials/"+role)
	if err != nil {
		return roleKeys{}, err
	}
	var k roleKeys
	if err := json.Unmarshal([]byte(s), &k); err != nil {
		return roleKeys{}, fmt.Errorf("tencentcloud: CAM role %s: malformed keys", role)
	}
	if k.Code != "Success" || k.TmpSecretID == "" || k.TmpSecretKey == "" {
		return roleKeys{}, fmt.Errorf("tencentcloud: CAM role %s: no keys (code %q)", role, k.Code)
	}
	return k, nil
}

// roleCredential is the SDK credential of the instance's CAM role,
// refreshed from the metadata service before it expires. It implements
// the SDK's common.CredentialIface and never prints its secrets.
type roleCredential struct {
	md     *Metadata
	before time.Duration // refresh this long before expiry

	mu         sync.Mutex
	keys       roleKeys
	retryAfter time.Time // after a failed refresh, not before
}

func newRoleCredential(ctx context.Context, md *Metadata) (*roleCredential, error) {
	c := &roleCredential{md: md, before: 5 * time.Minute}
	k, err := md.roleKeys(ctx)
	if err != nil {
		return nil, err
	}
	c.keys = k
	return c, nil
}

// current returns the keys, refreshing them first when they expire
// within the refresh margin. A failed refresh keeps the old keys (they
// may still work; the API's answer says whether they do) and is not tried
// again for 10 s, so a down metadata service does not slow every call.
func (c *roleCredential) current() roleKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Until(time.Unix(c.keys.ExpiredTime, 0)) < c.before && time.Now().After(c.retryAfter) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if k, err := c.md.roleKeys(ctx); err == nil {
			c.keys = k
		} else {
			c.retryAfter = time.Now().Add(10 * time.Second)
		}
	}
	return c.keys
}

// invalidate makes the next use fetch new keys, as after the API refused
// these.
func (c *roleCredential) invalidate() {
	c.mu.Lock()
	c.keys.ExpiredTime, c.retryAfter = 0, time.Time{}
	c.mu.Unlock()
}

func (c *roleCredential) GetSecretId() string  { return c.current().TmpSecretID }
func (c *roleCredential) GetSecretKey() string { return c.current().TmpSecretKey }
func (c *roleCredential) GetToken() string     { return c.current().Token }
func (c *roleCredential) GetCredential() (string, string, string) {
	k := c.current()
	return k.TmpSecretID, k.TmpSecretKey, k.Token
}

// String hides the secrets from any log that prints the credential.
func (c *roleCredential) String() string { return "tencentcloud CAM role credential (redacted)" }
