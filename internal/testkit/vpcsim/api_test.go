package vpcsim_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"

	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

const (
	testID  = "AKIDvipkitTEST"
	testKey = "vipkit-secret-key"
)

var (
	vipAddr  = netip.MustParseAddr("192.0.2.100")
	privAddr = netip.MustParseAddr("192.0.2.101")
)

// world is a Cloud with two subnets: sub-ab (192.0.2.0/24, instances a and
// b) and sub-c (198.51.100.0/24, instance c); HAVIP havip-1 (192.0.2.100,
// unbound) and the private IP 192.0.2.101 on eni-a. Its API is served on
// loopback.
type world struct {
	cloud *vpcsim.Cloud
	srv   *httptest.Server
	moves *moveLog
}

// moveLog records OnMove calls.
type moveLog struct {
	mu    sync.Mutex
	calls []string
}

func (m *moveLog) add(ip netip.Addr, eni string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, ip.String()+"->"+eni)
}

func (m *moveLog) get() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	c := vpcsim.NewCloud(testID, testKey)
	t.Cleanup(c.Close)
	c.AddSubnet("subnet-ab", netip.MustParsePrefix("192.0.2.0/24"))
	c.AddSubnet("subnet-c", netip.MustParsePrefix("198.51.100.0/24"))
	c.AddInstance("ins-a", "eni-a", net.HardwareAddr{0x52, 0x54, 0, 0xaa, 0xbb, 0x01}, "subnet-ab", netip.MustParseAddr("192.0.2.1"))
	c.AddInstance("ins-b", "eni-b", net.HardwareAddr{0x52, 0x54, 0, 0xaa, 0xbb, 0x02}, "subnet-ab", netip.MustParseAddr("192.0.2.2"))
	c.AddInstance("ins-c", "eni-c", nil, "subnet-c", netip.MustParseAddr("198.51.100.1"))
	c.AddHaVip("havip-1", vipAddr, "subnet-ab")
	c.AddPrivateIP("eni-a", privAddr)
	m := &moveLog{}
	c.OnMove(m.add)
	srv := httptest.NewServer(c.APIHandler())
	t.Cleanup(srv.Close)
	return &world{cloud: c, srv: srv, moves: m}
}

// client returns the real SDK client for the world's API with cred.
func (w *world) client(t *testing.T, cred common.CredentialIface) *vpc.Client {
	t.Helper()
	return sdkClient(t, w.srv.URL, cred, vpcsim.DefaultRegion)
}

func sdkClient(t *testing.T, url string, cred common.CredentialIface, region string) *vpc.Client {
	t.Helper()
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = strings.TrimPrefix(url, "http://")
	prof.HttpProfile.Scheme = "http"
	prof.HttpProfile.ReqTimeout = 10
	c, err := vpc.NewClient(cred, region, prof)
	require.NoError(t, err)
	return c
}

func (w *world) api(t *testing.T) *vpc.Client {
	return w.client(t, common.NewCredential(testID, testKey))
}

