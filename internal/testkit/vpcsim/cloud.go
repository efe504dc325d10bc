package vpcsim

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Defaults of a new [Cloud].
const (
	// DefaultRegion is the region a Cloud's resources live in.
	DefaultRegion = "ap-guangzhou"
	// DefaultZone is the availability zone of its instances.
	DefaultZone = "ap-guangzhou-3"
	// DefaultVpcID is the ID of its one VPC.
	DefaultVpcID = "vpc-vipkit01"
	// DefaultRole is the CAM role bound to every instance; see
	// [Cloud.SetRole].
	DefaultRole = "vipkit-havip"
	// DefaultRoleTTL is how long temporary keys from the metadata
	// service are valid; see [Cloud.SetRoleTTL].
	DefaultRoleTTL = 2 * time.Hour
	// AccountID is the InstanceAccountId reported for attachments.
	AccountID = "100000000001"
)

// A Cloud is the state of one simulated VPC in one region, with the API and
// metadata service that show it. All its methods are safe for concurrent
// use. Make one with [NewCloud] and populate it with [Cloud.AddSubnet],
// [Cloud.AddInstance], [Cloud.AddHaVip] and [Cloud.AddPrivateIP]; these
// setup methods panic on a mistake (an unknown subnet, an address used
// twice), as they are meant for tests.
type Cloud struct {
	secretID, secretKey string

	mu          sync.Mutex
	region      string
	subnets     map[string]*subnet
	instances   map[string]*instance
	enis        map[string]*eni
	eniOrder    []string
	havips      map[string]*haVip
	havipOrder  []string
	owners      map[netip.Addr]string // private IP (primary or secondary) -> ENI
	tasks       map[string]*task
	running     map[netip.Addr]*task // address -> its running migration
	timers      map[*time.Timer]bool
	closed      bool
	faults      []*fault
	calls       []Call
	taskLatency time.Duration
	roleTTL     time.Duration
	tempKeys    map[string]*tempKey // TmpSecretId -> key
	instKeys    map[string]*tempKey // instance -> key last handed out
	now         func() time.Time

	movesMu     sync.Mutex // guards what follows: OnMove delivery
	onMove      []func(ip netip.Addr, eniID string)
	pending     []netip.Addr
	dispatching bool
}

type subnet struct {
	id      string
	prefix  netip.Prefix
	created time.Time
}

type instance struct {
	id   string
	eni  string
	role string
}

type eni struct {
	id          string
	instance    string
	mac         net.HardwareAddr
	subnet      string
	primaryIP   netip.Addr
	secondaries []netip.Addr
	created     time.Time
}

type haVip struct {
	id      string
	vip     netip.Addr
	subnet  string
	eni     string // "" while unbound
	created time.Time
}

type task struct {
	id       string
	ip       netip.Addr
	src, dst string
	status   string
	output   string
	failWith string // if set, the task ends FAILED with this output
}

type tempKey struct {
	id, key, token string
	instance       string
	expires        time.Time
}

// NewCloud returns an empty VPC, DefaultVpcID in DefaultRegion, whose API
// accepts requests signed with the account key secretID/secretKey (and
// temporary keys its metadata services hand out).
func NewCloud(secretID, secretKey string) *Cloud {
	return &Cloud{
		secretID:  secretID,
		secretKey: secretKey,
		region:    DefaultRegion,
		subnets:   make(map[string]*subnet),
		instances: make(map[string]*instance),
		enis:      make(map[string]*eni),
		havips:    make(map[string]*haVip),
		owners:    make(map[netip.Addr]string),
		tasks:     make(map[string]*task),
		running:   make(map[netip.Addr]*task),
		timers:    make(map[*time.Timer]bool),
		roleTTL:   DefaultRoleTTL,
		tempKeys:  make(map[string]*tempKey),
		instKeys:  make(map[string]*tempKey),
		now:       time.Now,
	}
}

// SetRegion sets the region the VPC is in (DefaultRegion at first). The
// metadata service reports it as placement/region; an API request whose
// X-TC-Region is another region sees no resources, as in the real cloud,
// where resources are regional.
func (c *Cloud) SetRegion(region string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.region = region
}

// Region returns the VPC's region.
func (c *Cloud) Region() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.region
}

// VpcID returns the ID of the VPC, DefaultVpcID.
func (c *Cloud) VpcID() string { return DefaultVpcID }

