package vpcsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// Addresses of the services a [VSwitch] runs, on its loopback interface.
// Every host reaches them through its default route, as a CVM reaches
// Tencent's API endpoint and metadata service through its gateway.
var (
	// APIAddr is where the API listens (port APIPort).
	APIAddr = netip.MustParseAddr("203.0.113.1")
	// MetadataAddr is where the [VSwitch.MetadataURL] services listen.
	MetadataAddr = netip.MustParseAddr("203.0.113.2")
)

// APIPort is the TCP port of the API in the vswitch.
const APIPort = 8080

// LocalAPI is where [VSwitch.APIURL] is served in every host: a relay on
// the host's loopback interface to the API (APIAddr, port APIPort), as a
// local proxy that speaks https to the API would be on a CVM. The API is
// served over plain http, which the Tencent binder sends only to a
// loopback endpoint. The port is apart from those tests serve on (80,
// 8080).
var LocalAPI = netip.MustParseAddrPort("127.0.0.1:18080")

// A VSwitch is the SDN of a simulated VPC as the servers see it: a network
// namespace, "vsw", with one port (a veth pair) to each host, no bridge.
// It is the gateway of every subnet (the subnet's [Cloud.Gateway]
// address on each port of that subnet), answers every ARP request on every
// port with the port's own MAC (proxy ARP, so hosts of one subnet, who
// think they share a LAN, send everything to it), and routes each address
// with a /32 route to the port of the ENI that [Cloud.Holder] names,
// whatever the hosts themselves claim. That is how Tencent's VPC delivers
// a private IP: to the ENI it is assigned to, not to whoever answers ARP.
//
// A controller reads ARP on every port. A gratuitous ARP (sender address
// equal to target address) from the port's host (Ethernet source the
// ENI's MAC) for an HAVIP makes the Cloud bind the HAVIP to that ENI
// ([Cloud.BindHaVip]), which refuses an ENI of another subnet; the route
// follows ([Cloud.OnMove]). Gratuitous ARP for an ordinary private IP is
// ignored: it moves only through the API (MigratePrivateIpAddress, or
// AssignPrivateIpAddresses when nobody holds it), as on Tencent Cloud,
// whose SDN re-binds only an HAVIP, a floating private IP, to the server
// of its subnet that announces it.
//
// A VSwitch is removed with its lab: its controller, sockets and servers
// are stopped when the lab's processes are (it keeps a small sentinel
// process in the namespace for that), before the namespaces go. Its
// methods are called from the test's goroutine and fail the test (Fatal)
// when the network cannot be built.
type VSwitch struct {
	lab   *netlab.Lab
	host  *netlab.Host
	cloud *Cloud
	rtnl  *rtnetlink.Conn // in vsw: re-routes addresses without forking ip

	mu        sync.Mutex
	ports     map[string]*port      // ENI -> port
	routes    map[netip.Addr]string // address -> port it is routed to
	gateways  map[string]bool       // "gw/port" added
	api       bool                  // the API is served
	relayed   map[*netlab.Host]bool // hosts that have a relay to it
	relays    []net.Listener
	relaying  map[net.Conn]bool // the relays' connections, both ends
	metadata  map[string]string // instance -> URL
	servers   []*http.Server
	announces []Announcement
	errs      []error
	closed    bool
	readers   sync.WaitGroup
	closeOnce sync.Once
	ackDir    string
}

// port is one host's port in the vswitch.
type port struct {
	name     string // interface name in vsw
	host     *netlab.Host
	eni      string
	instance string
	subnet   string
	mac      net.HardwareAddr // the host's interface MAC, the ENI's
	index    int              // the interface's index in vsw
	conn     *packet.Conn
}

// An Announcement is a gratuitous ARP the vswitch's controller read.
type Announcement struct {
	Time     time.Time
	Port     string     // the vswitch port it came in on
	Instance string     // the instance of that port
	ENI      string     // its ENI
	IP       netip.Addr // the announced address
	Bound    bool       // the Cloud bound it (an HAVIP of the ENI's subnet)
}

