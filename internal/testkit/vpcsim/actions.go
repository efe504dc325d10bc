package vpcsim

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"
)

// Paging of the Describe actions: Limit is 20 unless given, at most 100.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// timeFormat is how the API writes CreatedTime.
const timeFormat = "2006-01-02 15:04:05"

// The answers, with the JSON field names of the SDK's models.go. Unlike
// the SDK's models, whose fields are omitted when nil, the real API sends
// every field, empty strings included; these do too.

type haVipJSON struct {
	HaVipId            string
	HaVipName          string
	Vip                string
	VpcId              string
	SubnetId           string
	NetworkInterfaceId string
	InstanceId         string
	AddressIp          string
	State              string
	CreatedTime        string
	Business           string
}

type privateIPJSON struct {
	PrivateIpAddress string
	Primary          bool
	PublicIpAddress  string
	AddressId        string
	Description      string
	IsWanIpBlocked   bool
	State            string
}

type attachmentJSON struct {
	InstanceId        string
	DeviceIndex       uint64
	InstanceAccountId string
	AttachTime        string
}

type networkInterfaceJSON struct {
	NetworkInterfaceId          string
	NetworkInterfaceName        string
	NetworkInterfaceDescription string
	SubnetId                    string
	VpcId                       string
	GroupSet                    []string
	Primary                     bool
	MacAddress                  string
	State                       string
	PrivateIpAddressSet         []privateIPJSON
	Attachment                  *attachmentJSON
	Zone                        string
	CreatedTime                 string
	Ipv6AddressSet              []any
	TagSet                      []any
	EniType                     uint64
	Business                    string
	CdcId                       string
	AttachType                  uint64
}

// filterSet is the parsed Filters parameter: name -> values. Values of
// one filter are ORed, filters ANDed.
type filterSet map[string][]string

func parseFilters(fs []*vpc.Filter, known ...string) (filterSet, *apiError) {
	out := filterSet{}
	for _, f := range fs {
		if f == nil || f.Name == nil {
			return nil, errorf(CodeMissingParameter, "A filter is missing its Name.")
		}
		if !slices.Contains(known, *f.Name) {
			return nil, errorf(CodeFilterInvalidKey, "The filter `%s` is not supported; supported: %s.", *f.Name, strings.Join(known, ", "))
		}
		for _, v := range f.Values {
			if v != nil {
				out[*f.Name] = append(out[*f.Name], *v)
			}
		}
		if _, ok := out[*f.Name]; !ok {
			out[*f.Name] = []string{} // present, matches nothing
		}
	}
	return out, nil
}

// match reports whether the filter name, if given, has value among its
// values.
func (fs filterSet) match(name, value string) bool {
	vs, ok := fs[name]
	return !ok || slices.Contains(vs, value)
}

// page applies Offset and Limit to n items: it returns the range to show.
func page(offset, limit *uint64, n int) (int, int, *apiError) {
	l := uint64(defaultLimit)
	if limit != nil {
		l = *limit
	}
	if l > maxLimit {
		return 0, 0, errorf(CodeLimitExceeded, "Limit %d exceeds %d.", l, maxLimit)
	}
	var o uint64
	if offset != nil {
		o = *offset
	}
	start := min(o, uint64(n))
	end := min(start+l, uint64(n))
	return int(start), int(end), nil
}