// AddSubnet adds the subnet subnetID with the IPv4 prefix p to the VPC.
func (c *Cloud) AddSubnet(subnetID string, p netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subnets[subnetID]; ok {
		panic(fmt.Sprintf("vpcsim: AddSubnet: subnet %s exists", subnetID))
	}
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() > 30 {
		panic(fmt.Sprintf("vpcsim: AddSubnet: %s: need an IPv4 prefix of /30 or shorter", p))
	}
	for _, s := range c.subnets {
		if s.prefix.Overlaps(p) {
			panic(fmt.Sprintf("vpcsim: AddSubnet: %s overlaps subnet %s (%s)", p, s.id, s.prefix))
		}
	}
	c.subnets[subnetID] = &subnet{id: subnetID, prefix: p.Masked(), created: c.now()}
}

// Subnet returns the prefix of the subnet subnetID.
func (c *Cloud) Subnet(subnetID string) (netip.Prefix, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.subnets[subnetID]
	if !ok {
		return netip.Prefix{}, false
	}
	return s.prefix, true
}

// Gateway returns the gateway address of the subnet subnetID: the last
// usable address of its prefix (.254 of a /24), where [VSwitch] answers.
// (Tencent's VPC puts the gateway on the first usable address, .1; the
// simulation uses the last so that tests can give hosts low addresses.)
// The subnet reserves it, with the network and broadcast addresses.
func (c *Cloud) Gateway(subnetID string) (netip.Addr, bool) {
	p, ok := c.Subnet(subnetID)
	if !ok {
		return netip.Addr{}, false
	}
	return gatewayOf(p), true
}

func gatewayOf(p netip.Prefix) netip.Addr { return lastAddr(p).Prev() }

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// reserved reports whether a is an address the subnet p keeps for itself.
func reserved(p netip.Prefix, a netip.Addr) bool {
	return a == p.Masked().Addr() || a == lastAddr(p) || a == gatewayOf(p)
}

// AddInstance adds the CVM instance instanceID with its primary ENI eniID
// in subnet subnetID, whose primary private IP is primary. mac is the ENI's
// MAC address; nil makes one up in Tencent's 20:90:6F prefix ([VSwitch]
// sets it to the host interface's MAC later). The instance's CAM role is
// DefaultRole.
func (c *Cloud) AddInstance(instanceID, eniID string, mac net.HardwareAddr, subnetID string, primary netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.instances[instanceID]; ok {
		panic(fmt.Sprintf("vpcsim: AddInstance: instance %s exists", instanceID))
	}
	if _, ok := c.enis[eniID]; ok {
		panic(fmt.Sprintf("vpcsim: AddInstance: ENI %s exists", eniID))
	}
	s, ok := c.subnets[subnetID]
	if !ok {
		panic(fmt.Sprintf("vpcsim: AddInstance: no subnet %s", subnetID))
	}
	c.checkFreeLocked("AddInstance", s, primary)
	if mac == nil {
		sum := sha256.Sum256([]byte(eniID))
		mac = net.HardwareAddr{0x20, 0x90, 0x6f, sum[0], sum[1], sum[2]}
	}
	c.instances[instanceID] = &instance{id: instanceID, eni: eniID, role: DefaultRole}
	c.enis[eniID] = &eni{id: eniID, instance: instanceID, mac: slices.Clone(mac), subnet: subnetID, primaryIP: primary, created: c.now()}
	c.eniOrder = append(c.eniOrder, eniID)
	c.owners[primary] = eniID
}

// checkFreeLocked panics unless a is a usable, unused address of s.
func (c *Cloud) checkFreeLocked(op string, s *subnet, a netip.Addr) {
	if !s.prefix.Contains(a) {
		panic(fmt.Sprintf("vpcsim: %s: %s is not in subnet %s (%s)", op, a, s.id, s.prefix))
	}
	if reserved(s.prefix, a) {
		panic(fmt.Sprintf("vpcsim: %s: %s is reserved in subnet %s", op, a, s.id))
	}
	if owner, ok := c.owners[a]; ok {
		panic(fmt.Sprintf("vpcsim: %s: %s is held by %s", op, a, owner))
	}
	for _, h := range c.havips {
		if h.vip == a {
			panic(fmt.Sprintf("vpcsim: %s: %s is HAVIP %s", op, a, h.id))
		}
	}
}

// SetMAC sets the MAC address of the ENI eniID, as DescribeNetworkInterfaces
// and the metadata service report it.
func (c *Cloud) SetMAC(eniID string, mac net.HardwareAddr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.enis[eniID]
	if !ok {
		panic(fmt.Sprintf("vpcsim: SetMAC: no ENI %s", eniID))
	}
	e.mac = slices.Clone(mac)
}