// NewVSwitch makes the host "vsw" in lab, the SDN of cloud: IPv4
// forwarding on, ICMP redirects and reverse-path filtering off, proxy ARP
// answering at once (proxy_delay 0) on every port, and APIAddr and
// MetadataAddr on its loopback. It registers with cloud.OnMove to re-route
// an address whenever its holder changes. Add hosts with
// [VSwitch.AddHost].
func NewVSwitch(lab *netlab.Lab, cloud *Cloud) *VSwitch {
	v := &VSwitch{
		lab:      lab,
		host:     lab.Host("vsw"),
		cloud:    cloud,
		ports:    make(map[string]*port),
		routes:   make(map[netip.Addr]string),
		gateways: make(map[string]bool),
		relayed:  make(map[*netlab.Host]bool),
		relaying: make(map[net.Conn]bool),
		metadata: make(map[string]string),
	}
	v.startSentinel()
	if err := v.host.Do(func() (err error) {
		v.rtnl, err = rtnetlink.Dial(nil)
		return err
	}); err != nil {
		v.fatalf("vpcsim: rtnetlink in %s: %v", v.host.Name(), err)
	}
	v.sysctls(
		"net/ipv4/ip_forward=1",
		"net/ipv4/conf/all/rp_filter=0",
		"net/ipv4/conf/default/rp_filter=0",
		"net/ipv4/conf/all/send_redirects=0",
		"net/ipv4/conf/default/send_redirects=0",
		"net/ipv4/conf/all/arp_announce=2",
		"net/ipv4/conf/default/proxy_arp=1",
	)
	v.host.MustRun("ip", "addr", "add", APIAddr.String()+"/32", "dev", "lo")
	v.host.MustRun("ip", "addr", "add", MetadataAddr.String()+"/32", "dev", "lo")
	cloud.OnMove(func(ip netip.Addr, _ string) { v.syncRoute(ip) })
	return v
}

// Host returns the vswitch's namespace, to capture on its ports or look at
// its routes.
func (v *VSwitch) Host() *netlab.Host { return v.host }

// startSentinel starts a shell in vsw that lives until the lab stops its
// processes; when it is told to stop, it prints a line and waits until
// Close has run, so that the sockets and servers are closed before the lab
// deletes the namespaces.
func (v *VSwitch) startSentinel() {
	dir, err := os.MkdirTemp("", "vpcsim-")
	if err != nil {
		v.fatalf("vpcsim: temporary directory: %v", err)
	}
	v.ackDir = dir
	ack := filepath.Join(dir, "closed")
	const script = `trap 'echo vpcsim-stopping; i=0; while [ ! -e "$0" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; rm -rf "${0%/*}"; exit 0' TERM INT
echo vpcsim-ready
while :; do sleep 1 & wait $!; done`
	p := v.host.Start("sh", "-c", script, ack)
	if !p.WaitOutput("vpcsim-ready", 10*time.Second) {
		v.fatalf("vpcsim: the sentinel process did not start: %s", p.Output())
	}
	go func() {
		for !p.WaitOutput("vpcsim-stopping", time.Hour) {
			select {
			case <-p.Done():
				v.Close()
				os.RemoveAll(dir)
				return
			default:
			}
		}
		v.Close()
		<-p.Done()
		os.RemoveAll(dir) // the sentinel did, unless it was killed
	}()
}

// Close stops the controller, closes its sockets, stops the servers and
// the relays. The lab calls it when it stops its processes; calling it
// earlier, or again, is harmless. Routes stay until the namespace goes.
func (v *VSwitch) Close() {
	v.closeOnce.Do(func() {
		v.mu.Lock()
		v.closed = true
		ports := v.ports
		servers := v.servers
		relays := v.relays
		conns := slices.Collect(maps.Keys(v.relaying))
		v.mu.Unlock()
		for _, p := range ports {
			p.conn.Close()
		}
		v.readers.Wait()
		for _, l := range relays {
			l.Close()
		}
		for _, c := range conns {
			c.Close()
		}
		for _, s := range servers {
			s.Close()
		}
		v.mu.Lock()
		v.rtnl.Close()
		v.mu.Unlock()
		if v.ackDir != "" {
			// Tell the sentinel it may exit now (it removes the directory).
			os.WriteFile(filepath.Join(v.ackDir, "closed"), nil, 0o600)
		}
	})
}

