//go:build !linux

package vmac

import (
	"errors"
	"net"
)

// A Link is a macvlan that Create made.
type Link struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
}

// Create needs Linux.
func Create(parent int, name string, mac net.HardwareAddr, ipv6 bool) (*Link, error) {
	return nil, errors.ErrUnsupported
}

// Delete needs Linux.
func (l *Link) Delete() error { return errors.ErrUnsupported }
