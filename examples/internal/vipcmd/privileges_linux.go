package vipcmd

import "golang.org/x/sys/unix"

// missingCapabilities returns, of CAP_NET_RAW (VRRP's raw sockets) and,
// with addresses, CAP_NET_ADMIN (the virtual addresses), those the
// calling thread's effective set lacks, each with what it is for; nil if
// it cannot tell.
func missingCapabilities(addresses bool) []string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return nil // the sockets will say
	}
	effective := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	var missing []string
	if effective&(1<<unix.CAP_NET_RAW) == 0 {
		missing = append(missing, "CAP_NET_RAW for VRRP's raw sockets")
	}
	if addresses && effective&(1<<unix.CAP_NET_ADMIN) == 0 {
		missing = append(missing, "CAP_NET_ADMIN to add the virtual addresses")
	}
	return missing
}