// lockOpen locks v.mu for what, a step that made c, unless v is closed:
// then it closes c and fails the test.
func (v *VSwitch) lockOpen(what string, c io.Closer) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		c.Close()
		v.fatalf("vpcsim: %s: the vswitch is closed", what)
	}
}

// fatalf fails the test from its goroutine: netlab reports a failing
// command with Fatal, and the vswitch has no testing.TB of its own.
func (v *VSwitch) fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.host.MustRun("false", msg)
	panic(msg) // not reached: MustRun called t.Fatal
}

// sysctls writes "key=value" settings under /proc/sys in vsw.
func (v *VSwitch) sysctls(settings ...string) {
	err := v.host.Do(func() error {
		for _, s := range settings {
			key, value, _ := strings.Cut(s, "=")
			if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value+"\n"), 0o644); err != nil {
				return fmt.Errorf("sysctl %s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		v.fatalf("vpcsim: vswitch: %v", err)
	}
}

// AddHost plugs h into the vswitch as the instance instanceID (added to
// the Cloud before) and returns h's end of the link, "eth<N>". h's end
// gets the instance's primary IP with its subnet's prefix length and h a
// default route via the subnet's gateway ([Cloud.Gateway]); the
// interface's MAC becomes the ENI's MAC in the Cloud (as
// DescribeNetworkInterfaces and the metadata service report it). In vsw
// the port gets the gateway address (/32), proxy ARP and an ARP reader,
// and every address the ENI holds is routed to it. Once the API is served
// ([VSwitch.APIURL]), h gets its relay to it.
func (v *VSwitch) AddHost(h *netlab.Host, instanceID string) *netlab.Iface {
	e, ok := v.cloud.Instance(instanceID)
	if !ok {
		v.fatalf("vpcsim: AddHost: no instance %s in the Cloud", instanceID)
	}
	prefix, _ := v.cloud.Subnet(e.SubnetID)
	gw, _ := v.cloud.Gateway(e.SubnetID)
	v.mu.Lock()
	_, dup := v.ports[e.ID]
	v.mu.Unlock()
	if dup {
		v.fatalf("vpcsim: AddHost: instance %s is plugged in already", instanceID)
	}

	hi, pi := v.lab.Link(h, v.host)
	hi.AddAddr(netip.PrefixFrom(e.Primary, prefix.Bits()))
	h.MustRun("ip", "route", "add", "default", "via", gw.String(), "dev", hi.Name())
	mac := hi.MAC()
	v.cloud.SetMAC(e.ID, mac)

	v.sysctls(
		"net/ipv4/conf/"+pi.Name()+"/proxy_arp=1",
		"net/ipv4/conf/"+pi.Name()+"/rp_filter=0",
		"net/ipv4/conf/"+pi.Name()+"/send_redirects=0",
		"net/ipv4/neigh/"+pi.Name()+"/proxy_delay=0",
	)
	v.host.MustRun("ip", "addr", "add", gw.String()+"/32", "dev", pi.Name())

	var conn *packet.Conn
	var index int
	err := v.host.Do(func() error {
		ifi, err := net.InterfaceByName(pi.Name())
		if err != nil {
			return err
		}
		index = ifi.Index
		conn, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	})
	if err != nil {
		v.fatalf("vpcsim: AddHost: ARP socket on vsw/%s: %v", pi.Name(), err)
	}
	p := &port{name: pi.Name(), host: h, eni: e.ID, instance: instanceID, subnet: e.SubnetID, mac: mac, index: index, conn: conn}
	v.lockOpen("AddHost", conn)
	v.ports[e.ID] = p
	v.readers.Add(1)
	api := v.api
	v.mu.Unlock()
	go v.readARP(p)
	if api {
		v.relay(h)
	}

	for ip := range v.cloud.Addresses() {
		v.syncRoute(ip)
	}
	if err := v.Err(); err != nil {
		v.fatalf("vpcsim: AddHost: %v", err)
	}
	return hi
}

// readARP reads the port's ARP until its socket is closed and hands
// gratuitous ones from the port's host to the Cloud.
func (v *VSwitch) readARP(p *port) {
	defer v.readers.Done()
	buf := make([]byte, 1600)
	var f garp.Frame
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				v.mu.Lock()
				if !v.closed {
					v.errs = append(v.errs, fmt.Errorf("vpcsim: reading ARP on vsw/%s: %w", p.name, err))
				}
				v.mu.Unlock()
			}
			return
		}
		if f.UnmarshalBinary(buf[:n]) != nil || f.EtherType != ethernet.EtherTypeARP || !f.ARP.IsGratuitous() {
			continue
		}
		// Only what the port's host sends: not the vswitch's own frames,
		// nor a MAC the ENI does not have (the VPC's anti-spoofing).
		if !bytes.Equal(f.Source, p.mac) || !bytes.Equal(f.ARP.SenderHardwareAddr, p.mac) {
			continue
		}
		ip := f.ARP.SenderIP
		bound := v.cloud.BindHaVip(ip, p.eni)
		v.mu.Lock()
		v.announces = append(v.announces, Announcement{Time: time.Now(), Port: p.name, Instance: p.instance, ENI: p.eni, IP: ip, Bound: bound})
		v.mu.Unlock()
	}
}

