package vpcsim_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"

	"github.com/vipkit/vipkit/internal/testkit/vpcsim"
)

// The real SDK client migrates a private IP in the simulated VPC, and an
// HAVIP follows a gratuitous ARP (here BindHaVip stands in for the
// vswitch that reads it).
func Example() {
	cloud := vpcsim.NewCloud("AKIDexample", "example-key")
	defer cloud.Close()
	cloud.AddSubnet("subnet-1", netip.MustParsePrefix("192.0.2.0/24"))
	cloud.AddInstance("ins-a", "eni-a", nil, "subnet-1", netip.MustParseAddr("192.0.2.1"))
	cloud.AddInstance("ins-b", "eni-b", nil, "subnet-1", netip.MustParseAddr("192.0.2.2"))
	cloud.AddPrivateIP("eni-a", netip.MustParseAddr("192.0.2.101"))
	cloud.AddHaVip("havip-1", netip.MustParseAddr("192.0.2.100"), "subnet-1")
	cloud.OnMove(func(ip netip.Addr, eni string) { fmt.Println("moved:", ip, "->", eni) })

	srv := httptest.NewServer(cloud.APIHandler())
	defer srv.Close()
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	prof.HttpProfile.Scheme = "http"
	api, _ := vpc.NewClient(common.NewCredential("AKIDexample", "example-key"), vpcsim.DefaultRegion, prof)

	req := vpc.NewMigratePrivateIpAddressRequest()
	req.SourceNetworkInterfaceId = common.StringPtr("eni-a")
	req.DestinationNetworkInterfaceId = common.StringPtr("eni-b")
	req.PrivateIpAddress = common.StringPtr("192.0.2.101")
	resp, err := api.MigratePrivateIpAddress(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	task := vpc.NewDescribeVpcTaskResultRequest()
	task.TaskId = resp.Response.RequestId
	result, _ := api.DescribeVpcTaskResult(task)
	fmt.Println("task:", *result.Response.Status)

	cloud.BindHaVip(netip.MustParseAddr("192.0.2.100"), "eni-b")
	d := vpc.NewDescribeHaVipsRequest()
	d.Filters = []*vpc.Filter{{Name: common.StringPtr("vip"), Values: common.StringPtrs([]string{"192.0.2.100"})}}
	havips, _ := api.DescribeHaVips(d)
	h := havips.Response.HaVipSet[0]
	fmt.Println(*h.HaVipId, *h.State, *h.NetworkInterfaceId)

	req.PrivateIpAddress = common.StringPtr("192.0.2.1")
	_, err = api.MigratePrivateIpAddress(req)
	fmt.Println(err.(interface{ GetCode() string }).GetCode())
	// Output:
	// moved: 192.0.2.101 -> eni-b
	// task: SUCCESS
	// moved: 192.0.2.100 -> eni-b
	// havip-1 AVAILABLE eni-b
	// UnsupportedOperation.PrimaryIp
}
