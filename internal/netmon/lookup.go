package netmon

import (
	"errors"
	"fmt"
	"net"
)

// InterfaceByName is net.InterfaceByName with an error that names the
// interface: `no interface "eth9" in this network namespace` rather than
// the standard library's "route ip+net: no such network interface".
func InterfaceByName(name string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err == nil {
		return ifi, nil
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil && oe.Err.Error() == "no such network interface" {
		return nil, fmt.Errorf("no interface %q in this network namespace", name)
	}
	return nil, fmt.Errorf("interface %q: %w", name, err)
}