// Announcements returns the gratuitous ARPs the controller has read, in
// order.
func (v *VSwitch) Announcements() []Announcement {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Announcement(nil), v.announces...)
}

// syncRoute makes vsw route ip to the port of its holder now, or not at
// all if nobody holds it or the holder has no port.
func (v *VSwitch) syncRoute(ip netip.Addr) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	holder, _ := v.cloud.Holder(ip)
	want, index := "", 0
	if p := v.ports[holder]; p != nil {
		want, index = p.name, p.index
	}
	have, routed := v.routes[ip]
	switch {
	case want != "" && (!routed || have != want):
		if err := v.route(ip, index); err != nil {
			v.errs = append(v.errs, err)
			return
		}
		v.routes[ip] = want
	case want == "" && routed:
		if err := v.route(ip, 0); err != nil {
			v.errs = append(v.errs, err)
			return
		}
		delete(v.routes, ip)
	}
}

// route makes ip's /32 route in vsw lead to the interface index, or
// deletes it for index 0, with rtnetlink: `ip -n vsw route ...` forks a
// command that switches namespaces and remounts /sys, which on a loaded
// machine took up to a second and more, all of it added to the failover
// the VPC simulates. v.mu is held.
func (v *VSwitch) route(ip netip.Addr, index int) error {
	m := &rtnetlink.RouteMessage{Family: unix.AF_INET, DstLength: 32, Table: unix.RT_TABLE_MAIN,
		Attributes: rtnetlink.RouteAttributes{Dst: ip.AsSlice()}}
	var err error
	if index == 0 {
		m.Scope = unix.RT_SCOPE_NOWHERE
		err = v.rtnl.Route.Delete(m)
	} else {
		m.Protocol, m.Scope, m.Type = unix.RTPROT_BOOT, unix.RT_SCOPE_LINK, unix.RTN_UNICAST
		m.Attributes.OutIface = uint32(index)
		err = v.rtnl.Route.Replace(m)
	}
	if err != nil {
		return fmt.Errorf("vpcsim: %s: route %v/32 (interface %d): %w", v.host.Name(), ip, index, err)
	}
	return nil
}

// Err returns the errors the vswitch met in the background (re-routing an
// address, reading ARP), joined, or nil.
func (v *VSwitch) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return errors.Join(v.errs...)
}

// Route returns the vsw port ip is routed to now, "" if none.
func (v *VSwitch) Route(ip netip.Addr) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.routes[ip]
}

