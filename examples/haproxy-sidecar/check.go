package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vipkit/vipkit/vrrp"
)

// checkName is the check's name in logs: the track_script of the
// keepalived.conf the sidecar replaces.
const checkName = "checkhaproxy"

// maxAnswer bounds what a probe reads of an answer: an HTTP body is
// drained up to it, a CLI answer longer than it is a failure.
const maxAnswer = 64 << 10

// checkConfig is the track_script: what to probe and vrrp_script's
// interval, timeout, rise, fall and weight.
type checkConfig struct {
	url, socket        string
	interval, timeout  time.Duration
	rise, fall, weight int
}

// check returns the vrrp.Check that probes HAProxy as c says. With both a
// URL and a socket, HAProxy is up only when both probes succeed. Each
// change of the probes' result is logged with its reason; the router logs
// when the check changes state (after rise or fall results in a row).
func (c checkConfig) check(log *slog.Logger) vrrp.Check {
	var probes []func(context.Context) error
	if c.url != "" {
		probes = append(probes, newHTTPProbe(c.url).run)
	}
	if c.socket != "" {
		probes = append(probes, socketProbe(c.socket))
	}
	var (
		failing bool
		lastErr string
	)
	run := func(ctx context.Context) error {
		var err error
		for _, probe := range probes {
			if err = probe(ctx); err != nil {
				break
			}
		}
		// The router calls run from one goroutine at a time.
		switch {
		case err != nil && (!failing || err.Error() != lastErr):
			log.Warn("HAProxy probe failed", "check", checkName, "err", err)
			lastErr = err.Error()
		case err == nil && failing:
			log.Info("HAProxy probe succeeded", "check", checkName)
		}
		failing = err != nil
		return err
	}
	return vrrp.Check{Name: checkName, Run: run, Interval: c.interval, Timeout: c.timeout,
		Rise: c.rise, Fall: c.fall, Weight: c.weight}
}

// An httpProbe asks HAProxy's health endpoint: a frontend with
// monitor-uri, or one that answers with "http-request return status 200".
type httpProbe struct {
	url    string
	client *http.Client
}

// newHTTPProbe returns a probe of url. Its client takes no proxy from the
// environment (the endpoint is local; an HTTP_PROXY meant for other traffic
// must not decide where the VIP lives), opens a new connection for every
// probe (HAProxy must be accepting now, not when a kept-alive connection
// was opened) and follows no redirect.
func newHTTPProbe(url string) *httpProbe {
	return &httpProbe{url: url, client: &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// run GETs the URL. HAProxy is up when the answer has a 2xx status and
// comes before ctx ends; a 503 (monitor-uri with a "monitor fail" that
// holds, or HAProxy stopping), any other status, a redirect and no answer
// are down. The body is drained (up to maxAnswer) and closed.
func (p *httpProbe) run(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "haproxy-sidecar")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	return nil
}

// errUnknownCommand is a CLI that does not know "show info": HAProxy's
// master CLI (haproxy -S), which runs it only in a worker.
var errUnknownCommand = errors.New("unknown command")

// socketProbe returns a probe of HAProxy's CLI on the unix socket at path:
// a "stats socket" of the global section or the master CLI of haproxy -W
// -S. It sends "show info" and HAProxy is up when the answer, before ctx
// ends, has a "Pid:" line with a positive process ID and no "Stopping:"
// line other than "Stopping: 0": a process that is soft-stopping (SIGUSR1,
// or an old process after a reload) no longer accepts connections. The
// master CLI does not know "show info" itself; when the answer says
// "Unknown command" the probe asks again with "@1 show info", which the
// master passes to its current worker, so a master whose worker is gone is
// down too. A missing socket, a refused connection (HAProxy has exited and
// left the file), an answer without a process ID and an answer longer
// than 64 KiB are down.
func socketProbe(path string) func(context.Context) error {
	return func(ctx context.Context) error {
		err := showInfo(ctx, path, "show info")
		if errors.Is(err, errUnknownCommand) {
			err = showInfo(ctx, path, "@1 show info")
		}
		return err
	}
}

// showInfo sends cmd on a new connection to the CLI at path and checks the
// answer as socketProbe says. The CLI is in its non-interactive mode: one
// line of commands, the answer, then HAProxy closes the connection. The
// probe half-closes its side after the line (the master CLI waits for
// that before it answers) and reads until the empty line that ends the
// output of a command, or the end of the stream.
func showInfo(ctx context.Context, path, cmd string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		if err := uc.CloseWrite(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	answer, err := readInfo(io.LimitReader(conn, maxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return fmt.Errorf("%s: %s: %w", path, cmd, err)
	}
	if err := answer.up(); err != nil {
		return fmt.Errorf("%s: %s: %w", path, cmd, err)
	}
	return nil
}

// info is the answer to "show info": its "Name: value" lines, and the
// first line as it came, for errors.
type info struct {
	fields map[string]string
	first  string
}

// readInfo reads the output of one command from r: lines up to an empty
// line or the end of r, at most maxAnswer bytes.
func readInfo(r io.Reader) (info, error) {
	in := info{fields: make(map[string]string)}
	br := bufio.NewReader(r)
	n := 0
	for {
		line, err := br.ReadString('\n')
		n += len(line)
		if n > maxAnswer {
			return in, fmt.Errorf("answer longer than %d bytes", maxAnswer)
		}
		if err != nil && err != io.EOF {
			return in, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return in, nil // the empty line that ends the output, or the end
		}
		if in.first == "" {
			in.first = line
		}
		if name, value, ok := strings.Cut(line, ":"); ok {
			if _, seen := in.fields[name]; !seen {
				in.fields[name] = strings.TrimSpace(value)
			}
		}
		if err == io.EOF {
			return in, nil
		}
	}
}

// up says whether the answer is that of a running HAProxy process.
func (in info) up() error {
	pid, ok := in.fields["Pid"]
	if !ok {
		if strings.HasPrefix(in.first, "Unknown command") {
			return errUnknownCommand
		}
		if in.first == "" {
			return errors.New("empty answer")
		}
		return fmt.Errorf("no Pid line in the answer %q", truncate(in.first, 80))
	}
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		return fmt.Errorf("bad Pid %q", truncate(pid, 40))
	}
	if s, ok := in.fields["Stopping"]; ok && s != "0" {
		return fmt.Errorf("HAProxy is stopping (Stopping: %s)", truncate(s, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
