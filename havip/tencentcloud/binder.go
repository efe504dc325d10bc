// Package tencentcloud is the havip Binder for Tencent Cloud VPC.
//
// A Tencent Cloud VPC delivers each private address to the one network
// interface it is bound to, not to whoever answers ARP for it, and re-binds
// an address in one of two ways. An HAVIP (high-availability virtual IP) is a
// floating private IP: the VPC's SDN re-binds it to whichever server of its
// subnet announces it with a gratuitous ARP. An ordinary private IP ignores
// ARP: it moves only through the API (MigratePrivateIpAddress, or
// AssignPrivateIpAddresses when no interface holds it). Both belong to one
// subnet, and only a server of that subnet can take them.
//
// In HAVIP mode (ModeHAVIP) havip's announcement moves the address; the
// Binder then checks with DescribeHaVips that the HAVIP is bound to this
// node's network interface within a deadline, and asks havip to announce
// again if not.
//
// In private-IP mode (ModePrivateIP) the Binder moves the address itself.
// It finds the network interface that holds it (DescribeNetworkInterfaces
// filtered by the address), then migrates it from there to this node's
// interface (MigratePrivateIpAddress, then DescribeVpcTaskResult until the
// task ends), or assigns it when nobody holds it
// (AssignPrivateIpAddresses). It takes the address only from a peer's
// interface (Config.Peers): an address another interface holds is not the
// virtual router's to move, and the claim fails, naming the holder. Throttling, a
// concurrent task on the address and internal errors are retried with
// backoff; other errors (authentication, the primary IP, an unknown
// resource) end the claim at once with the API's code. havip calls Claim
// again while master and cancels it the moment mastership is lost, so a
// late call never takes the address from the new master (keepalived issues
// 100 and 950).
//
// The Binder is a havip.Reasserter: a reassert that finds the address on a
// peer's interface, which took it after this node's last claim, leaves it
// there and reports a contest (havip.ErrContested). Two masters, on both
// sides of a partition of VRRP, would otherwise move it back and forth
// every reassert interval, each move cutting every connection to it.
//
// The node's identity comes from the metadata service (instance ID and
// MAC), its network interface from DescribeNetworkInterfaces; the keys
// from the configuration, the environment (TENCENTCLOUD_SECRET_ID,
// TENCENTCLOUD_SECRET_KEY) or the instance's CAM role, whose temporary
// keys are refreshed before they expire. Secret keys and tokens never
// appear in logs or errors, nor when a Binder or a Config is printed (fmt,
// slog), nor cross the network in the clear: New refuses plain http but to
// a loopback endpoint.
package tencentcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"

	"github.com/vipkit/vipkit/havip"
)

// Mode says how the cloud learns that an address moved.
type Mode uint8

// The modes of a Binder.
const (
	// ModeHAVIP: the address is an HAVIP, moved by the announcement; the
	// Binder verifies the binding.
	ModeHAVIP Mode = iota + 1
	// ModePrivateIP: the address is an ordinary private IP, moved by the
	// API.
	ModePrivateIP
)