// Port returns the name of the vsw port of the instance instanceID.
func (v *VSwitch) Port(instanceID string) string {
	e, ok := v.cloud.Instance(instanceID)
	if !ok {
		return ""
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if p := v.ports[e.ID]; p != nil {
		return p.name
	}
	return ""
}

// listen opens a TCP listener on addr inside vsw and serves h on it until
// Close.
func (v *VSwitch) listen(addr string, h http.Handler) string {
	var l net.Listener
	err := v.host.Do(func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		v.fatalf("vpcsim: listen on %s in vsw: %v", addr, err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	v.lockOpen("listen", l)
	v.servers = append(v.servers, s)
	v.mu.Unlock()
	go s.Serve(l)
	return "http://" + l.Addr().String()
}

// APIURL returns the URL of the Cloud's API ([Cloud.APIHandler]) as every
// host reaches it: "http://127.0.0.1:18080" ([LocalAPI]), a relay in each
// host to the API, which vsw serves on APIAddr, port APIPort, and which
// each relayed connection reaches through the host's default route. Point
// the SDK's HttpProfile.Endpoint at its host:port and Scheme at "http",
// from inside a host. The server and the relays of the hosts added so far
// start on the first call, those of hosts added later with them.
func (v *VSwitch) APIURL() string {
	v.mu.Lock()
	api := v.api
	v.mu.Unlock()
	if !api {
		v.listen(netip.AddrPortFrom(APIAddr, APIPort).String(), v.cloud.APIHandler())
		v.mu.Lock()
		v.api = true
		var hosts []*netlab.Host
		for _, p := range v.ports {
			hosts = append(hosts, p.host)
		}
		v.mu.Unlock()
		for _, h := range hosts {
			v.relay(h)
		}
	}
	return "http://" + LocalAPI.String()
}

// relay listens on LocalAPI in h, unless it does already, and relays each
// connection to the API, dialling it from h, until Close.
func (v *VSwitch) relay(h *netlab.Host) {
	v.mu.Lock()
	done := v.relayed[h]
	v.relayed[h] = true
	v.mu.Unlock()
	if done {
		return
	}
	var l net.Listener
	if err := h.Do(func() (err error) {
		l, err = net.Listen("tcp4", LocalAPI.String())
		return err
	}); err != nil {
		v.fatalf("vpcsim: relay to the API in %s: %v", h.Name(), err)
	}
	v.lockOpen("relay", l)
	v.relays = append(v.relays, l)
	v.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go v.pipe(h, c)
		}
	}()
}

// pipe relays the connection c, accepted in h, to the API, dialled from h,
// until either end closes, or Close.
func (v *VSwitch) pipe(h *netlab.Host, c net.Conn) {
	var up net.Conn
	err := h.Do(func() (err error) {
		up, err = net.DialTimeout("tcp4", netip.AddrPortFrom(APIAddr, APIPort).String(), 5*time.Second)
		return err
	})
	if err != nil {
		c.Close()
		return
	}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	v.relaying[c], v.relaying[up] = true, true
	v.mu.Unlock()
	stop := func() {
		c.Close()
		up.Close()
		v.mu.Lock()
		delete(v.relaying, c)
		delete(v.relaying, up)
		v.mu.Unlock()
	}
	go func() {
		io.Copy(up, c)
		stop()
	}()
	io.Copy(c, up)
	stop()
}

// MetadataURL returns the base URL of the metadata service of the
// instance instanceID ([Cloud.MetadataHandler]), served in vsw on
// MetadataAddr at a port of its own: "http://203.0.113.2:PORT", to be used
// where a CVM uses http://metadata.tencentyun.com (paths
// /latest/meta-data/...). The server starts on the first call for the
// instance.
func (v *VSwitch) MetadataURL(instanceID string) string {
	v.mu.Lock()
	u := v.metadata[instanceID]
	v.mu.Unlock()
	if u != "" {
		return u
	}
	if _, ok := v.cloud.Instance(instanceID); !ok {
		v.fatalf("vpcsim: MetadataURL: no instance %s in the Cloud", instanceID)
	}
	u = v.listen(net.JoinHostPort(MetadataAddr.String(), strconv.Itoa(0)), v.cloud.MetadataHandler(instanceID))
	v.mu.Lock()
	v.metadata[instanceID] = u
	v.mu.Unlock()
	return u
}
