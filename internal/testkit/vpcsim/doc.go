// Package vpcsim simulates the parts of a Tencent Cloud VPC that vipkit's
// HAVIP support talks to, so that tests can run the real Tencent Cloud SDK
// and real hosts against it.
//
// It has three parts:
//
//   - [Cloud] holds the state of one VPC in one region: subnets, instances
//     with their elastic network interfaces (ENIs), secondary private IPs,
//     high-availability virtual IPs (HAVIPs), asynchronous tasks and CAM role
//     keys. [Cloud.Holder] says which ENI the VPC delivers an address to.
//   - [Cloud.APIHandler] serves the VPC API (version 2017-03-12) as
//     vpc.tencentcloudapi.com does: POST application/json requests signed
//     with TC3-HMAC-SHA256, the action in X-TC-Action, answers in the
//     {"Response": {...}} envelope with the error codes the real service
//     uses (see the Code constants). The official SDK
//     (github.com/tencentcloud/tencentcloud-sdk-go) talks to it unchanged
//     once its HttpProfile.Endpoint and Scheme point at the server.
//     [Cloud.MetadataHandler] serves an instance's metadata service
//     (http://metadata.tencentyun.com/latest/meta-data/...), CAM role keys
//     included.
//   - [VSwitch] (Linux, root) is the SDN of the VPC as hosts see it: a
//     network namespace, built with package netlab, that is the gateway of
//     every subnet, answers every ARP request with its own MAC (proxy ARP)
//     and routes each address to the port of the ENI the Cloud says holds
//     it. It moves an HAVIP to the ENI that announces it with a gratuitous
//     ARP, and moves an ordinary private IP only when the API migrates it,
//     as the real SDN does (see below). It serves the API to every host on
//     the host's loopback, relayed through the host's network to the
//     vswitch, as a local https proxy would: the Tencent binder sends plain
//     http to a loopback endpoint only.
//
// # HAVIPs and private IPs
//
// In a Tencent Cloud VPC the SDN, not ARP, decides where an address is
// delivered: to the ENI it is bound to, whatever other servers answer. An
// HAVIP (high-availability virtual IP) is a floating private IP that the
// SDN re-binds to whichever server of its subnet announces it with a
// gratuitous ARP, so keepalived-style failover works with it unchanged. An
// ordinary private IP ignores ARP: it moves only through the API
// (MigratePrivateIpAddress from one ENI to another, or
// AssignPrivateIpAddresses to an ENI when nobody holds it), so a server
// that merely announces it receives nothing. Both belong to one subnet,
// and only an ENI of that subnet can take them.
//
// # What is simulated and what is not
//
// Simulated faithfully: request signing and its failures (wrong key,
// unknown SecretId, clock skew, temporary keys with a token that expire),
// the response envelope and RequestId, the JSON field names of
// DescribeHaVips, DescribeNetworkInterfaces, AssignPrivateIpAddresses,
// UnassignPrivateIpAddresses, MigratePrivateIpAddress and
// DescribeVpcTaskResult, their filters and paging (Offset, Limit up to 100),
// the asynchronous migration task (RUNNING then SUCCESS or FAILED, the
// address moving only when the task ends, a second migration of the same
// address refused while one runs), regions (a request for another region
// sees no resources), and the metadata paths the SDK's CvmRoleProvider and
// vipkit read.
//
// Not simulated: other actions (answered with InvalidAction), GET requests
// and the older HmacSHA1/HmacSHA256 signatures, quotas, security groups,
// EIPs (HaVip.AddressIp, the EIP bound to an HAVIP, is always empty), IPv6
// addresses, CAM policies (every valid key may do everything) and the
// messages' wording.
//
// Three details of the real API that clients get wrong:
//
//   - DescribeHaVips's "address-ip" filter matches the EIP bound to the
//     HAVIP (HaVip.AddressIp), not the HAVIP's own address: filter by
//     "vip" for that. vpcsim does the same, so a client that filters by
//     "address-ip" finds no HAVIP here, as it would in the cloud.
//   - DescribeNetworkInterfaces's "address-ip" filter matches one address
//     as a suffix of the ENIs' private IPs ("10.0.0.1" finds 110.0.0.1
//     too), several exactly; "ip-exact-match" with "true" makes one match
//     exactly. vpcsim does the same.
//   - MacAddress in DescribeNetworkInterfaces is upper case
//     ("20:90:6F:34:59:4F"); the metadata service's mac is lower case.
//     Compare MAC addresses parsed, not as strings.
package vpcsim