// code returns the API error code of err, "" if err is not an API error.
func code(err error) string {
	var e *sdkerrors.TencentCloudSDKError
	if errors.As(err, &e) {
		return e.GetCode()
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func filter(name string, values ...string) *vpc.Filter {
	f := &vpc.Filter{Name: ptr(name)}
	for _, v := range values {
		f.Values = append(f.Values, ptr(v))
	}
	return f
}

func describeHaVips(t *testing.T, api *vpc.Client, fs ...*vpc.Filter) ([]*vpc.HaVip, error) {
	t.Helper()
	req := vpc.NewDescribeHaVipsRequest()
	req.Filters = fs
	resp, err := api.DescribeHaVips(req)
	if err != nil {
		return nil, err
	}
	require.NotNil(t, resp.Response.TotalCount)
	require.EqualValues(t, len(resp.Response.HaVipSet), *resp.Response.TotalCount)
	return resp.Response.HaVipSet, nil
}

func holder(t *testing.T, c *vpcsim.Cloud, ip netip.Addr) string {
	t.Helper()
	h, _ := c.Holder(ip)
	return h
}

func TestDescribeHaVips(t *testing.T) {
	w := newWorld(t)
	api := w.api(t)

	set, err := describeHaVips(t, api, filter("vip", vipAddr.String()))
	require.NoError(t, err)
	require.Len(t, set, 1)
	h := set[0]
	assert.Equal(t, "havip-1", *h.HaVipId)
	assert.Equal(t, "192.0.2.100", *h.Vip)
	assert.Equal(t, "subnet-ab", *h.SubnetId)
	assert.Equal(t, vpcsim.DefaultVpcID, *h.VpcId)
	assert.Equal(t, "UNBIND", *h.State)
	assert.Equal(t, "", *h.NetworkInterfaceId)
	assert.Equal(t, "", *h.InstanceId)
	assert.Equal(t, "", *h.AddressIp, "AddressIp is the bound EIP")
	_, ok := w.cloud.Holder(vipAddr)
	assert.False(t, ok, "an unbound HAVIP has no holder")

	require.True(t, w.cloud.BindHaVip(vipAddr, "eni-b"))
	assert.Equal(t, []string{"192.0.2.100->eni-b"}, w.moves.get())
	assert.Equal(t, "eni-b", holder(t, w.cloud, vipAddr))
	set, err = describeHaVips(t, api, filter("havip-id", "havip-1"))
	require.NoError(t, err)
	require.Len(t, set, 1)
	assert.Equal(t, "AVAILABLE", *set[0].State)
	assert.Equal(t, "eni-b", *set[0].NetworkInterfaceId)
	assert.Equal(t, "ins-b", *set[0].InstanceId)

	// Binding again to the holder changes nothing; another subnet's ENI,
	// an unknown ENI and an ordinary private IP cannot bind.
	assert.True(t, w.cloud.BindHaVip(vipAddr, "eni-b"))
	assert.False(t, w.cloud.BindHaVip(vipAddr, "eni-c"))
	assert.False(t, w.cloud.BindHaVip(vipAddr, "eni-nope"))
	assert.False(t, w.cloud.BindHaVip(privAddr, "eni-b"))
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr))
	assert.Equal(t, []string{"192.0.2.100->eni-b"}, w.moves.get())

	for _, tc := range []struct {
		name string
		f    []*vpc.Filter
		want int
	}{
		{"no filter", nil, 1},
		{"subnet", []*vpc.Filter{filter("subnet-id", "subnet-ab")}, 1},
		{"other subnet", []*vpc.Filter{filter("subnet-id", "subnet-c")}, 0},
		{"vpc", []*vpc.Filter{filter("vpc-id", vpcsim.DefaultVpcID)}, 1},
		{"other vpc", []*vpc.Filter{filter("vpc-id", "vpc-other")}, 0},
		{"values ORed", []*vpc.Filter{filter("havip-id", "havip-x", "havip-1")}, 1},
		{"filters ANDed", []*vpc.Filter{filter("havip-id", "havip-1"), filter("subnet-id", "subnet-c")}, 0},
		{"address-ip is the EIP, not the VIP", []*vpc.Filter{filter("address-ip", vipAddr.String())}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := describeHaVips(t, api, tc.f...)
			require.NoError(t, err)
			assert.Len(t, set, tc.want)
		})
	}

	req := vpc.NewDescribeHaVipsRequest()
	req.HaVipIds = []*string{ptr("havip-1")}
	resp, err := api.DescribeHaVips(req)
	require.NoError(t, err)
	assert.Len(t, resp.Response.HaVipSet, 1)
	req.Filters = []*vpc.Filter{filter("vip", "192.0.2.100")}
	_, err = api.DescribeHaVips(req)
	assert.Equal(t, vpcsim.CodeCoexist, code(err), "%v", err)

	_, err = describeHaVips(t, api, filter("havip-ip", "192.0.2.100"))
	assert.Equal(t, vpcsim.CodeFilterInvalidKey, code(err), "%v", err)
}

