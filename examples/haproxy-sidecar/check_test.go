package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeTimeout is the check timeout the probes get in these tests.
const probeTimeout = 200 * time.Millisecond

// probe runs p with probeTimeout and returns how long it took and its error.
func probe(p func(context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	start := time.Now()
	err := p(ctx)
	return time.Since(start), err
}

func TestHTTPProbe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string // "" for up, else in the error
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body><h1>200 OK</h1>\nService ready.\n")
		}, ""},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, ""},
		{"503 monitor fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, "503"},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, "500"},
		{"404", http.NotFound, "404"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			}
		}, "302"},
		{"hang past the timeout", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, "deadline exceeded"},
		{"headers then a hanging body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, ""}, // the status came in time; reading the body ends with the timeout
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("x", 4096))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			took, err := probe(newHTTPProbe(srv.URL + "/healthz").run)
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
			}
			assert.Less(t, took, probeTimeout+100*time.Millisecond, "the probe outlived its timeout")
		})
	}
}

func TestHTTPProbeDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/healthz"
	srv.Close() // nothing listens there now
	_, err := probe(newHTTPProbe(url).run)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// TestHTTPProbeClient: no proxy from the environment, and a new connection
// for each probe, so a kept-alive connection never answers for a HAProxy
// that no longer accepts.
func TestHTTPProbeClient(t *testing.T) {
	p := newHTTPProbe("http://127.0.0.1:8404/healthz")
	tr, ok := p.client.Transport.(*http.Transport)
	require.True(t, ok)
	assert.Nil(t, tr.Proxy, "the environment's proxy would be used")

	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p = newHTTPProbe(srv.URL)
	for range 3 {
		_, err := probe(p.run)
		require.NoError(t, err)
	}
	assert.Equal(t, int32(3), conns.Load(), "connections for 3 probes")
}

// fakeCLI is a unix socket that answers like HAProxy's CLI in its
// non-interactive mode: one line in, the answer, then close.
type fakeCLI struct {
	path string

	mu         sync.Mutex
	cmds       []string
	halfClosed []bool // whether the client shut its side after the line
}

// hang, as an answer, never answers and never closes.
const hang = "\x00hang"

// newFakeCLI listens on a new socket; answer gives the reply to a command.
func newFakeCLI(t *testing.T, answer func(cmd string) string) *fakeCLI {
	dir, err := os.MkdirTemp("", "hsc") // short: a socket path has at most 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeCLI{path: filepath.Join(dir, "haproxy.sock")}
	ln, err := net.Listen("unix", f.path)
	require.NoError(t, err)
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				line, _ := br.ReadString('\n')
				cmd := strings.TrimSuffix(line, "\n")
				c.SetReadDeadline(time.Now().Add(time.Second))
				_, err := br.ReadByte()
				f.mu.Lock()
				f.cmds = append(f.cmds, cmd)
				f.halfClosed = append(f.halfClosed, err == io.EOF)
				f.mu.Unlock()
				reply := answer(cmd)
				if strings.HasPrefix(reply, hang) {
					io.WriteString(c, strings.TrimPrefix(reply, hang))
					<-done
					return
				}
				io.WriteString(c, reply)
			})
		}
	})
	return f
}

func (f *fakeCLI) commands() ([]string, []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.cmds...), append([]bool{}, f.halfClosed...)
}

// showInfoAnswer is the start of HAProxy 2.6's answer to "show info".
const showInfoAnswer = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2026/10/17\nNbthread: 2\nNbproc: 1\n" +
	"Process_num: 1\nPid: 14190\nUptime: 0d 0h00m00s\nUptime_sec: 0\nnode: vm\nStopping: 0\nJobs: 2\n" +
	"Unstoppable Jobs: 0\nListeners: 1\nBuild info: 2.6.12-1+deb12u4\nTainted: 0\n\n"

// unknownCommand is how HAProxy's master CLI answers "show info".
const unknownCommand = "Unknown command, but maybe one of the following ones is a better match:\n" +
	"  show cli level                          : display the level of the current CLI session\n" +
	"  show proc                               : show processes status\n\n"

