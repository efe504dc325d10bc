package garp

import (
	"fmt"
	"net"
)

// NewSenderByName is [NewSender] for the interface called name, looked up in
// the calling thread's network namespace.
func NewSenderByName(name string, opts *Options) (*Sender, error) {
	if name == "" {
		return nil, fmt.Errorf("garp: interface name is empty: %w", ErrConfig)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("garp: interface %q: %w", name, err)
	}
	return NewSender(ifi, opts)
}
