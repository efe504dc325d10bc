//go:build !linux

package garp

import (
	"fmt"
	"net"
)

// NewSender opens a link-layer socket on ifi. It is implemented on Linux
// only; here it returns an error wrapping [ErrNotSupported]. [NewSenderConn]
// works everywhere.
func NewSender(ifi *net.Interface, opts *Options) (*Sender, error) {
	if _, err := checkInterface(ifi, opts); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("garp: %w", ErrNotSupported)
}