func (m Mode) String() string {
	switch m {
	case ModeHAVIP:
		return "havip"
	case ModePrivateIP:
		return "private-ip"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Config configures a Binder. Zero values are discovered or defaulted.
type Config struct {
	Mode Mode
	// Region of the VPC; empty means the instance's, from the metadata
	// service.
	Region string
	// Endpoint (host or host:port) and Scheme of the API; empty means the
	// SDK's defaults (the VPC endpoint, https). Tests point them at a local
	// server. New refuses Scheme "http" unless Endpoint is a loopback
	// address or localhost: TC3-HMAC-SHA256 signs the body and the Host
	// and Content-Type headers only, so over plain http the SecretId and a
	// CAM role's token (X-TC-Token) cross the network in the clear, a
	// request seen on the way can be replayed for the five minutes its
	// signature is valid (a migration among them), and the answers, which
	// nothing signs, can be forged.
	Endpoint, Scheme string
	// SecretID and SecretKey; empty means TENCENTCLOUD_SECRET_ID and
	// TENCENTCLOUD_SECRET_KEY from the environment, else the instance's
	// CAM role. fmt and slog print a Config with the key hidden;
	// encoding/json, which encodes rather than prints, does not hide it.
	SecretID, SecretKey string
	// Metadata is the metadata service.
	Metadata Metadata
	// InstanceID and NetworkInterfaceID identify this node; empty means
	// discovered (the instance from the metadata service, the interface by
	// the instance and the MAC address of its primary interface).
	InstanceID, NetworkInterfaceID string
	// Peers are, in private-IP mode, the other nodes the address may move
	// between: the primary private IPv4 address of each one's network
	// interface, the addresses keepalived's unicast_peer lists. The Binder
	// takes the address from a peer's interface only, whatever instance is
	// attached to it now; a claim that finds it on any other fails, naming
	// the holder. New checks that each is the primary private IP of a
	// network interface of the VPC other than this node's. Empty means
	// that the address is taken from any interface of the VPC, which New
	// warns about. HAVIP mode ignores Peers: the announcement moves an
	// HAVIP.
	Peers []netip.Addr
	// VerifyTimeout bounds how long an HAVIP may take to bind here after
	// the announcement; 0 means 5 s.
	VerifyTimeout time.Duration
	// PollInterval spaces the checks of a binding or a task; 0 means
	// 500 ms.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a
	// transient error; 0 means 200 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the Binder's logs; nil means slog.Default().
	Logger *slog.Logger
}

// String describes c with the secret key hidden.
func (c Config) String() string {
	return fmt.Sprintf("tencentcloud.Config{Mode: %v, Region: %q, Endpoint: %q, SecretID: %q, SecretKey: %s, InstanceID: %q, NetworkInterfaceID: %q, Peers: %v}",
		c.Mode, c.Region, c.Endpoint, c.SecretID, redacted(c.SecretKey), c.InstanceID, c.NetworkInterfaceID, c.Peers)
}

// Format prints String for every verb (%v, %+v, %#v, %s, %q, ...), so that
// no verb makes fmt print the fields, the key among them.
func (c Config) Format(f fmt.State, verb rune) { formatString(f, verb, c.String()) }

// LogValue is String for slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "(redacted)"
}

// formatString prints s, the String of the value being formatted, as verb
// and its flags say (%q quotes it, %x is its hex), but %#v as is: fmt then
// never falls back to printing the value's fields, which it does for a
// Stringer with %#v, %d and the other verbs that are not for strings.
func formatString(f fmt.State, verb rune, s string) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
}

// Announce is the announcement rhythm of Tencent Cloud's keepalived guide
// for an HAVIP (garp_master_delay 1, garp_master_refresh 5), for
// havip.Config.Announce: the platform rate-limits gratuitous ARP per
// network interface, and a refresh re-binds the HAVIP should the SDN have
// missed a burst.
var Announce = havip.Announce{Repeat: 5, Delay: time.Second, Refresh: 5 * time.Second, RefreshRepeat: 1}

// A Binder claims addresses for this node from Tencent Cloud's VPC. It
// implements havip.Reasserter (a havip.Binder) and havip.AddressChecker.
//
// Printed (fmt, slog), a Binder shows its mode, region, instance, network
// interface, VPC, peers and SecretId, never a secret: it keeps none itself
// (the SDK client holds the keys), and its String, Format and LogValue,
// which have value receivers so that a Binder prints as a *Binder does,
// render the fields that are safe to show.
type Binder struct {
	cfg      Config // SecretKey cleared; SecretID that of fixed keys
	api      *vpc.Client
	role     *roleCredential // nil with fixed keys
	instance string
	eni      string
	vpcID    string
	log      *slog.Logger
}

var (
	_ havip.Reasserter     = (*Binder)(nil)
	_ havip.AddressChecker = (*Binder)(nil)
)

// String describes b: its mode, region, instance, network interface, VPC
// and peers, and the keys it signs with (the SecretId, or the CAM role's).
func (b Binder) String() string {
	keys := fmt.Sprintf("SecretID %q", b.cfg.SecretID)
	if b.role != nil {
		keys = "CAM role"
	}
	return fmt.Sprintf("tencentcloud.Binder{Mode: %v, Region: %q, Instance: %q, ENI: %q, VPC: %q, Peers: %v, Keys: %s}",
		b.cfg.Mode, b.cfg.Region, b.instance, b.eni, b.vpcID, b.cfg.Peers, keys)
}