// describeHaVips answers DescribeHaVips. Filters: havip-id, havip-name,
// vpc-id, subnet-id, vip (the HAVIP's address) and address-ip (the EIP
// bound to it, which in the simulation is none).
func (c *Cloud) describeHaVips(p *vpc.DescribeHaVipsRequestParams, inRegion bool) (any, *apiError) {
	if len(p.HaVipIds) > 0 && len(p.Filters) > 0 {
		return nil, errorf(CodeCoexist, "HaVipIds and Filters cannot be given together.")
	}
	fs, err := parseFilters(p.Filters, "havip-id", "havip-name", "vpc-id", "subnet-id", "vip", "address-ip")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, id := range p.HaVipIds {
		if id != nil {
			ids = append(ids, *id)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	set := []haVipJSON{}
	for _, id := range c.havipOrder {
		if !inRegion {
			break
		}
		h := c.havips[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if !fs.match("havip-id", id) || !fs.match("havip-name", id) || !fs.match("vpc-id", DefaultVpcID) ||
			!fs.match("subnet-id", h.subnet) || !fs.match("vip", h.vip.String()) || !fs.match("address-ip", "") {
			continue
		}
		j := haVipJSON{HaVipId: id, HaVipName: id, Vip: h.vip.String(), VpcId: DefaultVpcID, SubnetId: h.subnet,
			State: "UNBIND", CreatedTime: h.created.Format(timeFormat)}
		if h.eni != "" {
			j.NetworkInterfaceId, j.InstanceId, j.State = h.eni, c.enis[h.eni].instance, "AVAILABLE"
		}
		set = append(set, j)
	}
	start, end, err := page(p.Offset, p.Limit, len(set))
	if err != nil {
		return nil, err
	}
	return map[string]any{"TotalCount": len(set), "HaVipSet": set[start:end]}, nil
}

// describeNetworkInterfaces answers DescribeNetworkInterfaces. Filters:
// vpc-id, subnet-id, network-interface-id, attachment.instance-id,
// network-interface-name, is-primary, and address-ip (one address: a
// suffix match, several: exact; exact always with ip-exact-match=true).
func (c *Cloud) describeNetworkInterfaces(p *vpc.DescribeNetworkInterfacesRequestParams, inRegion bool) (any, *apiError) {
	if len(p.NetworkInterfaceIds) > 0 && len(p.Filters) > 0 {
		return nil, errorf(CodeCoexist, "NetworkInterfaceIds and Filters cannot be given together.")
	}
	fs, err := parseFilters(p.Filters, "vpc-id", "subnet-id", "network-interface-id", "attachment.instance-id",
		"network-interface-name", "is-primary", "address-ip", "ip-exact-match")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, id := range p.NetworkInterfaceIds {
		if id != nil {
			ids = append(ids, *id)
		}
	}
	exact := len(fs["address-ip"]) > 1 || len(fs["ip-exact-match"]) > 0 && strings.EqualFold(fs["ip-exact-match"][0], "true")
	c.mu.Lock()
	defer c.mu.Unlock()
	set := []networkInterfaceJSON{}
	for _, id := range c.eniOrder {
		if !inRegion {
			break
		}
		e := c.enis[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if !fs.match("vpc-id", DefaultVpcID) || !fs.match("subnet-id", e.subnet) || !fs.match("network-interface-id", id) ||
			!fs.match("attachment.instance-id", e.instance) || !fs.match("network-interface-name", id) || !fs.match("is-primary", "true") {
			continue
		}
		addrs := append([]netip.Addr{e.primaryIP}, e.secondaries...)
		if want, ok := fs["address-ip"]; ok && !slices.ContainsFunc(addrs, func(a netip.Addr) bool {
			return slices.ContainsFunc(want, func(w string) bool {
				if exact {
					return a.String() == w
				}
				return strings.HasSuffix(a.String(), w)
			})
		}) {
			continue
		}
		j := networkInterfaceJSON{
			NetworkInterfaceId: id, NetworkInterfaceName: id, SubnetId: e.subnet, VpcId: DefaultVpcID,
			GroupSet: []string{}, Primary: true, MacAddress: strings.ToUpper(e.mac.String()), State: "AVAILABLE",
			Attachment: &attachmentJSON{InstanceId: e.instance, InstanceAccountId: AccountID, AttachTime: e.created.Format(timeFormat)},
			Zone:       DefaultZone, CreatedTime: e.created.Format(timeFormat),
			Ipv6AddressSet: []any{}, TagSet: []any{}, EniType: 0, Business: "cvm",
		}
		for i, a := range addrs {
			j.PrivateIpAddressSet = append(j.PrivateIpAddressSet, privateIPJSON{PrivateIpAddress: a.String(), Primary: i == 0, State: "AVAILABLE"})
		}
		set = append(set, j)
	}
	start, end, err := page(p.Offset, p.Limit, len(set))
	if err != nil {
		return nil, err
	}
	return map[string]any{"TotalCount": len(set), "NetworkInterfaceSet": set[start:end]}, nil
}

// parseAddrs parses the PrivateIpAddresses parameter.
func parseAddrs(specs []*vpc.PrivateIpAddressSpecification) ([]netip.Addr, *apiError) {
	var out []netip.Addr
	for _, s := range specs {
		if s == nil || s.PrivateIpAddress == nil {
			return nil, errorf(CodeMissingParameter, "PrivateIpAddresses.PrivateIpAddress is missing.")
		}
		a, err := netip.ParseAddr(*s.PrivateIpAddress)
		if err != nil || !a.Is4() {
			return nil, errorf(CodeMalformed, "`%s` is not an IPv4 address.", *s.PrivateIpAddress)
		}
		if slices.Contains(out, a) {
			return nil, errorf(CodeDuplicatePara, "%s is given twice.", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// inUseLocked reports whether a is held by an ENI or is an HAVIP.
func (c *Cloud) inUseLocked(a netip.Addr) bool {
	if _, ok := c.owners[a]; ok {
		return true
	}
	for _, h := range c.havips {
		if h.vip == a {
			return true
		}
	}
	return false
}

// assignPrivateIPs answers AssignPrivateIpAddresses. The real action is
// asynchronous; here the addresses are assigned before the answer, and
// DescribeVpcTaskResult reports the RequestId's task SUCCESS.
func (c *Cloud) assignPrivateIPs(p *vpc.AssignPrivateIpAddressesRequestParams, inRegion bool, requestID string) (any, *apiError) {
	if p.NetworkInterfaceId == nil {
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `NetworkInterfaceId`.")
	}
	addrs, aerr := parseAddrs(p.PrivateIpAddresses)
	if aerr != nil {
		return nil, aerr
	}
	count := 0
	if p.SecondaryPrivateIpAddressCount != nil {
		count = int(*p.SecondaryPrivateIpAddressCount)
	}
	if len(addrs) == 0 && count == 0 {
		return nil, errorf(CodeMissingParameter, "Give PrivateIpAddresses or SecondaryPrivateIpAddressCount.")
	}
	c.mu.Lock()
	e, ok := c.enis[*p.NetworkInterfaceId]
	if !ok || !inRegion {
		c.mu.Unlock()
		return nil, errorf(CodeResourceNotFound, "The network interface `%s` does not exist.", *p.NetworkInterfaceId)
	}
	s := c.subnets[e.subnet]
	for _, a := range addrs {
		switch {
		case !s.prefix.Contains(a):
			c.mu.Unlock()
			return nil, errorf(CodeRange, "%s is not in the subnet %s (%s) of %s.", a, s.id, s.prefix, e.id)
		case reserved(s.prefix, a):
			c.mu.Unlock()
			return nil, errorf(CodeReserved, "%s is reserved by the subnet %s.", a, s.id)
		case c.running[a] != nil:
			c.mu.Unlock()
			return nil, errorf(CodeMutexTaskRunning, "A task on %s is running.", a)
		case c.inUseLocked(a):
			c.mu.Unlock()
			return nil, errorf(CodeResourceInUse, "%s is in use.", a)
		}
	}
	for a := s.prefix.Masked().Addr(); count > 0 && s.prefix.Contains(a); a = a.Next() {
		if !reserved(s.prefix, a) && !c.inUseLocked(a) && c.running[a] == nil && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
			count--
		}
	}
	if count > 0 {
		c.mu.Unlock()
		return nil, errorf("ResourceInsufficient.Subnet", "The subnet %s has not enough free addresses.", s.id)
	}
	set := []privateIPJSON{}
	for _, a := range addrs {
		e.secondaries = append(e.secondaries, a)
		c.owners[a] = e.id
		set = append(set, privateIPJSON{PrivateIpAddress: a.String(), State: "AVAILABLE"})
	}
	c.tasks[requestID] = &task{id: requestID, status: TaskSuccess, output: "success"}
	c.mu.Unlock()
	for _, a := range addrs {
		c.moved(a)
	}
	return map[string]any{"PrivateIpAddressSet": set}, nil
}

// unassignPrivateIPs answers UnassignPrivateIpAddresses, synchronously
// like assignPrivateIPs.
func (c *Cloud) unassignPrivateIPs(p *vpc.UnassignPrivateIpAddressesRequestParams, inRegion bool, requestID string) (any, *apiError) {
	if p.NetworkInterfaceId == nil {
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `NetworkInterfaceId`.")
	}
	addrs, aerr := parseAddrs(p.PrivateIpAddresses)
	if aerr != nil {
		return nil, aerr
	}
	if len(addrs) == 0 {
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `PrivateIpAddresses`.")
	}
	c.mu.Lock()
	e, ok := c.enis[*p.NetworkInterfaceId]
	if !ok || !inRegion {
		c.mu.Unlock()
		return nil, errorf(CodeResourceNotFound, "The network interface `%s` does not exist.", *p.NetworkInterfaceId)
	}
	for _, a := range addrs {
		switch {
		case a == e.primaryIP:
			c.mu.Unlock()
			return nil, errorf(CodePrimaryIP, "%s is the primary address of %s.", a, e.id)
		case c.running[a] != nil:
			c.mu.Unlock()
			return nil, errorf(CodeMutexTaskRunning, "A task on %s is running.", a)
		case !slices.Contains(e.secondaries, a):
			c.mu.Unlock()
			return nil, errorf(CodeResourceNotFound, "%s is not an address of %s.", a, e.id)
		}
	}
	for _, a := range addrs {
		e.secondaries = slices.DeleteFunc(e.secondaries, func(x netip.Addr) bool { return x == a })
		delete(c.owners, a)
	}
	c.tasks[requestID] = &task{id: requestID, status: TaskSuccess, output: "success"}
	c.mu.Unlock()
	for _, a := range addrs {
		c.moved(a)
	}
	return map[string]any{}, nil
}

// migratePrivateIP answers MigratePrivateIpAddress: it starts a task,
// whose ID is the RequestId, that moves the address when it ends
// ([Cloud.SetTaskLatency] later).
func (c *Cloud) migratePrivateIP(p *vpc.MigratePrivateIpAddressRequestParams, inRegion bool, requestID, failTask string) (any, *apiError) {
	switch {
	case p.SourceNetworkInterfaceId == nil:
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `SourceNetworkInterfaceId`.")
	case p.DestinationNetworkInterfaceId == nil:
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `DestinationNetworkInterfaceId`.")
	case p.PrivateIpAddress == nil:
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `PrivateIpAddress`.")
	}
	a, err := netip.ParseAddr(*p.PrivateIpAddress)
	if err != nil || !a.Is4() {
		return nil, errorf(CodeMalformed, "`%s` is not an IPv4 address.", *p.PrivateIpAddress)
	}
	c.mu.Lock()
	src, ok1 := c.enis[*p.SourceNetworkInterfaceId]
	dst, ok2 := c.enis[*p.DestinationNetworkInterfaceId]
	switch {
	case !ok1 || !inRegion:
		c.mu.Unlock()
		return nil, errorf(CodeResourceNotFound, "The network interface `%s` does not exist.", *p.SourceNetworkInterfaceId)
	case !ok2:
		c.mu.Unlock()
		return nil, errorf(CodeResourceNotFound, "The network interface `%s` does not exist.", *p.DestinationNetworkInterfaceId)
	case c.running[a] != nil:
		c.mu.Unlock()
		return nil, errorf(CodeMutexTaskRunning, "The task %s on %s is running.", c.running[a].id, a)
	case a == src.primaryIP || a == dst.primaryIP:
		c.mu.Unlock()
		return nil, errorf(CodePrimaryIP, "%s is a primary address and cannot be migrated.", a)
	case !slices.Contains(src.secondaries, a):
		c.mu.Unlock()
		return nil, errorf(CodeResourceMismatch, "%s is not an address of %s.", a, src.id)
	case src.subnet != dst.subnet:
		c.mu.Unlock()
		return nil, errorf(CodeInvalidParameterValue, "%s (subnet %s) and %s (subnet %s) are not in the same subnet.", src.id, src.subnet, dst.id, dst.subnet)
	case src == dst:
		c.mu.Unlock()
		return nil, errorf(CodeInvalidParameterValue, "The source and destination are the same network interface.")
	}
	t := &task{id: requestID, ip: a, src: src.id, dst: dst.id, status: TaskRunning, failWith: failTask}
	c.tasks[requestID] = t
	c.running[a] = t
	latency := c.taskLatency
	if latency <= 0 || c.closed {
		moved := c.finishTaskLocked(t)
		c.mu.Unlock()
		if moved {
			c.moved(a)
		}
		return map[string]any{}, nil
	}
	var timer *time.Timer
	timer = time.AfterFunc(latency, func() {
		c.mu.Lock()
		if !c.timers[timer] {
			c.mu.Unlock()
			return // stopped by Close
		}
		delete(c.timers, timer)
		moved := c.finishTaskLocked(t)
		c.mu.Unlock()
		if moved {
			c.moved(a)
		}
	})
	c.timers[timer] = true
	c.mu.Unlock()
	return map[string]any{}, nil
}

// finishTaskLocked ends the migration t and reports whether the address
// moved.
func (c *Cloud) finishTaskLocked(t *task) bool {
	delete(c.running, t.ip)
	src, dst := c.enis[t.src], c.enis[t.dst]
	switch {
	case t.failWith != "":
		t.status, t.output = TaskFailed, t.failWith
		return false
	case c.owners[t.ip] != t.src || src == nil || dst == nil:
		t.status, t.output = TaskFailed, t.ip.String()+" is no longer an address of "+t.src
		return false
	}
	src.secondaries = slices.DeleteFunc(src.secondaries, func(x netip.Addr) bool { return x == t.ip })
	dst.secondaries = append(dst.secondaries, t.ip)
	c.owners[t.ip] = dst.id
	t.status, t.output = TaskSuccess, "success"
	return true
}

// describeVpcTaskResult answers DescribeVpcTaskResult for the TaskId (the
// RequestId of the call that started it).
func (c *Cloud) describeVpcTaskResult(p *vpc.DescribeVpcTaskResultRequestParams, inRegion bool) (any, *apiError) {
	if p.TaskId == nil {
		return nil, errorf(CodeMissingParameter, "The request is missing a required parameter `TaskId`.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tasks[*p.TaskId]
	if !ok || !inRegion {
		return nil, errorf(CodeResourceNotFound, "The task `%s` does not exist.", *p.TaskId)
	}
	return map[string]any{"Status": t.status, "Output": t.output, "Result": []any{}}, nil
}
