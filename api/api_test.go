package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeBackend struct {
	scans []ScanRequest
}

func (f *fakeBackend) Status(context.Context) (Status, error) {
	return Status{Running: true, Version: "test", Queue: 3, Files: FileCounts{Done: 2, Failed: 1, Pending: 3},
		Errors: []FileError{{File: "a\nb.jpg", Reason: "truncated"}}}, nil
}

func (f *fakeBackend) Scan(_ context.Context, r ScanRequest) (ScanResult, error) {
	if strings.Contains(r.Path, "..") {
		return ScanResult{}, fmt.Errorf("%w: %q leaves the input folder", ErrBadRequest, r.Path)
	}
	f.scans = append(f.scans, r)
	return ScanResult{Seen: 4, Queued: 2}, nil
}

func (f *fakeBackend) Retry(context.Context) (RetryResult, error) {
	return RetryResult{Requeued: 1}, nil
}

// shortTemp returns a temp folder with a path short enough for a unix socket.
func shortTemp(t *testing.T) string {
	d, err := os.MkdirTemp("", "api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func serve(t *testing.T, b Backend) string {
	sock := filepath.Join(shortTemp(t), "sub", "faced.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(b)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestRoundTrip(t *testing.T) {
	fb := &fakeBackend{}
	sock := serve(t, fb)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	c := NewClient(sock)
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.Files.Failed != 1 || len(st.Errors) != 1 || st.Errors[0].File != "a\nb.jpg" {
		t.Errorf("status = %+v", st)
	}
	res, err := c.Scan(ctx, "sub/dir")
	if err != nil || res.Queued != 2 || len(fb.scans) != 1 || fb.scans[0].Path != "sub/dir" {
		t.Errorf("scan = %+v, %v; backend saw %+v", res, err, fb.scans)
	}
	if _, err := c.Scan(ctx, "../etc"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("bad scan path: err = %v, want a 400", err)
	}
	rr, err := c.Retry(ctx)
	if err != nil || rr.Requeued != 1 {
		t.Errorf("retry = %+v, %v", rr, err)
	}
}

func TestVersionHeader(t *testing.T) {
	sock := serve(t, &fakeBackend{})
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", sock)
	}}}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no version", nil, http.StatusBadRequest},
		{"other version", map[string]string{VersionHeader: "2"}, http.StatusBadRequest},
		{"browser", map[string]string{VersionHeader: "1", "Origin": "http://evil"}, http.StatusForbidden},
		{"ok", map[string]string{VersionHeader: "1"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://x/v1/status", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if resp.Header.Get(VersionHeader) != "1" {
				t.Errorf("answer lacks %s", VersionHeader)
			}
		})
	}
}

func TestNotRunningAndStaleSocket(t *testing.T) {
	dir := shortTemp(t)
	sock := filepath.Join(dir, "faced.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := NewClient(sock).Status(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no socket: err = %v, want ErrNotRunning", err)
	}
	// A socket file nobody listens on (a crashed daemon's) is also "not
	// running", and Listen takes it over.
	ln, _ := net.Listen("unix", sock)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := NewClient(sock).Status(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stale socket: err = %v, want ErrNotRunning", err)
	}
	ln2, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln2.Close()
	if _, err := Listen(sock); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Listen: err = %v, want ErrAlreadyRunning", err)
	}
}
