package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faced/faced/watcher"
)

// withdrawingExporter records the paths whose sidecars the daemon takes back.
type withdrawingExporter struct {
	*fakeExporter
	withdrawn []string
}

func (e *withdrawingExporter) Withdraw(_ context.Context, p string) ([]string, []string, error) {
	e.withdrawn = append(e.withdrawn, p)
	return nil, nil, nil
}

// Rows older faced wrote for paths no longer confined are purged by the
// reconciliation: a link leading out (its sidecars taken back), paths
// through a folder link leading out or back inside (their sidecar is
// outside, or is the real photo's: not touched). The photo itself stays.
func TestReconcilePurgesUnconfinedRows(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "q.jpg"), []byte("faces=2"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := newRig(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r.d.opt.Walk = watcherWalk(watcher.Options{Extensions: []string{".jpg"}, Confine: r.d.opt.Confine})
	ex := &withdrawingExporter{fakeExporter: r.d.deps.Exporter.(*fakeExporter)}
	r.d.deps.Exporter = ex
	real := r.write(t, "sub/p.jpg", "faces=1")
	for link, target := range map[string]string{"IN": filepath.Join(r.dir, "sub"), "OUT": outside,
		"x.jpg": filepath.Join(outside, "q.jpg"), "shadow.jpg": "/etc/shadow"} {
		if err := os.Symlink(target, filepath.Join(r.dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if _, err := r.d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile(real + ".xmp")
	if err != nil {
		t.Fatal(err)
	}
	// The index as older faced left it.
	old := []string{filepath.Join(r.dir, "IN", "p.jpg"), filepath.Join(r.dir, "OUT", "q.jpg"),
		filepath.Join(r.dir, "x.jpg"), filepath.Join(r.dir, "shadow.jpg")}
	r.st.mu.Lock()
	for _, p := range old {
		r.st.files[p] = &memFile{FileRecord: FileRecord{Path: p, State: StateDone, Hash: "34b38d0e"}, faces: 2}
	}
	r.st.mu.Unlock()

	sum, err := r.d.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.st.mu.Lock()
	for _, p := range old {
		if _, ok := r.st.files[p]; ok {
			t.Errorf("%s: still in the index", p)
		}
		if !strings.Contains(logs.String(), "its faces left the index\" file="+p) {
			t.Errorf("%s: no log line", p)
		}
	}
	_, kept := r.st.files[real]
	r.st.mu.Unlock()
	if !kept || sum.Removed != len(old) {
		t.Errorf("the photo inside kept: %v; removed %d, want %d", kept, sum.Removed, len(old))
	}
	if want := slices.Sorted(slices.Values(old[2:])); !slices.Equal(slices.Sorted(slices.Values(ex.withdrawn)), want) {
		t.Errorf("sidecars taken back for %v, want %v (the links leading out only)", ex.withdrawn, want)
	}
	if now, _ := os.ReadFile(real + ".xmp"); !bytes.Equal(now, side) {
		t.Errorf("the real photo's sidecar changed: %q -> %q", side, now)
	}
}