// AddHaVip adds the HAVIP haVipID with address vip in subnet subnetID,
// unbound (State UNBIND) until an ENI of the subnet announces it
// ([Cloud.BindHaVip]).
func (c *Cloud) AddHaVip(haVipID string, vip netip.Addr, subnetID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.havips[haVipID]; ok {
		panic(fmt.Sprintf("vpcsim: AddHaVip: HAVIP %s exists", haVipID))
	}
	s, ok := c.subnets[subnetID]
	if !ok {
		panic(fmt.Sprintf("vpcsim: AddHaVip: no subnet %s", subnetID))
	}
	c.checkFreeLocked("AddHaVip", s, vip)
	c.havips[haVipID] = &haVip{id: haVipID, vip: vip, subnet: subnetID, created: c.now()}
	c.havipOrder = append(c.havipOrder, haVipID)
}

// AddPrivateIP assigns ip to the ENI eniID as a secondary private IP, as
// AssignPrivateIpAddresses does, without an API call and without calling
// the OnMove functions.
func (c *Cloud) AddPrivateIP(eniID string, ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.enis[eniID]
	if !ok {
		panic(fmt.Sprintf("vpcsim: AddPrivateIP: no ENI %s", eniID))
	}
	c.checkFreeLocked("AddPrivateIP", c.subnets[e.subnet], ip)
	e.secondaries = append(e.secondaries, ip)
	c.owners[ip] = eniID
}

// Holder returns the ENI the VPC delivers ip to now: the ENI an HAVIP is
// bound to, or the ENI that has ip as a primary or secondary private IP.
// ok is false for an unbound HAVIP and an address nobody holds. While a
// migration task runs, the source still holds the address.
func (c *Cloud) Holder(ip netip.Addr) (eniID string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.holderLocked(ip)
	return e, e != ""
}

func (c *Cloud) holderLocked(ip netip.Addr) string {
	if e, ok := c.owners[ip]; ok {
		return e
	}
	for _, h := range c.havips {
		if h.vip == ip {
			return h.eni
		}
	}
	return ""
}

// Addresses returns every address the VPC may deliver, each with its
// holder ("" for an unbound HAVIP), in no particular order.
func (c *Cloud) Addresses() map[netip.Addr]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := maps.Clone(c.owners)
	for _, h := range c.havips {
		m[h.vip] = h.eni
	}
	return m
}

// ENI describes an elastic network interface of the VPC.
type ENI struct {
	ID          string
	InstanceID  string
	SubnetID    string
	MAC         net.HardwareAddr
	Primary     netip.Addr   // primary private IP
	Secondaries []netip.Addr // secondary private IPs, in assignment order
}

// Instance returns the primary ENI of the instance instanceID.
func (c *Cloud) Instance(instanceID string) (ENI, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.instances[instanceID]
	if !ok {
		return ENI{}, false
	}
	return c.eniLocked(in.eni), true
}

// ENI returns the ENI eniID.
func (c *Cloud) ENI(eniID string) (ENI, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.enis[eniID]; !ok {
		return ENI{}, false
	}
	return c.eniLocked(eniID), true
}

func (c *Cloud) eniLocked(id string) ENI {
	e := c.enis[id]
	return ENI{ID: e.id, InstanceID: e.instance, SubnetID: e.subnet, MAC: slices.Clone(e.mac),
		Primary: e.primaryIP, Secondaries: slices.Clone(e.secondaries)}
}

// BindHaVip binds the HAVIP whose address is vip to the ENI eniID, which
// is what Tencent's SDN does when a server announces the HAVIP with a
// gratuitous ARP ([VSwitch] calls it). It returns false, and changes
// nothing, if vip is not an HAVIP's address or the ENI is not in the
// HAVIP's subnet (an HAVIP is subnet-specific: a server of another subnet
// cannot take it). Binding it again to its holder changes nothing and
// returns true. A change of holder is reported to the OnMove functions
// before BindHaVip returns, unless another goroutine is delivering at the
// time (then that goroutine does).
func (c *Cloud) BindHaVip(vip netip.Addr, eniID string) bool {
	c.mu.Lock()
	var h *haVip
	for _, x := range c.havips {
		if x.vip == vip {
			h = x
		}
	}
	e, ok := c.enis[eniID]
	if h == nil || !ok || e.subnet != h.subnet {
		c.mu.Unlock()
		return false
	}
	changed := h.eni != eniID
	h.eni = eniID
	c.mu.Unlock()
	if changed {
		c.moved(vip)
	}
	return true
}

// OnMove registers f to be called after each change of the holder of an
// address: an HAVIP bound by [Cloud.BindHaVip], a private IP assigned,
// unassigned or migrated through the API. eniID is the holder at the time
// of the call ("" if nobody holds ip now), so the last call for an address
// always tells its current holder. Calls are made one at a time, in order,
// with no lock of the Cloud held; f may call the Cloud's methods, and a
// move it causes is delivered after f returns.
func (c *Cloud) OnMove(f func(ip netip.Addr, eniID string)) {
	c.movesMu.Lock()
	defer c.movesMu.Unlock()
	c.onMove = append(c.onMove, f)
}