func TestSocketProbe(t *testing.T) {
	always := func(reply string) func(string) string { return func(string) string { return reply } }
	master := func(worker string) func(string) string {
		return func(cmd string) string {
			if cmd == "@1 show info" {
				return worker
			}
			return unknownCommand
		}
	}
	for _, tc := range []struct {
		name   string
		answer func(cmd string) string
		want   string   // "" for up, else in the error
		cmds   []string // the commands the probe sent
	}{
		{"stats socket", always(showInfoAnswer), "", []string{"show info"}},
		{"Pid, then the end", always("Pid: 42\n"), "", []string{"show info"}},
		{"Pid without a newline", always("Pid: 42"), "", []string{"show info"}},
		{"answer ends with an empty line, connection stays", always(hang + showInfoAnswer), "", []string{"show info"}},
		{"stopping", always(strings.Replace(showInfoAnswer, "Stopping: 0", "Stopping: 1", 1)), "stopping", []string{"show info"}},
		{"Pid 0", always("Name: HAProxy\nPid: 0\n\n"), "bad Pid", []string{"show info"}},
		{"Pid not a number", always("Name: HAProxy\nPid: twelve\n\n"), "bad Pid", []string{"show info"}},
		{"no Pid", always("Name: HAProxy\nVersion: 2.6.12\n\n"), "no Pid", []string{"show info"}},
		{"garbage", always("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), "no Pid", []string{"show info"}},
		{"binary garbage", always("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), "no Pid", []string{"show info"}},
		{"Pid after the end of the output", always("Name: HAProxy\n\nPid: 42\n"), "no Pid", []string{"show info"}},
		{"empty answer", always(""), "empty answer", []string{"show info"}},
		{"too long", always(strings.Repeat("x", 2*maxAnswer)), "longer", []string{"show info"}},
		{"hang past the timeout", always(hang), "timeout", []string{"show info"}},
		{"half an answer, then hang", always(hang + "Name: HAProxy\nPid: 42\n"), "timeout", []string{"show info"}},
		{"master CLI", master(showInfoAnswer), "", []string{"show info", "@1 show info"}},
		{"master CLI without a worker", master("Can't find the target PID matching the prefix '@1'\n\n"), "no Pid",
			[]string{"show info", "@1 show info"}},
		{"unknown command twice", always(unknownCommand), "unknown command", []string{"show info", "@1 show info"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCLI(t, tc.answer)
			took, err := probe(socketProbe(f.path))
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				assert.Contains(t, err.Error(), f.path)
			}
			assert.Less(t, took, probeTimeout+100*time.Millisecond, "the probe outlived its timeout")
			cmds, halfClosed := f.commands()
			assert.Equal(t, tc.cmds, cmds)
			for i, hc := range halfClosed {
				assert.True(t, hc, "command %d: the probe did not shut its side after the line", i)
			}
		})
	}
}

func TestSocketProbeNoHAProxy(t *testing.T) {
	dir, err := os.MkdirTemp("", "hsc")
	require.NoError(t, err)
	defer os.RemoveAll(dir)

	_, err = probe(socketProbe(filepath.Join(dir, "missing.sock")))
	assert.ErrorIs(t, err, syscall.ENOENT)

	// HAProxy has exited and left its socket file behind.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close()
	require.FileExists(t, stale)
	_, err = probe(socketProbe(stale))
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)

	// Not a socket at all.
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = probe(socketProbe(file))
	assert.Error(t, err)
}

// TestSocketProbeCancel: a probe whose context is cancelled (the router
// stopping) returns at once, deadline or not.
func TestSocketProbeCancel(t *testing.T) {
	f := newFakeCLI(t, func(string) string { return hang })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := socketProbe(f.path)(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), time.Second)
}

// TestCheckBoth: with a URL and a socket, HAProxy is up only when both
// answer.
func TestCheckBoth(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	var reply atomic.Value
	reply.Store(showInfoAnswer)
	f := newFakeCLI(t, func(string) string { return reply.Load().(string) })

	c := checkConfig{url: srv.URL, socket: f.path, interval: time.Second}.check(slog.New(slog.DiscardHandler))
	_, err := probe(c.Run)
	assert.NoError(t, err)

	reply.Store("Pid: 0\n\n")
	_, err = probe(c.Run)
	assert.ErrorContains(t, err, "bad Pid")

	reply.Store(showInfoAnswer)
	status.Store(http.StatusServiceUnavailable)
	_, err = probe(c.Run)
	assert.ErrorContains(t, err, "503")

	status.Store(http.StatusOK)
	_, err = probe(c.Run)
	assert.NoError(t, err)
}
