package vpcsim

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// MetadataHandler returns the metadata service of the instance instanceID,
// as a CVM reaches it at http://metadata.tencentyun.com/latest/meta-data/
// (https://cloud.tencent.com/document/product/213/4934). It serves GET
// requests for:
//
//	instance-id, instance-name, uuid, local-ipv4, mac (lower case),
//	placement/region, placement/zone,
//	network/interfaces/macs/ and, under network/interfaces/macs/MAC/:
//	mac, primary-local-ipv4, vpc-id, subnet-id, local-ipv4s/ and
//	local-ipv4s/IP/{gateway,local-ipv4,subnet-mask},
//	cam/security-credentials/ (the role's name) and
//	cam/security-credentials/ROLE: temporary keys as JSON
//	{"TmpSecretId", "TmpSecretKey", "ExpiredTime" (Unix seconds),
//	"Expiration" (RFC 3339), "Token", "Code": "Success"},
//
// and the directory listings above them (one name a line, directories
// ending in "/"). Anything else, and the role paths when the instance has
// no role ([Cloud.SetRole]), is 404, which the SDK's CvmRoleProvider takes
// as "no role bound". The keys last [Cloud.SetRoleTTL]; the service hands
// out the same keys until less than half of that is left, then new ones,
// as the real service renews them before they expire.
func (c *Cloud) MetadataHandler(instanceID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, ok := c.metadata(instanceID, r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(body))
	})
}

// metadata returns the metadata at path.
func (c *Cloud) metadata(instanceID, path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/latest/meta-data/")
	if !ok {
		switch path {
		case "/", "/latest", "/latest/":
			return "meta-data\n", true
		case "/latest/meta-data":
			rest = ""
		default:
			return "", false
		}
	}
	c.mu.Lock()
	in, ok := c.instances[instanceID]
	if !ok {
		c.mu.Unlock()
		return "", false
	}
	e := c.enis[in.eni]
	s := c.subnets[e.subnet]
	mac := strings.ToLower(net.HardwareAddr(e.mac).String())
	role, region := in.role, c.region
	primary := e.primaryIP
	locals := append([]netip.Addr{primary}, e.secondaries...)
	c.mu.Unlock()

	if r, ok := strings.CutPrefix(rest, "cam/security-credentials/"); ok {
		switch {
		case role == "":
			return "", false
		case r == "":
			return role, true
		case r == role:
			return c.roleKeys(instanceID), true
		}
		return "", false
	}
	if r, ok := strings.CutPrefix(rest, "network/interfaces/macs/"); ok {
		if r == "" {
			return mac + "/\n", true
		}
		m, sub, _ := strings.Cut(r, "/")
		if !strings.EqualFold(m, mac) {
			return "", false
		}
		switch sub {
		case "":
			return "mac\nprimary-local-ipv4\nvpc-id\nsubnet-id\nlocal-ipv4s/\n", true
		case "mac":
			return mac, true
		case "primary-local-ipv4":
			return primary.String(), true
		case "vpc-id":
			return DefaultVpcID, true
		case "subnet-id":
			return s.id, true
		case "local-ipv4s/":
			var b strings.Builder
			for _, a := range locals {
				b.WriteString(a.String() + "/\n")
			}
			return b.String(), true
		}
		ipStr, leaf, _ := strings.Cut(strings.TrimPrefix(sub, "local-ipv4s/"), "/")
		a, err := netip.ParseAddr(ipStr)
		if !strings.HasPrefix(sub, "local-ipv4s/") || err != nil || !containsAddr(locals, a) {
			return "", false
		}
		switch leaf {
		case "":
			return "gateway\nlocal-ipv4\nsubnet-mask\n", true
		case "gateway":
			return gatewayOf(s.prefix).String(), true
		case "local-ipv4":
			return a.String(), true
		case "subnet-mask":
			return net.IP(net.CIDRMask(s.prefix.Bits(), 32)).String(), true
		}
		return "", false
	}
	switch rest {
	case "":
		list := "instance-id\ninstance-name\nuuid\nlocal-ipv4\nmac\nplacement/\nnetwork/\n"
		if role != "" {
			list += "cam/\n"
		}
		return list, true
	case "instance-id", "instance-name", "uuid":
		return instanceID, true
	case "local-ipv4":
		return primary.String(), true
	case "mac":
		return mac, true
	case "placement/":
		return "region\nzone\n", true
	case "placement/region":
		return region, true
	case "placement/zone":
		return DefaultZone, true
	case "network/":
		return "interfaces/\n", true
	case "network/interfaces/":
		return "macs/\n", true
	case "cam/":
		if role != "" {
			return "security-credentials/\n", true
		}
	}
	return "", false
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// roleKeys returns the JSON of the instance's current temporary keys,
// making new ones when less than half their life is left.
func (c *Cloud) roleKeys(instanceID string) string {
	c.mu.Lock()
	now := c.now()
	k := c.instKeys[instanceID]
	if k == nil || k.expires.Sub(now) < c.roleTTL/2 {
		k = &tempKey{
			id:       "AKID" + randomString(32),
			key:      randomString(32),
			token:    randomString(96),
			instance: instanceID,
			expires:  now.Add(c.roleTTL),
		}
		c.instKeys[instanceID] = k
		c.tempKeys[k.id] = k
	}
	c.mu.Unlock()
	b, _ := json.Marshal(map[string]any{
		"TmpSecretId":  k.id,
		"TmpSecretKey": k.key,
		"ExpiredTime":  k.expires.Unix(),
		"Expiration":   k.expires.UTC().Format(time.RFC3339),
		"Token":        k.token,
		"Code":         "Success",
	})
	return string(b)
}

// ExpireRoleKeys makes every temporary key handed out so far expire now,
// as if their time had run out.
func (c *Cloud) ExpireRoleKeys() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, k := range c.tempKeys {
		k.expires = now
	}
	clear(c.instKeys)
}