func TestDescribeNetworkInterfaces(t *testing.T) {
	w := newWorld(t)
	api := w.api(t)

	req := vpc.NewDescribeNetworkInterfacesRequest()
	req.Filters = []*vpc.Filter{filter("attachment.instance-id", "ins-a")}
	resp, err := api.DescribeNetworkInterfaces(req)
	require.NoError(t, err)
	require.Len(t, resp.Response.NetworkInterfaceSet, 1)
	assert.EqualValues(t, 1, *resp.Response.TotalCount)
	ni := resp.Response.NetworkInterfaceSet[0]
	assert.Equal(t, "eni-a", *ni.NetworkInterfaceId)
	assert.Equal(t, "52:54:00:AA:BB:01", *ni.MacAddress, "Tencent writes MACs in upper case")
	assert.Equal(t, "subnet-ab", *ni.SubnetId)
	assert.Equal(t, vpcsim.DefaultVpcID, *ni.VpcId)
	assert.True(t, *ni.Primary)
	require.NotNil(t, ni.Attachment)
	assert.Equal(t, "ins-a", *ni.Attachment.InstanceId)
	require.Len(t, ni.PrivateIpAddressSet, 2)
	assert.Equal(t, "192.0.2.1", *ni.PrivateIpAddressSet[0].PrivateIpAddress)
	assert.True(t, *ni.PrivateIpAddressSet[0].Primary)
	assert.Equal(t, "192.0.2.101", *ni.PrivateIpAddressSet[1].PrivateIpAddress)
	assert.False(t, *ni.PrivateIpAddressSet[1].Primary)

	// A made-up MAC is in Tencent's 20:90:6F range.
	req = vpc.NewDescribeNetworkInterfacesRequest()
	req.NetworkInterfaceIds = []*string{ptr("eni-c")}
	resp, err = api.DescribeNetworkInterfaces(req)
	require.NoError(t, err)
	require.Len(t, resp.Response.NetworkInterfaceSet, 1)
	assert.True(t, strings.HasPrefix(*resp.Response.NetworkInterfaceSet[0].MacAddress, "20:90:6F:"), *resp.Response.NetworkInterfaceSet[0].MacAddress)

	ids := func(f ...*vpc.Filter) []string {
		t.Helper()
		req := vpc.NewDescribeNetworkInterfacesRequest()
		req.Filters = f
		resp, err := api.DescribeNetworkInterfaces(req)
		require.NoError(t, err)
		var out []string
		for _, ni := range resp.Response.NetworkInterfaceSet {
			out = append(out, *ni.NetworkInterfaceId)
		}
		return out
	}
	assert.Equal(t, []string{"eni-a", "eni-b", "eni-c"}, ids(filter("vpc-id", vpcsim.DefaultVpcID)))
	assert.Equal(t, []string{"eni-a", "eni-b"}, ids(filter("subnet-id", "subnet-ab")))
	assert.Equal(t, []string{"eni-b"}, ids(filter("network-interface-id", "eni-b")))
	assert.Equal(t, []string{"eni-a"}, ids(filter("address-ip", "192.0.2.101")))
	assert.Empty(t, ids(filter("vpc-id", "vpc-other")))
	// address-ip: one address is a suffix of a private IP, primary or not;
	// several are exact, and ip-exact-match makes one exact.
	assert.Equal(t, []string{"eni-a", "eni-c"}, ids(filter("address-ip", "1")))
	assert.Equal(t, []string{"eni-a"}, ids(filter("address-ip", "0.2.1")))
	assert.Equal(t, []string{"eni-a"}, ids(filter("address-ip", "01")))
	assert.Empty(t, ids(filter("address-ip", "1"), filter("ip-exact-match", "true")))
	assert.Equal(t, []string{"eni-a"}, ids(filter("address-ip", "192.0.2.1"), filter("ip-exact-match", "true")))
	assert.Equal(t, []string{"eni-b"}, ids(filter("address-ip", "1", "192.0.2.2")))
	assert.Equal(t, []string{"eni-a", "eni-c"}, ids(filter("address-ip", "1"), filter("ip-exact-match", "false")))

	// Paging: Offset and Limit, TotalCount counts all.
	req = vpc.NewDescribeNetworkInterfacesRequest()
	req.Filters = []*vpc.Filter{filter("vpc-id", vpcsim.DefaultVpcID)}
	req.Offset, req.Limit = ptr(uint64(2)), ptr(uint64(2))
	resp, err = api.DescribeNetworkInterfaces(req)
	require.NoError(t, err)
	assert.EqualValues(t, 3, *resp.Response.TotalCount)
	require.Len(t, resp.Response.NetworkInterfaceSet, 1)
	assert.Equal(t, "eni-c", *resp.Response.NetworkInterfaceSet[0].NetworkInterfaceId)
	req.Limit = ptr(uint64(101))
	_, err = api.DescribeNetworkInterfaces(req)
	assert.Equal(t, vpcsim.CodeLimitExceeded, code(err), "%v", err)

	req = vpc.NewDescribeNetworkInterfacesRequest()
	req.Filters = []*vpc.Filter{filter("instance-id", "ins-a")}
	_, err = api.DescribeNetworkInterfaces(req)
	assert.Equal(t, vpcsim.CodeFilterInvalidKey, code(err), "%v", err)
}

