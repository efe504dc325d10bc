//go:build !linux

package vrrp

import (
	"context"
	"fmt"
	"runtime"
)

type linkWatch struct{}

func openLinkWatch(names []string) (*linkWatch, error) {
	return nil, fmt.Errorf("vrrp: interface tracking is not supported on %s", runtime.GOOS)
}

func (w *linkWatch) initial() map[string]bool { return nil }

func (w *linkWatch) run(ctx context.Context, report func(name string, up bool)) {}

func (w *linkWatch) close() {}
