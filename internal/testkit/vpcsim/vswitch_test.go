package vpcsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

const (
	tcpPort = 7000
	udpPort = 7001
)

// responder answers, in host h, TCP connections to any address on tcpPort
// and UDP datagrams to each of addrs on udpPort with name, until the test
// ends.
func responder(t *testing.T, h *netlab.Host, name string, addrs ...netip.Addr) {
	t.Helper()
	var ln net.Listener
	var pcs []net.PacketConn
	err := h.Do(func() error {
		// Bind UDP to addresses the host does not have yet, so that
		// replies come from the address asked.
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_nonlocal_bind", []byte("1\n"), 0o644); err != nil {
			return err
		}
		var err error
		if ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", tcpPort)); err != nil {
			return err
		}
		for _, a := range addrs {
			pc, err := net.ListenPacket("udp4", netip.AddrPortFrom(a, udpPort).String())
			if err != nil {
				return err
			}
			pcs = append(pcs, pc)
		}
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ln.Close()
		for _, pc := range pcs {
			pc.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(name))
			c.Close()
		}
	}()
	for _, pc := range pcs {
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo([]byte(name), from)
			}
		}()
	}
}

// whoTCP connects from h to ip and returns what the responder there says.
func whoTCP(h *netlab.Host, ip netip.Addr) (string, error) {
	return h.AskName(netip.AddrPortFrom(ip, tcpPort), time.Second)
}