func assign(api *vpc.Client, eni string, ips ...string) (*vpc.AssignPrivateIpAddressesResponse, error) {
	req := vpc.NewAssignPrivateIpAddressesRequest()
	req.NetworkInterfaceId = ptr(eni)
	for _, ip := range ips {
		req.PrivateIpAddresses = append(req.PrivateIpAddresses, &vpc.PrivateIpAddressSpecification{PrivateIpAddress: ptr(ip)})
	}
	return api.AssignPrivateIpAddresses(req)
}

func taskStatus(t *testing.T, api *vpc.Client, id string) (string, string) {
	t.Helper()
	req := vpc.NewDescribeVpcTaskResultRequest()
	req.TaskId = ptr(id)
	resp, err := api.DescribeVpcTaskResult(req)
	require.NoError(t, err)
	return *resp.Response.Status, *resp.Response.Output
}

func TestAssignPrivateIpAddresses(t *testing.T) {
	w := newWorld(t)
	api := w.api(t)

	resp, err := assign(api, "eni-b", "192.0.2.50")
	require.NoError(t, err)
	require.Len(t, resp.Response.PrivateIpAddressSet, 1)
	assert.Equal(t, "192.0.2.50", *resp.Response.PrivateIpAddressSet[0].PrivateIpAddress)
	assert.Equal(t, "eni-b", holder(t, w.cloud, netip.MustParseAddr("192.0.2.50")))
	assert.Equal(t, []string{"192.0.2.50->eni-b"}, w.moves.get())
	status, _ := taskStatus(t, api, *resp.Response.RequestId)
	assert.Equal(t, vpcsim.TaskSuccess, status)

	for _, tc := range []struct {
		name, eni, ip, want string
	}{
		{"held by another ENI", "eni-b", "192.0.2.101", vpcsim.CodeResourceInUse},
		{"held by the same ENI", "eni-a", "192.0.2.101", vpcsim.CodeResourceInUse},
		{"another's primary", "eni-b", "192.0.2.1", vpcsim.CodeResourceInUse},
		{"an HAVIP", "eni-b", "192.0.2.100", vpcsim.CodeResourceInUse},
		{"other subnet", "eni-b", "198.51.100.9", vpcsim.CodeRange},
		{"gateway", "eni-b", "192.0.2.254", vpcsim.CodeReserved},
		{"network", "eni-b", "192.0.2.0", vpcsim.CodeReserved},
		{"broadcast", "eni-b", "192.0.2.255", vpcsim.CodeReserved},
		{"malformed", "eni-b", "192.0.2", vpcsim.CodeMalformed},
		{"unknown ENI", "eni-nope", "192.0.2.60", vpcsim.CodeResourceNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assign(api, tc.eni, tc.ip)
			assert.Equal(t, tc.want, code(err), "%v", err)
		})
	}
	_, err = assign(api, "eni-b", "192.0.2.61", "192.0.2.61")
	assert.Equal(t, vpcsim.CodeDuplicatePara, code(err), "%v", err)
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr))
	assert.Equal(t, []string{"192.0.2.50->eni-b"}, w.moves.get(), "failed calls move nothing")

	// Unassign gives the address back.
	req := vpc.NewUnassignPrivateIpAddressesRequest()
	req.NetworkInterfaceId = ptr("eni-b")
	req.PrivateIpAddresses = []*vpc.PrivateIpAddressSpecification{{PrivateIpAddress: ptr("192.0.2.50")}}
	_, err = api.UnassignPrivateIpAddresses(req)
	require.NoError(t, err)
	_, ok := w.cloud.Holder(netip.MustParseAddr("192.0.2.50"))
	assert.False(t, ok)
	assert.Equal(t, []string{"192.0.2.50->eni-b", "192.0.2.50->"}, w.moves.get())
	_, err = api.UnassignPrivateIpAddresses(req)
	assert.Equal(t, vpcsim.CodeResourceNotFound, code(err), "%v", err)
	req.PrivateIpAddresses = []*vpc.PrivateIpAddressSpecification{{PrivateIpAddress: ptr("192.0.2.2")}}
	_, err = api.UnassignPrivateIpAddresses(req)
	assert.Equal(t, vpcsim.CodePrimaryIP, code(err), "%v", err)
}

