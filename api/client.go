package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

var (
	// ErrNotRunning means nothing listens on the socket: the daemon is not
	// running (or runs with another DataDirectory).
	ErrNotRunning = errors.New("faced is not running")
	// ErrAlreadyRunning means another daemon already serves the socket.
	ErrAlreadyRunning = errors.New("faced is already running")
	// ErrVersion means the daemon speaks another API version.
	ErrVersion = errors.New("API version mismatch")
)

// Client talks to the daemon over its socket. The zero value is not usable:
// build one with NewClient.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	return &Client{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dial(ctx, socket)
		},
		DisableKeepAlives: true,
	}}}
}

// Status fetches the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Scan asks the daemon to reconcile path (all of InputDirectory when empty)
// and waits until the walk finished and its files are queued.
func (c *Client) Scan(ctx context.Context, path string) (ScanResult, error) {
	var res ScanResult
	err := c.do(ctx, http.MethodPost, "/v1/scan", ScanRequest{Path: path}, &res)
	return res, err
}

// Retry puts every failed file back in the queue.
func (c *Client) Retry(ctx context.Context) (RetryResult, error) {
	var res RetryResult
	err := c.do(ctx, http.MethodPost, "/v1/retry", nil, &res)
	return res, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://faced.sock"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set(VersionHeader, strconv.Itoa(Version))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if isNotRunning(err) {
			return fmt.Errorf("%w (no answer on %s)", ErrNotRunning, c.socket)
		}
		return fmt.Errorf("faced API %s: %w", path, err)
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(VersionHeader); v != strconv.Itoa(Version) {
		return fmt.Errorf("%w: daemon speaks %q, facedctl speaks %d", ErrVersion, v, Version)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&eb)
		msg := fmt.Sprintf("faced API %s: %s: %s", path, resp.Status, eb.Error)
		if se := statusError(resp.StatusCode); se != nil {
			return &answerError{msg: msg, kind: se}
		}
		return errors.New(msg)
	}
	if ok, err := readRaw(resp.Body, out); ok {
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("faced API %s: decode answer: %w", path, err)
	}
	return nil
}

func isNotRunning(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// answerError is an error answer whose status maps to one of the package's
// sentinels (errors.Is), printed as the daemon said it.
type answerError struct {
	msg  string
	kind error
}

func (e *answerError) Error() string { return e.msg }
func (e *answerError) Unwrap() error { return e.kind }
