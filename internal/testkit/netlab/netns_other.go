//go:build !linux

package netlab

import (
	"errors"
	"syscall"
)

var errNotLinux = errors.New("netlab: network namespaces need Linux")

func (h *Host) do(fn func() error) error { return errNotLinux }

func sysProcAttr() *syscall.SysProcAttr { return nil }

func waitNoReap(pid int) error { return errors.ErrUnsupported }

func killGroup(pgid int, sig syscall.Signal) error { return errors.ErrUnsupported }

func hasNetCaps() bool { return false }

func inNetns(pid int, path string) bool { return true }
