//go:build !linux

package netmon

// A Netns is a network namespace, which only Linux has: here there is one.
type Netns struct{}

// ThreadNetns returns 0: there is one namespace.
func ThreadNetns() (uint64, error) { return 0, nil }

// OpenNetns returns the one namespace.
func OpenNetns() (*Netns, error) { return &Netns{}, nil }

// ID returns 0.
func (n *Netns) ID() uint64 { return 0 }

// Do runs f.
func (n *Netns) Do(f func() error) error { return f() }

// Close does nothing.
func (n *Netns) Close() error { return nil }