func migrate(api *vpc.Client, src, dst, ip string) (string, error) {
	req := vpc.NewMigratePrivateIpAddressRequest()
	req.SourceNetworkInterfaceId, req.DestinationNetworkInterfaceId, req.PrivateIpAddress = ptr(src), ptr(dst), ptr(ip)
	resp, err := api.MigratePrivateIpAddress(req)
	if err != nil {
		return "", err
	}
	return *resp.Response.RequestId, nil
}

func TestMigratePrivateIpAddress(t *testing.T) {
	w := newWorld(t)
	api := w.api(t)
	const latency = 400 * time.Millisecond
	w.cloud.SetTaskLatency(latency)

	start := time.Now()
	task, err := migrate(api, "eni-a", "eni-b", "192.0.2.101")
	require.NoError(t, err)
	require.NotEmpty(t, task)
	status, _ := taskStatus(t, api, task)
	assert.Equal(t, vpcsim.TaskRunning, status)
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr), "the address moves when the task ends")

	_, err = migrate(api, "eni-a", "eni-b", "192.0.2.101")
	assert.Equal(t, vpcsim.CodeMutexTaskRunning, code(err), "%v", err)
	_, err = assign(api, "eni-b", "192.0.2.101")
	assert.Equal(t, vpcsim.CodeMutexTaskRunning, code(err), "%v", err)

	require.Eventually(t, func() bool {
		s, _ := taskStatus(t, api, task)
		return s == vpcsim.TaskSuccess
	}, 5*time.Second, 20*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), latency)
	assert.Equal(t, "eni-b", holder(t, w.cloud, privAddr))
	assert.Equal(t, []string{"192.0.2.101->eni-b"}, w.moves.get())

	// The address shows on its new ENI.
	req := vpc.NewDescribeNetworkInterfacesRequest()
	req.Filters = []*vpc.Filter{filter("address-ip", "192.0.2.101")}
	resp, err := api.DescribeNetworkInterfaces(req)
	require.NoError(t, err)
	require.Len(t, resp.Response.NetworkInterfaceSet, 1)
	assert.Equal(t, "eni-b", *resp.Response.NetworkInterfaceSet[0].NetworkInterfaceId)

	w.cloud.SetTaskLatency(0)
	for _, tc := range []struct {
		name, src, dst, ip, want string
	}{
		{"source does not hold it", "eni-a", "eni-b", "192.0.2.101", vpcsim.CodeResourceMismatch},
		{"an HAVIP", "eni-a", "eni-b", "192.0.2.100", vpcsim.CodeResourceMismatch},
		{"primary", "eni-a", "eni-b", "192.0.2.1", vpcsim.CodePrimaryIP},
		{"unknown source", "eni-nope", "eni-a", "192.0.2.101", vpcsim.CodeResourceNotFound},
		{"unknown destination", "eni-b", "eni-nope", "192.0.2.101", vpcsim.CodeResourceNotFound},
		{"other subnet", "eni-b", "eni-c", "192.0.2.101", vpcsim.CodeInvalidParameterValue},
		{"malformed", "eni-b", "eni-a", "x", vpcsim.CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := migrate(api, tc.src, tc.dst, tc.ip)
			assert.Equal(t, tc.want, code(err), "%v", err)
		})
	}
	assert.Equal(t, "eni-b", holder(t, w.cloud, privAddr))

	req2 := vpc.NewDescribeVpcTaskResultRequest()
	req2.TaskId = ptr("no-such-task")
	_, err = api.DescribeVpcTaskResult(req2)
	assert.Equal(t, vpcsim.CodeResourceNotFound, code(err), "%v", err)

	// With latency 0 the task is done when the call returns.
	task, err = migrate(api, "eni-b", "eni-a", "192.0.2.101")
	require.NoError(t, err)
	status, _ = taskStatus(t, api, task)
	assert.Equal(t, vpcsim.TaskSuccess, status)
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr))

	// A task that fails leaves the address where it was.
	w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{TaskFailure: "simulated failure"})
	task, err = migrate(api, "eni-a", "eni-b", "192.0.2.101")
	require.NoError(t, err)
	status, output := taskStatus(t, api, task)
	assert.Equal(t, vpcsim.TaskFailed, status)
	assert.Equal(t, "simulated failure", output)
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr))
	assert.Equal(t, []string{"192.0.2.101->eni-b", "192.0.2.101->eni-a"}, w.moves.get())
}

