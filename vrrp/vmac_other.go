//go:build !linux

package vrrp

import (
	"errors"
	"net"
	"net/netip"
)

// A frameConn sends advertisements from the virtual MAC: Linux only.
type frameConn struct{}

func openFrames(ifi *net.Interface, mac net.HardwareAddr) (*frameConn, error) {
	return nil, errors.ErrUnsupported
}

func (f *frameConn) WriteTo(msg []byte, src, dst netip.Addr) error { return errors.ErrUnsupported }
func (f *frameConn) Close() error                                  { return nil }
