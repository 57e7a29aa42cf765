package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestStartWalksTreeOnce: a start walks the input folder once. The
// watcher's start-up rescan request (watches in place) is answered by the
// start-up reconciliation, not by a second walk.
func TestStartWalksTreeOnce(t *testing.T) {
	var walks atomic.Int32
	var r *rig
	r = newRig(t, Options{Walk: func(ctx context.Context, root string, fn func(string) error) error {
		if root == r.dir {
			walks.Add(1)
		}
		return DefaultWalk(ctx, root, fn)
	}})
	a := r.write(t, "a.jpg", "faces=1")
	r.start(t)
	waitFor(t, "a.jpg's sidecar", func() bool { return sidecar(a) != "" })
	time.Sleep(300 * time.Millisecond) // a second walk would come now
	if n := walks.Load(); n != 1 {
		t.Errorf("the start walked the tree %d times, want 1", n)
	}
}