func TestMigrateClosed(t *testing.T) {
	w := newWorld(t)
	api := w.api(t)
	w.cloud.SetTaskLatency(100 * time.Millisecond)
	task, err := migrate(api, "eni-a", "eni-b", "192.0.2.101")
	require.NoError(t, err)
	w.cloud.Close()
	time.Sleep(300 * time.Millisecond)
	status, _ := taskStatus(t, api, task)
	assert.Equal(t, vpcsim.TaskRunning, status, "Close stops running tasks")
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr))
	assert.Empty(t, w.moves.get())
}

// rewrite is a RoundTripper that lets a test change a signed request.
type rewrite func(*http.Request)

func (f rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

func TestAuthentication(t *testing.T) {
	w := newWorld(t)

	_, err := describeHaVips(t, w.api(t))
	require.NoError(t, err, "the right key")

	_, err = describeHaVips(t, w.client(t, common.NewCredential(testID, "wrong-key")))
	assert.Equal(t, vpcsim.CodeSignatureFailure, code(err), "%v", err)

	_, err = describeHaVips(t, w.client(t, common.NewCredential("AKIDnobody", testKey)))
	assert.Equal(t, vpcsim.CodeSecretIDNotFound, code(err), "%v", err)

	// A body changed after signing.
	api := w.api(t)
	api.WithHttpTransport(rewrite(func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		b = bytes.Replace(b, []byte("havip-1"), []byte("havip-2"), 1)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}))
	_, err = describeHaVips(t, api, filter("havip-id", "havip-1"))
	assert.Equal(t, vpcsim.CodeSignatureFailure, code(err), "%v", err)

	// A clock ten minutes behind.
	api = w.api(t)
	api.WithHttpTransport(rewrite(func(r *http.Request) {
		r.Header["X-TC-Timestamp"] = []string{strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)}
	}))
	_, err = describeHaVips(t, api)
	assert.Equal(t, vpcsim.CodeSignatureExpire, code(err), "%v", err)

	// No signature at all.
	api = w.api(t)
	api.WithHttpTransport(rewrite(func(r *http.Request) { r.Header.Del("Authorization") }))
	_, err = describeHaVips(t, api)
	assert.Equal(t, vpcsim.CodeInvalidAuthorization, code(err), "%v", err)

	// Another region sees no resources; no region is refused.
	set, err := describeHaVips(t, sdkClient(t, w.srv.URL, common.NewCredential(testID, testKey), "ap-shanghai"))
	require.NoError(t, err)
	assert.Empty(t, set)
	_, err = describeHaVips(t, sdkClient(t, w.srv.URL, common.NewCredential(testID, testKey), ""))
	assert.Equal(t, vpcsim.CodeMissingParameter, code(err), "%v", err)
}

