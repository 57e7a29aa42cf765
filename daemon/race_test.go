package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faced/faced/api"
)

// scanWithin runs a scan of rel and fails the test when it does not return
// within d (a scan hung on the reconciliation lock never returns).
func scanWithin(t *testing.T, dm *Daemon, rel string, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := dm.Scan(context.Background(), api.ScanRequest{Path: rel})
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("scan of %s did not return within %v (deadlock on the reconciliation lock?)", rel, d)
	}
}

// A path the walk reports as a file but which is a folder by the time it
// is looked at (a user replacing a photo by a folder of the same name) is
// walked as a folder; the scan does not wait on its own lock.
func TestScanPathTurnedFolderDuringWalk(t *testing.T) {
	r := newRig(t, Options{})
	flip := r.write(t, "flip.jpg", "faces=1")
	inner := filepath.Join(flip, "inner.jpg")
	r.d.opt.Walk = func(ctx context.Context, root string, fn func(string) error) error {
		if root != flip {
			return DefaultWalk(ctx, root, fn)
		}
		// The walk saw a file; then the path became a folder.
		if fi, err := os.Lstat(flip); err == nil && !fi.IsDir() {
			os.Remove(flip)
			os.Mkdir(flip, 0o755)
			os.WriteFile(inner, []byte("faces=2"), 0o644)
			return fn(flip)
		}
		return DefaultWalk(ctx, root, fn)
	}
	r.start(t)
	scanWithin(t, r.d, "flip.jpg", 5*time.Second)
	// Later scans still run, and status does not say scanning for good.
	scanWithin(t, r.d, "", 5*time.Second)
	if st, err := r.d.Status(context.Background()); err != nil || st.Scanning {
		t.Errorf("after the scans: scanning=%v, err=%v", st.Scanning, err)
	}
	waitFor(t, "the file inside the new folder analysed", func() bool { return sidecar(inner) == "faces: 2\n" })
}

// A path flipping between file and folder while scans, rescans and watcher
// events look at it (run with -race): every scan returns, the watcher's
// events keep being served, and nothing stays "scanning".
func TestScanPathFlippingFileFolder(t *testing.T) {
	r := newRig(t, Options{})
	r.write(t, "keep.jpg", "faces=1")
	flip := filepath.Join(r.dir, "flip.jpg")
	r.start(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flips atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.RemoveAll(flip)
			if i%2 == 0 {
				os.WriteFile(flip, []byte("faces=1"), 0o644)
			} else {
				os.Mkdir(flip, 0o755)
				os.WriteFile(filepath.Join(flip, "x.jpg"), []byte("faces=1"), 0o644)
			}
			flips.Add(1)
		}
	}()
	deadline := time.Now().Add(1500 * time.Millisecond)
	scans := 0
	for time.Now().Before(deadline) {
		scanWithin(t, r.d, "flip.jpg", 5*time.Second)
		scans++
		select {
		case r.w.events <- Event{Path: flip}:
		default:
		}
		select {
		case r.w.rescans <- struct{}{}:
		default:
		}
	}
	close(stop)
	wg.Wait()
	os.RemoveAll(flip)
	scanWithin(t, r.d, "", 5*time.Second)
	// The watcher's events are still served.
	b := r.write(t, "late.jpg", "faces=3")
	r.w.events <- Event{Path: b}
	waitFor(t, "a file announced after the flipping", func() bool { return sidecar(b) == "faces: 3\n" })
	waitFor(t, "scanning to end", func() bool {
		st, err := r.d.Status(context.Background())
		return err == nil && !st.Scanning
	})
	t.Logf("%d scans while the path flipped %d times", scans, flips.Load())
}

// A long reconciliation (a large library, a slow disk) does not stop the
// watcher's events from being served: a photo announced while the start-up
// scan still walks gets its sidecar.
func TestWatcherServedDuringLongScan(t *testing.T) {
	r := newRig(t, Options{})
	r.write(t, "old.jpg", "faces=1")
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	r.d.opt.Walk = func(ctx context.Context, root string, fn func(string) error) error {
		if root == r.dir {
			select { // the walk of the whole library takes its time
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return DefaultWalk(ctx, root, fn)
	}
	r.start(t)
	waitFor(t, "the scan to start", func() bool { return status(t, r.d).Scanning })
	b := r.write(t, "new.jpg", "faces=2")
	sent := make(chan struct{})
	go func() {
		for range 40 { // more than the watcher's channel holds
			r.w.events <- Event{Path: b}
		}
		close(sent)
	}()
	waitFor(t, "the announced photo's sidecar while the scan runs", func() bool { return sidecar(b) == "faces: 2\n" })
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher's events are not read while a scan runs")
	}
	once.Do(func() { close(release) })
	waitFor(t, "the scan to end", func() bool { return !status(t, r.d).Scanning })
}