// moved delivers a change of ip's holder to the OnMove functions.
func (c *Cloud) moved(ip netip.Addr) {
	c.movesMu.Lock()
	c.pending = append(c.pending, ip)
	if c.dispatching {
		c.movesMu.Unlock()
		return
	}
	c.dispatching = true
	for len(c.pending) > 0 {
		ip := c.pending[0]
		c.pending = c.pending[1:]
		fs := slices.Clone(c.onMove)
		c.movesMu.Unlock()
		holder, _ := c.Holder(ip)
		for _, f := range fs {
			f(ip, holder)
		}
		c.movesMu.Lock()
	}
	c.dispatching = false
	c.movesMu.Unlock()
}

// SetTaskLatency sets how long an asynchronous task (a migration) runs
// before it takes effect and DescribeVpcTaskResult reports it done; 0 (the
// default) completes it before the API call returns.
func (c *Cloud) SetTaskLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.taskLatency = d
}

// SetRoleTTL sets how long the temporary keys the metadata services hand
// out from now on stay valid (DefaultRoleTTL at first). After that the API
// refuses them with AuthFailure.TokenFailure.
func (c *Cloud) SetRoleTTL(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roleTTL = d
}

// SetRole sets the CAM role bound to the instance instanceID (DefaultRole
// at first); "" unbinds it, and the metadata service then answers 404 for
// cam/security-credentials/, as it does on a CVM without a role.
func (c *Cloud) SetRole(instanceID, role string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.instances[instanceID]
	if !ok {
		panic(fmt.Sprintf("vpcsim: SetRole: no instance %s", instanceID))
	}
	in.role = role
	delete(c.instKeys, instanceID)
}

// A Fault changes how the API answers calls: see [Cloud.InjectFault].
type Fault struct {
	// Latency delays the answer (the action still takes effect after the
	// delay, unless Code is set).
	Latency time.Duration
	// Code, if set, makes the call fail with this error code (and
	// Message) without taking effect. "" injects latency only.
	Code, Message string
	// Times is how many calls the fault applies to: 0 means 1; a
	// negative number means every call until [Cloud.ClearFaults].
	Times int
	// TaskFailure, if set, makes the tasks of the calls succeed at first
	// and then end FAILED with this output, the address not moving (for
	// MigratePrivateIpAddress).
	TaskFailure string
}

type fault struct {
	action string
	Fault
	left int // < 0: forever
}

// InjectFault makes the next f.Times calls of action ("" for any action)
// get f. Faults apply in the order injected: a call takes the first that
// matches it. A fault applies before the request's signature is checked,
// as throttling at Tencent's API gateway does.
func (c *Cloud) InjectFault(action string, f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	left := f.Times
	if left == 0 {
		left = 1
	}
	c.faults = append(c.faults, &fault{action: action, Fault: f, left: left})
}

// ClearFaults removes the faults not yet used up.
func (c *Cloud) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// takeFaultLocked returns the fault for a call of action, if any.
func (c *Cloud) takeFaultLocked(action string) *Fault {
	for i, f := range c.faults {
		if f.action != "" && f.action != action {
			continue
		}
		out := f.Fault
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				c.faults = slices.Delete(c.faults, i, i+1)
			}
		}
		return &out
	}
	return nil
}

// A Call is one request to the API, as [Cloud.Calls] reports it.
type Call struct {
	Time      time.Time      // when it arrived
	Action    string         // X-TC-Action
	Region    string         // X-TC-Region
	SecretID  string         // the SecretId it was signed with, if any
	Params    map[string]any // the JSON body (numbers are float64)
	RequestID string         // the RequestId of the answer
	ErrCode   string         // the error code answered, "" on success
	Done      bool           // the answer has been sent
}

// Calls returns every API call so far, in the order they arrived.
func (c *Cloud) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Call, len(c.calls))
	for i, k := range c.calls {
		k.Params = maps.Clone(k.Params)
		out[i] = k
	}
	return out
}

// CallsOf returns the calls of action, in order.
func (c *Cloud) CallsOf(action string) []Call {
	var out []Call
	for _, k := range c.Calls() {
		if k.Action == action {
			out = append(out, k)
		}
	}
	return out
}

// Close stops the timers of running tasks (they never complete) so that
// nothing happens after a test ends. The API keeps answering.
func (c *Cloud) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for t := range c.timers {
		t.Stop()
	}
	clear(c.timers)
}

// newUUID returns a random (version 4) UUID, the form of Tencent's
// RequestIds.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomString returns n random letters and digits.
func randomString(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