func TestActionAndVersion(t *testing.T) {
	w := newWorld(t)
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = strings.TrimPrefix(w.srv.URL, "http://")
	prof.HttpProfile.Scheme = "http"
	cc := common.NewCommonClient(common.NewCredential(testID, testKey), vpcsim.DefaultRegion, prof)

	send := func(version, action, body string) error {
		req := tchttp.NewCommonRequest("vpc", version, action)
		require.NoError(t, req.SetActionParameters(body))
		return cc.Send(req, tchttp.NewCommonResponse())
	}
	require.NoError(t, send("2017-03-12", "DescribeHaVips", `{}`))
	assert.Equal(t, vpcsim.CodeInvalidAction, code(send("2017-03-12", "CreateHaVip", `{}`)))
	assert.Equal(t, vpcsim.CodeNoSuchVersion, code(send("2016-01-01", "DescribeHaVips", `{}`)))
	assert.Equal(t, vpcsim.CodeUnknownParameter, code(send("2017-03-12", "DescribeHaVips", `{"HaVipIdz":["havip-1"]}`)))
	assert.Equal(t, vpcsim.CodeMissingParameter, code(send("2017-03-12", "MigratePrivateIpAddress", `{"SourceNetworkInterfaceId":"eni-a"}`)))
}

// TestEnvelope checks the raw JSON of an answer and of an error.
func TestEnvelope(t *testing.T) {
	w := newWorld(t)
	var body []byte
	api := w.api(t)
	api.WithHttpTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		return resp, err
	}))
	_, err := describeHaVips(t, api)
	require.NoError(t, err)
	assert.Regexp(t, `^\{"Response":\{"HaVipSet":\[\{.*"AddressIp":"".*\}\],"RequestId":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","TotalCount":1\}\}$`, string(body))

	_, err = migrate(api, "eni-a", "eni-b", "192.0.2.1")
	require.Error(t, err)
	assert.Regexp(t, `^\{"Response":\{"Error":\{"Code":"UnsupportedOperation.PrimaryIp","Message":"[^"]+"\},"RequestId":"[0-9a-f-]{36}"\}\}$`, string(body))
	var e *sdkerrors.TencentCloudSDKError
	require.ErrorAs(t, err, &e)
	assert.Len(t, e.GetRequestId(), 36)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFaults(t *testing.T) {
	w := newWorld(t)
	api := w.api(t)

	for _, c := range []string{
		vpcsim.CodeRequestLimitExceeded, vpcsim.CodeInternalError, vpcsim.CodeMutexTaskRunning,
		vpcsim.CodeSecretIDNotFound, vpcsim.CodeResourceNotFound,
	} {
		w.cloud.InjectFault("", vpcsim.Fault{Code: c, Message: "injected"})
		_, err := describeHaVips(t, api)
		assert.Equal(t, c, code(err), "%v", err)
	}
	_, err := describeHaVips(t, api)
	require.NoError(t, err, "faults are used up")

	// Times, and a fault for one action leaves the others alone.
	w.cloud.InjectFault("MigratePrivateIpAddress", vpcsim.Fault{Code: vpcsim.CodeInternalError, Times: 2})
	_, err = describeHaVips(t, api)
	require.NoError(t, err)
	for range 2 {
		_, err = migrate(api, "eni-a", "eni-b", "192.0.2.101")
		assert.Equal(t, vpcsim.CodeInternalError, code(err), "%v", err)
	}
	assert.Equal(t, "eni-a", holder(t, w.cloud, privAddr), "a failed call does nothing")
	_, err = migrate(api, "eni-a", "eni-b", "192.0.2.101")
	require.NoError(t, err)
	assert.Equal(t, "eni-b", holder(t, w.cloud, privAddr))

	// Latency.
	w.cloud.InjectFault("DescribeHaVips", vpcsim.Fault{Latency: 300 * time.Millisecond})
	start := time.Now()
	_, err = describeHaVips(t, api)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	start = time.Now()
	_, err = describeHaVips(t, api)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 300*time.Millisecond)

	// Forever, until cleared.
	w.cloud.InjectFault("", vpcsim.Fault{Code: vpcsim.CodeRequestLimitExceeded, Times: -1})
	for range 3 {
		_, err = describeHaVips(t, api)
		assert.Equal(t, vpcsim.CodeRequestLimitExceeded, code(err))
	}
	w.cloud.ClearFaults()
	_, err = describeHaVips(t, api)
	require.NoError(t, err)

	// Calls records every call in order with its outcome.
	calls := w.cloud.Calls()
	require.Len(t, calls, 5+1+1+3+2+4)
	assert.Equal(t, "DescribeHaVips", calls[0].Action)
	assert.Equal(t, vpcsim.CodeRequestLimitExceeded, calls[0].ErrCode)
	assert.Equal(t, "", calls[5].ErrCode)
	migrates := w.cloud.CallsOf("MigratePrivateIpAddress")
	require.Len(t, migrates, 3)
	assert.Equal(t, vpcsim.CodeInternalError, migrates[0].ErrCode)
	assert.Equal(t, "", migrates[2].ErrCode)
	assert.Equal(t, "192.0.2.101", migrates[2].Params["PrivateIpAddress"])
	assert.Equal(t, testID, migrates[2].SecretID)
	assert.Equal(t, vpcsim.DefaultRegion, migrates[2].Region)
	for i := 1; i < len(calls); i++ {
		assert.False(t, calls[i].Time.Before(calls[i-1].Time))
		assert.True(t, calls[i].Done)
	}
}

