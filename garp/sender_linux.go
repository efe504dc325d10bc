package garp

import (
	"fmt"
	"net"

	"github.com/mdlayher/packet"
)

// NewSender opens an AF_PACKET socket (packet(7), SOCK_RAW) on the Ethernet
// interface ifi and returns a Sender that writes complete frames on it. It
// needs CAP_NET_RAW. opts may be nil; see [NewSenderConn] for the checks.
//
// The socket is bound with protocol 0, which makes it send-only: the kernel
// attaches no receive hook to it, so it never queues incoming frames, and it
// takes each frame's protocol from the EtherType written in the frame. A
// socket bound to ETH_P_ALL would be handed a copy of every frame on the
// link for nothing.
func NewSender(ifi *net.Interface, opts *Options) (*Sender, error) {
	o, err := checkInterface(ifi, opts)
	if err != nil {
		return nil, err
	}
	c, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("garp: open AF_PACKET socket on %s: %w", ifi.Name, err)
	}
	return newSender(c, ifi, o), nil
}
