package vmac_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/internal/vmac"
)

func TestMACAndName(t *testing.T) {
	assert.Equal(t, "00:00:5e:00:01:33", vmac.MAC(51, false).String()) // RFC 5798 §7.3
	assert.Equal(t, "00:00:5e:00:02:ff", vmac.MAC(255, true).String())
	assert.Equal(t, "vrrp.51", vmac.DefaultName(51, false))
	assert.Equal(t, "vrrp6.51", vmac.DefaultName(51, true))
}

// TestCreate makes the macvlan in a namespace: bridge mode, no link-local
// address, the parent's ARP sysctls set and put back after the last one; a
// stale one of ours is replaced, a foreign interface of the name refused.
func TestCreate(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	sysctl := func(name string) string {
		return strings.TrimSpace(h.MustRun("sysctl", "-n", "net.ipv4.conf."+ifc.Name()+"."+name))
	}
	h.MustRun("sysctl", "-qw", "net.ipv4.conf."+ifc.Name()+".arp_ignore=2", "net.ipv4.conf."+ifc.Name()+".arp_filter=0",
		"net.ipv4.conf."+ifc.Name()+".arp_announce=0")

	var a, b *vmac.Link
	require.NoError(t, h.Do(func() (err error) {
		a, err = vmac.Create(ifc.Index(), "vrrp.51", vmac.MAC(51, false), false)
		return err
	}))
	show := h.MustRun("ip", "-d", "link", "show", "vrrp.51")
	assert.Contains(t, show, "link/ether 00:00:5e:00:01:33")
	assert.Contains(t, show, "macvlan mode bridge")
	assert.Contains(t, show, "addrgenmode none")
	assert.Contains(t, show, "UP")
	assert.Equal(t, "1", sysctl("arp_ignore"))
	assert.Equal(t, "1", sysctl("arp_filter"))
	assert.Equal(t, "2", sysctl("arp_announce"))
	assert.Contains(t, show, "alias vipkit vmac; parent was arp_ignore=2 arp_filter=0 arp_announce=0")
	assert.Equal(t, "1", strings.TrimSpace(h.MustRun("sysctl", "-n", "net/ipv6/conf/vrrp.51/disable_ipv6")), "no IPv6 on an IPv4 macvlan")

	require.NoError(t, h.Do(func() (err error) {
		b, err = vmac.Create(ifc.Index(), "vrrp6.51", vmac.MAC(51, true), true)
		return err
	}))
	assert.NotContains(t, h.MustRun("ip", "-6", "addr", "show", "dev", "vrrp6.51"), "fe80", "no link-local address from the virtual MAC")

	require.NoError(t, h.Do(a.Delete))
	require.NoError(t, h.Do(a.Delete), "deleting one that is gone")
	assert.Equal(t, "1", sysctl("arp_ignore"), "put back only after the last macvlan of the parent")
	require.NoError(t, h.Do(b.Delete))
	assert.Equal(t, "2", sysctl("arp_ignore"))
	assert.Equal(t, "0", sysctl("arp_filter"))
	_, err := h.Run("ip", "link", "show", "vrrp.51")
	assert.Error(t, err, "the macvlan is gone")
	require.NoError(t, h.Do(b.Delete), "deleting one that is gone")

	// One a crashed run left is replaced, and what the parent was before
	// that run is put back at the end: its alias says.
	require.NoError(t, h.Do(func() (err error) {
		_, err = vmac.Create(ifc.Index(), "vrrp.51", vmac.MAC(51, false), false)
		return err
	}))
	h.MustRun("ip", "link", "set", "vrrp.51", "type", "macvlan", "mode", "private") // as a crash leaves it, changed
	require.NoError(t, h.Do(func() (err error) {
		a, err = vmac.Create(ifc.Index(), "vrrp.51", vmac.MAC(51, false), false)
		return err
	}))
	assert.Contains(t, h.MustRun("ip", "-d", "link", "show", "vrrp.51"), "macvlan mode bridge", "made again")
	require.NoError(t, h.Do(a.Delete))
	assert.Equal(t, "2", sysctl("arp_ignore"), "put back as before the crashed run")
	assert.Equal(t, "0", sysctl("arp_announce"))

	// Another's macvlan of a virtual MAC (keepalived's, FRR's, another
	// process's) keeps the parent's settings when ours goes.
	require.NoError(t, h.Do(func() (err error) {
		a, err = vmac.Create(ifc.Index(), "vrrp.51", vmac.MAC(51, false), false)
		return err
	}))
	h.MustRun("ip", "link", "add", "link", ifc.Name(), "name", "vrrp4-9", "address", "00:00:5e:00:01:09", "type", "macvlan", "mode", "bridge")
	require.NoError(t, h.Do(a.Delete))
	assert.Equal(t, "1", sysctl("arp_ignore"), "another's macvlan of a virtual MAC is on the parent")
	assert.Equal(t, "2", sysctl("arp_announce"))
	h.MustRun("ip", "link", "del", "vrrp4-9")

	// Another's is refused and left alone.
	h.MustRun("ip", "link", "add", "link", ifc.Name(), "name", "vrrp.51", "address", "02:00:00:00:00:51", "type", "macvlan")
	err = h.Do(func() (err error) {
		_, err = vmac.Create(ifc.Index(), "vrrp.51", vmac.MAC(51, false), false)
		return err
	})
	assert.ErrorContains(t, err, "interface vrrp.51 exists and is not the macvlan of 00:00:5e:00:01:33 on "+ifc.Name()+"; name another")
	assert.Contains(t, h.MustRun("ip", "link", "show", "vrrp.51"), "02:00:00:00:00:51", "untouched")
}