func TestOnMoveReentrant(t *testing.T) {
	c := vpcsim.NewCloud(testID, testKey)
	c.AddSubnet("subnet-ab", netip.MustParsePrefix("192.0.2.0/24"))
	c.AddInstance("ins-a", "eni-a", nil, "subnet-ab", netip.MustParseAddr("192.0.2.1"))
	c.AddInstance("ins-b", "eni-b", nil, "subnet-ab", netip.MustParseAddr("192.0.2.2"))
	c.AddHaVip("havip-1", netip.MustParseAddr("192.0.2.100"), "subnet-ab")
	c.AddHaVip("havip-2", netip.MustParseAddr("192.0.2.200"), "subnet-ab")
	m := &moveLog{}
	c.OnMove(func(ip netip.Addr, eni string) {
		m.add(ip, eni)
		if ip == netip.MustParseAddr("192.0.2.100") {
			// A move caused by a callback is delivered after it returns.
			c.BindHaVip(netip.MustParseAddr("192.0.2.200"), eni)
			m.add(netip.MustParseAddr("192.0.2.0"), "callback-returns")
		}
	})
	require.True(t, c.BindHaVip(netip.MustParseAddr("192.0.2.100"), "eni-a"))
	assert.Equal(t, []string{"192.0.2.100->eni-a", "192.0.2.0->callback-returns", "192.0.2.200->eni-a"}, m.get())
}
