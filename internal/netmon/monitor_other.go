//go:build !linux

package netmon

import (
	"context"
	"fmt"
)

// A Monitor follows the links and addresses of a network namespace through
// rtnetlink, which only Linux has: here [Open] fails.
type Monitor struct{}

// Open returns an error wrapping [ErrNotSupported].
func Open(groups Groups) (*Monitor, error) {
	return nil, fmt.Errorf("%v events: %w", groups, ErrNotSupported)
}

// Run returns at once.
func (m *Monitor) Run(ctx context.Context, handle func(Event)) {}

// Links returns [ErrNotSupported].
func (m *Monitor) Links() ([]Link, error) { return nil, ErrNotSupported }

// Addrs returns [ErrNotSupported].
func (m *Monitor) Addrs() ([]Addr, error) { return nil, ErrNotSupported }

// Close does nothing.
func (m *Monitor) Close() error { return nil }
