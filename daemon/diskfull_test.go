package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faced/faced/api"
)

// fastRetry: backoff short enough for tests.
var fastRetry = Options{RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}

func problem(st api.Status, kind string) (api.Problem, bool) {
	for _, p := range st.Problems {
		if p.Kind == kind {
			return p, true
		}
	}
	return api.Problem{}, false
}

func status(t *testing.T, d *Daemon) api.Status {
	t.Helper()
	st, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// New photos that arrive while the data disk is full are kept (not dropped
// with a warning), counted as pending, and shown as "data disk full"; when
// space returns they are all analysed once, with no restart and no command.
func TestDataDiskFullKeepsNewFiles(t *testing.T) {
	r := newRig(t, fastRetry)
	first := r.write(t, "first.jpg", "faces=1")
	r.start(t)
	waitFor(t, "the first sidecar", func() bool { return sidecar(first) == "faces: 1\n" })

	r.st.full.Store(true)
	var paths []string
	for i := range 12 {
		p := r.write(t, fmt.Sprintf("new/p%02d.jpg", i), fmt.Sprintf("faces=%d", i%3))
		paths = append(paths, p)
		r.w.events <- Event{Path: p}
	}
	waitFor(t, "status to show the full data disk with 12 files", func() bool {
		p, ok := problem(status(t, r.d), ProblemDataDiskFull)
		return ok && p.Count == 12
	})
	st := status(t, r.d)
	if st.Files.Pending != 12 || st.Queue != 12 || st.Idle {
		t.Errorf("while full: pending %d, queue %d, idle %v; want 12, 12, false", st.Files.Pending, st.Queue, st.Idle)
	}
	p, _ := problem(st, ProblemDataDiskFull)
	t.Logf("while full: %s (error %q)", p.Message, p.Error)
	time.Sleep(300 * time.Millisecond) // several retries fail
	r.st.full.Store(false)
	for i, p := range paths {
		want := fmt.Sprintf("faces: %d\n", i%3)
		waitFor(t, "the sidecar of "+filepath.Base(p), func() bool { return sidecar(p) == want })
		if n := r.st.analyses(p); n != 1 {
			t.Errorf("%s analysed %d times, want 1", p, n)
		}
	}
	waitFor(t, "the problem to clear", func() bool { return len(status(t, r.d).Problems) == 0 })
}

// Analyses that end while the data disk is full keep their results and
// leases; when space returns the results are stored (no second analysis)
// and no lease stays held.
func TestDataDiskFullStoresResultsLater(t *testing.T) {
	var r *rig
	var fill atomic.Bool
	opt := fastRetry
	opt.OnAnalyzed = func(string, error) {
		if fill.CompareAndSwap(true, false) {
			r.st.full.Store(true) // the disk fills while analyses run
		}
	}
	r = newRig(t, opt)
	var paths []string
	for i := range 8 {
		paths = append(paths, r.write(t, fmt.Sprintf("p%d.jpg", i), "faces=1"))
	}
	fill.Store(true)
	r.start(t)
	waitFor(t, "status to show results waiting on the full data disk", func() bool {
		p, ok := problem(status(t, r.d), ProblemDataDiskFull)
		return ok && p.Count > 0
	})
	time.Sleep(300 * time.Millisecond)
	p, _ := problem(status(t, r.d), ProblemDataDiskFull)
	t.Logf("while full: %s", p.Message)
	r.st.full.Store(false)
	for _, p := range paths {
		waitFor(t, "the sidecar of "+filepath.Base(p), func() bool { return sidecar(p) == "faces: 1\n" })
		if n := r.st.analyses(p); n != 1 {
			t.Errorf("%s stored %d analyses, want 1", p, n)
		}
	}
	waitFor(t, "idle", func() bool { return status(t, r.d).Idle })
	if n, _, _ := r.st.RecoverLeases(context.Background(), 0); n != 0 {
		t.Errorf("%d leases still held after space returned", n)
	}
	if c := r.an.calls.Load(); c != int64(len(paths)) {
		t.Errorf("%d analyses for %d files", c, len(paths))
	}
}

// Clustering that fails (full data disk) is an error in status and is
// retried with backoff until it works, without new files.
func TestClusteringFailureShownAndRetried(t *testing.T) {
	opt := fastRetry
	opt.PollInterval = time.Hour
	r := newRig(t, opt)
	r.cl.full.Store(true)
	r.write(t, "a.jpg", "faces=1")
	r.start(t)
	waitFor(t, "status to show failing clustering", func() bool {
		p, ok := problem(status(t, r.d), ProblemClustering)
		return ok && p.Count >= 2
	})
	p, _ := problem(status(t, r.d), ProblemClustering)
	t.Logf("while failing: %s", p.Message)
	calls := r.cl.calls.Load()
	r.cl.full.Store(false)
	waitFor(t, "clustering to work again", func() bool {
		_, ok := problem(status(t, r.d), ProblemClustering)
		return !ok && r.cl.calls.Load() > calls
	})
}

// Sidecars that fail on a full library disk are counted as failing in
// status (not "done, 0 failed") and written by the backoff retry once
// space returns, with no command.
func TestLibraryDiskFullSidecarsRetriedByTime(t *testing.T) {
	r := newRig(t, fastRetry)
	r.libFull.Store(true)
	var paths []string
	for i := range 10 {
		paths = append(paths, r.write(t, fmt.Sprintf("p%d.jpg", i), "faces=2"))
	}
	r.start(t)
	waitFor(t, "status to show 10 failing sidecars", func() bool {
		st := status(t, r.d)
		p, ok := problem(st, ProblemSidecarWrites)
		return ok && p.Count == 10 && st.Files.SidecarFailed == 10 && st.Files.Done == 10
	})
	p, _ := problem(status(t, r.d), ProblemSidecarWrites)
	t.Logf("while full: %s (error %q)", p.Message, p.Error)
	time.Sleep(300 * time.Millisecond)
	r.libFull.Store(false)
	for _, p := range paths {
		waitFor(t, "the sidecar of "+filepath.Base(p), func() bool { return sidecar(p) == "faces: 2\n" })
	}
	waitFor(t, "the problem to clear", func() bool {
		st := status(t, r.d)
		return len(st.Problems) == 0 && st.Files.SidecarFailed == 0 && len(st.Errors) == 0
	})
}

// With a long backoff, retry and a scan of the folder write the failed
// sidecars at once.
func TestFailedSidecarsRetryAndScan(t *testing.T) {
	r := newRig(t, Options{RetryMin: time.Hour, RetryMax: time.Hour})
	r.libFull.Store(true)
	a := r.write(t, "a/p.jpg", "faces=1")
	b := r.write(t, "b/p.jpg", "faces=3")
	r.start(t)
	waitFor(t, "2 failing sidecars", func() bool {
		p, ok := problem(status(t, r.d), ProblemSidecarWrites)
		return ok && p.Count == 2
	})
	r.libFull.Store(false)
	if _, err := r.d.Scan(context.Background(), api.ScanRequest{Path: "a"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sidecar of the scanned folder", func() bool { return sidecar(a) == "faces: 1\n" })
	if sidecar(b) != "" {
		t.Errorf("a scan of a/ wrote b's sidecar")
	}
	res, err := r.d.Retry(context.Background())
	if err != nil || res.Sidecars != 1 {
		t.Errorf("retry = %+v, %v; want 1 sidecar", res, err)
	}
	waitFor(t, "the sidecar written by retry", func() bool { return sidecar(b) == "faces: 3\n" })
}

// More new files than MaxHeld arrive while the data disk is full: those
// beyond it are found by the rescan that follows recovery.
func TestDataDiskFullBeyondMaxHeld(t *testing.T) {
	opt := fastRetry
	opt.MaxHeld = 3
	r := newRig(t, opt)
	r.start(t)
	waitFor(t, "the start-up scan", func() bool { st := status(t, r.d); return !st.LastScan.IsZero() && st.Idle })
	r.st.full.Store(true)
	var paths []string
	for i := range 8 {
		p := r.write(t, fmt.Sprintf("p%d.jpg", i), "faces=1")
		paths = append(paths, p)
		r.w.events <- Event{Path: p}
	}
	waitFor(t, "status to show 3 held and a rescan to follow", func() bool {
		p, ok := problem(status(t, r.d), ProblemDataDiskFull)
		return ok && p.Count == 3 && strings.Contains(p.Message, "5 more changes than memory holds: a full rescan follows")
	})
	r.st.full.Store(false)
	for _, p := range paths {
		waitFor(t, "the sidecar of "+filepath.Base(p), func() bool { return sidecar(p) == "faces: 1\n" })
		if n := r.st.analyses(p); n != 1 {
			t.Errorf("%s analysed %d times, want 1", p, n)
		}
	}
}