// Format prints String for every verb, as Config's Format does.
func (b Binder) Format(f fmt.State, verb rune) { formatString(f, verb, b.String()) }

// LogValue is String for slog.
func (b Binder) LogValue() slog.Value { return slog.StringValue(b.String()) }

// CheckAddress refuses a vip outside every subnet of the interface, own
// being the interface's addresses (the virtual ones aside; link-local ones
// are ignored): an HAVIP belongs to one subnet of the VPC, and so does a
// private IP, and only a network interface in that subnet can take it.
func (b *Binder) CheckAddress(vip netip.Addr, iface string, own []netip.Prefix) error {
	var subnets []netip.Prefix
	for _, p := range own {
		if p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if p.Masked().Contains(vip) {
			return nil
		}
		if !slices.Contains(subnets, p.Masked()) {
			subnets = append(subnets, p.Masked())
		}
	}
	return fmt.Errorf("%v is outside every subnet of %s %v: an HAVIP or private IP belongs to one subnet, and only a server in it can claim it",
		vip, iface, subnets)
}

// New makes a Binder: it finds the keys, the region and this node's
// network interface (metadata service, DescribeNetworkInterfaces), and in
// private-IP mode the peers' interfaces. It fails with the reason when any
// of them cannot be had, or when a field is wrong, naming it.
func New(ctx context.Context, cfg Config) (*Binder, error) {
	if cfg.Mode != ModeHAVIP && cfg.Mode != ModePrivateIP {
		return nil, fmt.Errorf("tencentcloud: Config.Mode %v: choose ModeHAVIP or ModePrivateIP", cfg.Mode)
	}
	if err := checkScheme(cfg.Scheme, cfg.Endpoint); err != nil {
		return nil, err
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = 5 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Binder{instance: cfg.InstanceID, eni: cfg.NetworkInterfaceID,
		log: cfg.Logger.With("cloud", "tencentcloud", "mode", cfg.Mode.String())}

	cred, err := credential(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	b.role, _ = cred.(*roleCredential)
	// The SDK client holds the keys from now on; the Binder keeps only the
	// SecretId of fixed keys, for String.
	cfg.SecretID, cfg.SecretKey = "", ""
	if b.role == nil {
		cfg.SecretID = cred.GetSecretId()
	}
	if cfg.Region == "" {
		if cfg.Region, err = cfg.Metadata.Region(ctx); err != nil {
			return nil, err
		}
	}
	b.cfg = cfg
	prof := profile.NewClientProfile()
	if cfg.Endpoint != "" {
		prof.HttpProfile.Endpoint = cfg.Endpoint
	}
	if cfg.Scheme != "" {
		prof.HttpProfile.Scheme = cfg.Scheme
	}
	prof.HttpProfile.ReqTimeout = 10
	if b.api, err = vpc.NewClient(cred, cfg.Region, prof); err != nil {
		return nil, fmt.Errorf("tencentcloud: %w", err)
	}
	if b.instance == "" {
		if b.instance, err = cfg.Metadata.InstanceID(ctx); err != nil {
			return nil, err
		}
	}
	if err := b.findInterface(ctx); err != nil {
		return nil, err
	}
	b.log = b.log.With("instance", b.instance, "eni", b.eni)
	if cfg.Mode == ModePrivateIP {
		if err := b.checkPeers(ctx); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// checkScheme refuses plain http to an endpoint that is not this host's
// (see Config.Endpoint). The SDK takes any other scheme for https.
func checkScheme(scheme, endpoint string) error {
	if !strings.EqualFold(scheme, "http") {
		return nil
	}
	host := endpoint
	if h, _, err := net.SplitHostPort(endpoint); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() || strings.EqualFold(host, "localhost") {
		return nil
	}
	return fmt.Errorf("tencentcloud: Config.Scheme %q with Config.Endpoint %q: plain http is allowed only to a loopback endpoint "+
		"(127.0.0.1, ::1, localhost), or the SecretId and the CAM role's token would cross the network in the clear "+
		"and requests could be replayed and answers forged; use https", scheme, endpoint)
}

// checkPeers checks Config.Peers: IPv4 addresses, none twice, each the
// primary private IP of a network interface of the VPC other than this
// node's, all looked up in one call.
func (b *Binder) checkPeers(ctx context.Context) error {
	peers := b.cfg.Peers
	if len(peers) == 0 {
		b.log.Warn("no peers configured: the private IP will be taken from whichever network interface of the VPC holds it; " +
			"list the peers' addresses (keepalived's unicast_peer) to take it from theirs only")
		return nil
	}
	for i, p := range peers {
		switch {
		case !p.Is4() || p.IsUnspecified() || p.IsLoopback() || p.IsMulticast():
			return fmt.Errorf("tencentcloud: Config.Peers[%d] %v: not the private IPv4 address of a network interface", i, p)
		case slices.Index(peers, p) < i:
			return fmt.Errorf("tencentcloud: Config.Peers[%d] %v: given twice", i, p)
		case i >= describeLimit:
			return fmt.Errorf("tencentcloud: Config.Peers: more than %d", describeLimit)
		}
	}
	set, err := b.describeByAddress(ctx, peers...)
	if err != nil {
		return fmt.Errorf("tencentcloud: finding the network interfaces of Config.Peers %v: %w", peers, err)
	}
	for i, p := range peers {
		j := slices.IndexFunc(set, func(ni *vpc.NetworkInterface) bool { return primaryIP(ni) == p })
		switch {
		case j < 0:
			return fmt.Errorf("tencentcloud: Config.Peers[%d] %v: no network interface of %s has it as its primary private IP", i, p, b.vpcID)
		case deref(set[j].NetworkInterfaceId) == b.eni:
			return fmt.Errorf("tencentcloud: Config.Peers[%d] %v: the address of this node's own network interface %s", i, p, b.eni)
		}
	}
	return nil
}

// credential returns the configured keys, the environment's, or the CAM
// role's.
func credential(ctx context.Context, cfg *Config) (common.CredentialIface, error) {
	id, key := cfg.SecretID, cfg.SecretKey
	if id == "" && key == "" {
		id, key = os.Getenv("TENCENTCLOUD_SECRET_ID"), os.Getenv("TENCENTCLOUD_SECRET_KEY")
	}
	if id != "" && key != "" {
		return common.NewCredential(id, key), nil
	}
	if id != "" || key != "" {
		return nil, errors.New("tencentcloud: a SecretId without a SecretKey or the reverse")
	}
	return newRoleCredential(ctx, &cfg.Metadata)
}

// findInterface finds this node's network interface (the one attached to
// the instance with the primary MAC address, unless configured) and its
// VPC.
func (b *Binder) findInterface(ctx context.Context) error {
	req := vpc.NewDescribeNetworkInterfacesRequest()
	var mac net.HardwareAddr
	if b.eni != "" {
		req.NetworkInterfaceIds = []*string{&b.eni}
	} else {
		req.Filters = []*vpc.Filter{{Name: ptr("attachment.instance-id"), Values: []*string{&b.instance}}}
		var err error
		if mac, err = b.cfg.Metadata.MAC(ctx); err != nil {
			return err
		}
	}
	set, err := b.describe(ctx, req)
	if err != nil {
		return fmt.Errorf("tencentcloud: finding the network interface of %s: %w", b.instance, err)
	}
	for _, ni := range set {
		if ni.NetworkInterfaceId == nil {
			continue
		}
		if b.eni == *ni.NetworkInterfaceId || mac != nil && ni.MacAddress != nil && sameMAC(*ni.MacAddress, mac) {
			b.eni, b.vpcID = *ni.NetworkInterfaceId, deref(ni.VpcId)
			return nil
		}
	}
	return fmt.Errorf("tencentcloud: no network interface of %s with MAC %v", b.instance, mac)
}

func sameMAC(s string, mac net.HardwareAddr) bool {
	m, err := net.ParseMAC(s)
	return err == nil && m.String() == mac.String()
}

// Claim makes the VPC deliver addrs to this node, by the Binder's mode.
// Addresses other than IPv4 are left to the announcement: the calls used
// here move IPv4 addresses only.
func (b *Binder) Claim(ctx context.Context, addrs []netip.Addr) error {
	return b.claim(ctx, addrs, false)
}

// Reassert is Claim, except that in private-IP mode it leaves an address
// that a peer's network interface holds where it is and returns an error
// wrapping havip.ErrContested, which names the holder: havip reasserts
// once a claim of its term succeeded, so the peer took the address since,
// as a second master on the other side of a partition of VRRP does. An
// HAVIP is verified as Claim does.
func (b *Binder) Reassert(ctx context.Context, addrs []netip.Addr) error {
	return b.claim(ctx, addrs, true)
}

func (b *Binder) claim(ctx context.Context, addrs []netip.Addr, reassert bool) error {
	for _, a := range addrs {
		if !a.Is4() {
			continue
		}
		var err error
		if b.cfg.Mode == ModeHAVIP {
			err = b.verifyHaVip(ctx, a)
		} else {
			err = b.claimPrivateIP(ctx, a, reassert)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// verifyHaVip waits until the HAVIP a is bound to this node's interface,
// up to VerifyTimeout, and returns an ErrNotBound error if it is not.
func (b *Binder) verifyHaVip(ctx context.Context, a netip.Addr) error {
	deadline := time.Now().Add(b.cfg.VerifyTimeout)
	req := vpc.NewDescribeHaVipsRequest()
	req.Filters = []*vpc.Filter{
		{Name: ptr("vip"), Values: []*string{ptr(a.String())}},
		{Name: ptr("vpc-id"), Values: []*string{&b.vpcID}},
	}
	for {
		var set []*vpc.HaVip
		err := b.retry(ctx, "DescribeHaVips", func() error {
			resp, err := b.api.DescribeHaVipsWithContext(ctx, req)
			if err == nil {
				set = resp.Response.HaVipSet
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("tencentcloud: HAVIP %v: %w", a, err)
		}
		if len(set) == 0 {
			return fmt.Errorf("tencentcloud: no HAVIP has the address %v", a)
		}
		holder := deref(set[0].NetworkInterfaceId)
		if holder == b.eni {
			b.log.Info("HAVIP bound here", "havip", deref(set[0].HaVipId), "address", a)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tencentcloud: HAVIP %s (%v) is bound to %q, not %s, %v after the announcement: %w",
				deref(set[0].HaVipId), a, holder, b.eni, b.cfg.VerifyTimeout, havip.ErrNotBound)
		}
		if err := sleep(ctx, b.cfg.PollInterval); err != nil {
			return err
		}
	}
}

// claimPrivateIP moves the private IP a to this node's interface: nothing
// if it is here, an assignment if nobody holds it, a migration from a
// peer's interface, unless reassert says that the peer took it since this
// node's last claim (a contest), and a refusal from any other interface.
func (b *Binder) claimPrivateIP(ctx context.Context, a netip.Addr, reassert bool) error {
	for {
		ni, err := b.holder(ctx, a)
		if err != nil {
			return err
		}
		var holder string
		if ni != nil {
			holder = deref(ni.NetworkInterfaceId)
		}
		switch {
		case ni == nil:
			err = b.assign(ctx, a)
			if err == nil {
				b.log.Info("private IP assigned here", "address", a)
				return nil
			}
		case holder == b.eni:
			return nil
		case !b.isPeer(ni):
			return fmt.Errorf("tencentcloud: private IP %v is held by %s (instance %q, primary IP %v), which is no peer's (Config.Peers %v): "+
				"refusing to take it", a, holder, instanceOf(ni), primaryIP(ni), b.cfg.Peers)
		case reassert:
			return fmt.Errorf("tencentcloud: private IP %v: %s (instance %q) took it after this node's last claim: %w",
				a, holder, instanceOf(ni), havip.ErrContested)
		default:
			err = b.migrate(ctx, a, holder)
			if err == nil {
				b.log.Info("private IP migrated here", "address", a, "from", holder)
				return nil
			}
		}
		if !errors.Is(err, errTaskFailed) {
			return fmt.Errorf("tencentcloud: private IP %v: %w", a, err)
		}
		// The task failed, or another one ran on the address (another node
		// moved it meanwhile?): look at the holder again.
		b.log.Warn("the address changed hands or its task failed; checking the holder again", "address", a, "err", err)
		if err := sleep(ctx, b.cfg.MinBackoff); err != nil {
			return err
		}
	}
}

// errTaskFailed says a task on the address failed or was refused because
// another ran: the holder may have changed.
var errTaskFailed = errors.New("the VPC task failed")

// taskConflict turns the API's "a task runs on this resource" into
// errTaskFailed: retrying the same request could name a source that no
// longer holds the address.
func taskConflict(err error) error {
	var e *sdkerrors.TencentCloudSDKError
	if errors.As(err, &e) && (e.GetCode() == "UnsupportedOperation.MutexOperationTaskRunning" || e.GetCode() == "OperationDenied.MutexTaskRunning") {
		return fmt.Errorf("%w: %v", errTaskFailed, err)
	}
	return err
}

// assign gives a, held by nobody, to our interface (asynchronous, like a
// migration).
func (b *Binder) assign(ctx context.Context, a netip.Addr) error {
	return b.runTask(ctx, "AssignPrivateIpAddresses", func() (*string, error) {
		req := vpc.NewAssignPrivateIpAddressesRequest()
		req.NetworkInterfaceId = &b.eni
		req.PrivateIpAddresses = []*vpc.PrivateIpAddressSpecification{{PrivateIpAddress: ptr(a.String())}}
		resp, err := b.api.AssignPrivateIpAddressesWithContext(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp.Response.RequestId, nil
	})
}

// migrate moves a from the interface from to ours.
func (b *Binder) migrate(ctx context.Context, a netip.Addr, from string) error {
	return b.runTask(ctx, "MigratePrivateIpAddress", func() (*string, error) {
		req := vpc.NewMigratePrivateIpAddressRequest()
		req.SourceNetworkInterfaceId, req.DestinationNetworkInterfaceId = &from, &b.eni
		req.PrivateIpAddress = ptr(a.String())
		resp, err := b.api.MigratePrivateIpAddressWithContext(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp.Response.RequestId, nil
	})
}

// runTask makes the call that starts an asynchronous task, retrying
// transient errors, and waits for the task, whose ID is the call's
// RequestId.
func (b *Binder) runTask(ctx context.Context, action string, call func() (requestID *string, err error)) error {
	var task string
	err := b.retry(ctx, action, func() error {
		id, err := call()
		task = deref(id)
		return taskConflict(err)
	})
	if err != nil {
		return err
	}
	return b.waitTask(ctx, task)
}

// waitTask polls the asynchronous task (its ID is the RequestId of the
// call that started it) until it ends.
func (b *Binder) waitTask(ctx context.Context, task string) error {
	for {
		var status, output string
		err := b.retry(ctx, "DescribeVpcTaskResult", func() error {
			req := vpc.NewDescribeVpcTaskResultRequest()
			req.TaskId = &task
			resp, err := b.api.DescribeVpcTaskResultWithContext(ctx, req)
			if err == nil {
				status, output = deref(resp.Response.Status), deref(resp.Response.Output)
			}
			return err
		})
		switch {
		case err != nil:
			return err
		case status == "SUCCESS":
			return nil
		case status == "FAILED":
			return fmt.Errorf("%w: task %s: %s", errTaskFailed, task, output)
		}
		if err := sleep(ctx, b.cfg.PollInterval); err != nil {
			return err
		}
	}
}

// describeLimit is the most network interfaces DescribeNetworkInterfaces
// returns in one answer.
const describeLimit = 100

// describeByAddress returns the network interfaces of this node's VPC that
// have one of addrs (at most describeLimit) as a private IP, found with
// DescribeNetworkInterfaces's address-ip filter. The API matches a single
// address as a suffix (10.0.0.1 finds 110.0.0.1 too) and several exactly;
// ip-exact-match, documented for a single address ("only the first is
// taken"), makes that one match exactly.
func (b *Binder) describeByAddress(ctx context.Context, addrs ...netip.Addr) ([]*vpc.NetworkInterface, error) {
	req := vpc.NewDescribeNetworkInterfacesRequest()
	f := &vpc.Filter{Name: ptr("address-ip")}
	for _, a := range addrs {
		f.Values = append(f.Values, ptr(a.String()))
	}
	req.Filters = []*vpc.Filter{{Name: ptr("vpc-id"), Values: []*string{&b.vpcID}}, f}
	if len(addrs) == 1 {
		req.Filters = append(req.Filters, &vpc.Filter{Name: ptr("ip-exact-match"), Values: []*string{ptr("true")}})
	}
	req.Limit = ptr(uint64(describeLimit))
	return b.describe(ctx, req)
}

// describe calls DescribeNetworkInterfaces with req, retrying transient
// errors, and returns the interfaces it found.
func (b *Binder) describe(ctx context.Context, req *vpc.DescribeNetworkInterfacesRequest) ([]*vpc.NetworkInterface, error) {
	var set []*vpc.NetworkInterface
	err := b.retry(ctx, "DescribeNetworkInterfaces", func() error {
		resp, err := b.api.DescribeNetworkInterfacesWithContext(ctx, req)
		if err == nil {
			set = resp.Response.NetworkInterfaceSet
		}
		return err
	})
	return set, err
}

// holder returns the network interface of this node's VPC that holds the
// private IP a, nil if none does.
func (b *Binder) holder(ctx context.Context, a netip.Addr) (*vpc.NetworkInterface, error) {
	set, err := b.describeByAddress(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("tencentcloud: who holds %v: %w", a, err)
	}
	for _, ni := range set {
		if slices.ContainsFunc(ni.PrivateIpAddressSet, func(ip *vpc.PrivateIpAddressSpecification) bool {
			return deref(ip.PrivateIpAddress) == a.String()
		}) {
			return ni, nil
		}
	}
	return nil, nil
}

// isPeer reports whether ni is a peer's network interface: its primary
// private IP is one of Config.Peers. Without Peers, every interface is.
func (b *Binder) isPeer(ni *vpc.NetworkInterface) bool {
	return len(b.cfg.Peers) == 0 || slices.Contains(b.cfg.Peers, primaryIP(ni))
}

// primaryIP returns the primary private IP of ni, the zero Addr if it
// shows none.
func primaryIP(ni *vpc.NetworkInterface) netip.Addr {
	for _, ip := range ni.PrivateIpAddressSet {
		if deref(ip.Primary) {
			a, _ := netip.ParseAddr(deref(ip.PrivateIpAddress))
			return a
		}
	}
	return netip.Addr{}
}

// instanceOf returns the instance ni is attached to, "" if none.
func instanceOf(ni *vpc.NetworkInterface) string {
	if ni.Attachment == nil {
		return ""
	}
	return deref(ni.Attachment.InstanceId)
}

// transient reports whether err is worth retrying: throttling, a task
// running on the same resource, an internal error, the network.
func transient(err error) bool {
	var e *sdkerrors.TencentCloudSDKError
	if !errors.As(err, &e) {
		return false
	}
	code := e.GetCode()
	switch code {
	case "ResourceUnavailable", "UnsupportedOperation.MutexOperationTaskRunning", "OperationDenied.MutexTaskRunning",
		"UnsupportedOperation.IdempotentProcessing":
		return true
	}
	for _, prefix := range []string{"RequestLimitExceeded", "InternalError",
		"ClientError.NetworkError", "ClientError.HttpStatusCodeError", "ClientError.IOError"} {
		if strings.HasPrefix(code, prefix) {
			return true
		}
	}
	return false
}

// retry calls f until it succeeds, fails for good, or ctx ends, waiting
// between tries from MinBackoff, doubling, to MaxBackoff, with jitter.
// Temporary role keys the API refuses are fetched anew once.
func (b *Binder) retry(ctx context.Context, action string, f func() error) error {
	wait := b.cfg.MinBackoff
	refreshed := false
	for {
		err := f()
		var e *sdkerrors.TencentCloudSDKError
		if b.role != nil && !refreshed && errors.As(err, &e) && e.GetCode() == "AuthFailure.TokenFailure" {
			b.log.Warn("the API refused the role's temporary keys; fetching new ones", "action", action)
			b.role.invalidate()
			refreshed = true
			continue
		}
		if err == nil || !transient(err) {
			return err
		}
		b.log.Warn("transient API error; retrying", "action", action, "err", err, "after", wait)
		if err := sleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
			return err
		}
		wait = min(2*wait, b.cfg.MaxBackoff)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