// whoUDP asks the responder at ip by UDP from h.
func whoUDP(h *netlab.Host, ip netip.Addr) (string, error) {
	var out string
	err := h.Do(func() error {
		c, err := net.Dial("udp4", netip.AddrPortFrom(ip, udpPort).String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("who?")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		out = string(buf[:n])
		return err
	})
	return out, err
}

// reaches waits until the responder at ip answers "want" to h by TCP and
// UDP, and ping works.
func reaches(t *testing.T, h *netlab.Host, ip netip.Addr, want string) {
	t.Helper()
	var last string
	ok := assert.Eventually(t, func() bool {
		tcp, err1 := whoTCP(h, ip)
		udp, err2 := whoUDP(h, ip)
		last = fmt.Sprintf("tcp %q (%v), udp %q (%v)", tcp, err1, udp, err2)
		return tcp == want && udp == want
	}, 10*time.Second, 100*time.Millisecond)
	if !ok {
		t.Fatalf("%s never reached %s at %v: last %s", h.Name(), want, ip, last)
	}
	require.NoError(t, h.Ping(ip, 3*time.Second))
}

// announce adds ip to the host's interface and sends a gratuitous ARP for
// it, as keepalived does on becoming master.
func announce(t *testing.T, i *netlab.Iface, ip netip.Addr) {
	t.Helper()
	i.AddAddr(netip.PrefixFrom(ip, 32))
	var s *garp.Sender
	require.NoError(t, i.Host().Do(func() error {
		var err error
		s, err = garp.NewSenderByName(i.Name(), nil)
		return err
	}))
	defer s.Close()
	require.NoError(t, s.Announce(ip))
}

// waitAnnouncement waits until the vswitch has read a gratuitous ARP for
// ip from instance and returns it.
func waitAnnouncement(t *testing.T, v *vpcsim.VSwitch, instance string, ip netip.Addr) vpcsim.Announcement {
	t.Helper()
	var found vpcsim.Announcement
	require.Eventually(t, func() bool {
		for _, a := range v.Announcements() {
			if a.Instance == instance && a.IP == ip {
				found = a
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "the vswitch never read %s's announcement of %v", instance, ip)
	return found
}

// inHost returns an SDK client that connects from inside h.
func inHost(t *testing.T, h *netlab.Host, url string, cred common.CredentialIface) *vpc.Client {
	t.Helper()
	api := sdkClient(t, url, cred, vpcsim.DefaultRegion)
	api.WithHttpTransport(nsTransport(h))
	return api
}

// nsTransport is an HTTP transport whose connections are made in h.
func nsTransport(h *netlab.Host) *http.Transport {
	return &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := h.Do(func() error {
				var err error
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}
}

func TestVSwitch(t *testing.T) {
	lab := netlab.New(t)
	cloud := vpcsim.NewCloud(testID, testKey)
	t.Cleanup(cloud.Close)
	cloud.AddSubnet("subnet-ab", netip.MustParsePrefix("192.0.2.0/24"))
	cloud.AddSubnet("subnet-c", netip.MustParsePrefix("198.51.100.0/24"))
	cloud.AddInstance("ins-a", "eni-a", nil, "subnet-ab", netip.MustParseAddr("192.0.2.1"))
	cloud.AddInstance("ins-b", "eni-b", nil, "subnet-ab", netip.MustParseAddr("192.0.2.2"))
	cloud.AddInstance("ins-d", "eni-d", nil, "subnet-ab", netip.MustParseAddr("192.0.2.4"))
	cloud.AddInstance("ins-c", "eni-c", nil, "subnet-c", netip.MustParseAddr("198.51.100.1"))
	cloud.AddHaVip("havip-1", vipAddr, "subnet-ab")
	cloud.AddPrivateIP("eni-a", privAddr)

	v := vpcsim.NewVSwitch(lab, cloud)
	a, b, c, d := lab.Host("a"), lab.Host("b"), lab.Host("c"), lab.Host("d")
	ia := v.AddHost(a, "ins-a")
	ib := v.AddHost(b, "ins-b")
	ic := v.AddHost(c, "ins-c")
	v.AddHost(d, "ins-d")
	responder(t, a, "a", vipAddr, privAddr)
	responder(t, b, "b", vipAddr, privAddr)

	// The ENIs have the hosts' MACs.
	eb, _ := cloud.Instance("ins-b")
	assert.Equal(t, ib.MAC().String(), eb.MAC.String())

	// Primary addresses are routed across subnets through the gateway.
	require.NoError(t, c.Ping(netip.MustParseAddr("192.0.2.1"), 5*time.Second))
	require.NoError(t, d.Ping(netip.MustParseAddr("198.51.100.1"), 5*time.Second))

	// An unbound HAVIP goes nowhere.
	assert.Equal(t, "", v.Route(vipAddr))
	_, err := whoTCP(d, vipAddr)
	require.Error(t, err, "an unbound HAVIP must not be reachable")

	// The private IP lives on a, by the Cloud's word: a has it configured.
	ia.AddAddr(netip.PrefixFrom(privAddr, 32))
	reaches(t, d, privAddr, "a")

	t.Run("a announces the HAVIP", func(t *testing.T) {
		announce(t, ia, vipAddr)
		assert.True(t, waitAnnouncement(t, v, "ins-a", vipAddr).Bound)
		assert.Equal(t, "eni-a", holder(t, cloud, vipAddr))
		reaches(t, d, vipAddr, "a")
		reaches(t, c, vipAddr, "a")
		// d's ARP entry for the HAVIP is the vswitch's port (proxy ARP).
		out := d.MustRun("ip", "neigh", "show", vipAddr.String())
		assert.Contains(t, strings.ToLower(out), portMAC(t, v, "ins-d"), "proxy ARP answers for every address")
	})

	t.Run("b announces the HAVIP and takes it", func(t *testing.T) {
		announce(t, ib, vipAddr) // a still has it configured: the VPC decides
		assert.True(t, waitAnnouncement(t, v, "ins-b", vipAddr).Bound)
		assert.Equal(t, "eni-b", holder(t, cloud, vipAddr))
		assert.Equal(t, v.Port("ins-b"), v.Route(vipAddr))
		reaches(t, d, vipAddr, "b")
		reaches(t, c, vipAddr, "b")
	})

	t.Run("c of another subnet announces the HAVIP: nothing moves", func(t *testing.T) {
		announce(t, ic, vipAddr)
		assert.False(t, waitAnnouncement(t, v, "ins-c", vipAddr).Bound)
		assert.Equal(t, "eni-b", holder(t, cloud, vipAddr))
		reaches(t, d, vipAddr, "b")
	})

	t.Run("b announces the private IP: nothing moves", func(t *testing.T) {
		announce(t, ib, privAddr)
		assert.False(t, waitAnnouncement(t, v, "ins-b", privAddr).Bound)
		assert.Equal(t, "eni-a", holder(t, cloud, privAddr))
		reaches(t, d, privAddr, "a")
		reaches(t, c, privAddr, "a")
	})

	t.Run("the API migrates the private IP to b", func(t *testing.T) {
		cloud.SetTaskLatency(300 * time.Millisecond)
		// From inside b, through the vswitch, with keys from b's
		// metadata service.
		md := &http.Client{Transport: nsTransport(b), Timeout: 5 * time.Second}
		get := func(path string) string {
			resp, err := md.Get(v.MetadataURL("ins-b") + "/latest/meta-data/" + path)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return string(body)
		}
		assert.Equal(t, "ins-b", get("instance-id"))
		assert.Equal(t, ib.MAC().String(), get("mac"))
		keys := struct{ TmpSecretId, TmpSecretKey, Token string }{}
		require.NoError(t, jsonUnmarshal(get("cam/security-credentials/"+get("cam/security-credentials/")), &keys))
		api := inHost(t, b, v.APIURL(), common.NewTokenCredential(keys.TmpSecretId, keys.TmpSecretKey, keys.Token))

		task, err := migrate(api, "eni-a", "eni-b", privAddr.String())
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			s, _ := taskStatus(t, api, task)
			return s == vpcsim.TaskSuccess
		}, 10*time.Second, 50*time.Millisecond)
		assert.Equal(t, "eni-b", holder(t, cloud, privAddr))
		assert.Equal(t, v.Port("ins-b"), v.Route(privAddr))
		reaches(t, d, privAddr, "b")
		reaches(t, c, privAddr, "b")
		calls := cloud.CallsOf("MigratePrivateIpAddress")
		require.Len(t, calls, 1)
		assert.Equal(t, keys.TmpSecretId, calls[0].SecretID)
	})

	t.Run("the API is reachable from every host", func(t *testing.T) {
		for _, h := range []*netlab.Host{a, c, d} {
			api := inHost(t, h, v.APIURL(), common.NewCredential(testID, testKey))
			set, err := describeHaVips(t, api, filter("vip", vipAddr.String()))
			require.NoError(t, err, h.Name())
			require.Len(t, set, 1)
			assert.Equal(t, "eni-b", *set[0].NetworkInterfaceId)
		}
	})

	// The API is on each host's loopback, and what goes there goes
	// through the host's network to the vswitch, as to the real API.
	t.Run("the API's relay takes the host's default route", func(t *testing.T) {
		assert.Equal(t, "http://"+vpcsim.LocalAPI.String(), v.APIURL())
		assert.True(t, vpcsim.LocalAPI.Addr().IsLoopback())
		gw, _ := cloud.Gateway("subnet-ab")
		api := inHost(t, d, v.APIURL(), common.NewCredential(testID, testKey))
		d.MustRun("ip", "route", "del", "default")
		_, err := describeHaVips(t, api, filter("vip", vipAddr.String()))
		require.Error(t, err, "the API answered a host without a route to it")
		d.MustRun("ip", "route", "add", "default", "via", gw.String())
		_, err = describeHaVips(t, api, filter("vip", vipAddr.String()))
		require.NoError(t, err)
	})

	require.NoError(t, v.Err())
}

// portMAC returns the MAC of the vswitch's port to instance.
func portMAC(t *testing.T, v *vpcsim.VSwitch, instance string) string {
	t.Helper()
	var mac string
	require.NoError(t, v.Host().Do(func() error {
		ifi, err := net.InterfaceByName(v.Port(instance))
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr.String()
		return nil
	}))
	return mac
}

// TestVSwitchClosedWithLab checks that the lab's cleanup closes the
// vswitch: after the subtest's lab is gone the ARP readers are stopped
// and the API port is free again.
func TestVSwitchClosedWithLab(t *testing.T) {
	var v *vpcsim.VSwitch
	var cloud *vpcsim.Cloud
	t.Run("lab", func(t *testing.T) {
		lab := netlab.New(t)
		cloud = vpcsim.NewCloud(testID, testKey)
		cloud.AddSubnet("subnet-ab", netip.MustParsePrefix("192.0.2.0/24"))
		cloud.AddInstance("ins-a", "eni-a", nil, "subnet-ab", netip.MustParseAddr("192.0.2.1"))
		cloud.AddHaVip("havip-1", vipAddr, "subnet-ab")
		v = vpcsim.NewVSwitch(lab, cloud)
		v.AddHost(lab.Host("a"), "ins-a")
		v.APIURL()
	})
	if t.Skipped() || v == nil {
		return
	}
	// The namespace is gone, and the vswitch was closed before: a move
	// now is not routed, so it meets no missing namespace.
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NotContains(t, string(out), v.Host().Name())
	require.True(t, cloud.BindHaVip(vipAddr, "eni-a"))
	assert.Equal(t, "", v.Route(vipAddr))
	assert.NoError(t, v.Err())
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
