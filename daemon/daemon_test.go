package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/face"
)

// fakeAnalyzer reads "faces=N" files; "bad..." files fail; "block" files
// wait for cancellation.
type fakeAnalyzer struct {
	calls   atomic.Int64
	started chan string
}

func (a *fakeAnalyzer) Analyze(ctx context.Context, p string) (*face.Result, error) {
	a.calls.Add(1)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	s := string(b)
	switch {
	case strings.HasPrefix(s, "block"):
		if a.started != nil {
			a.started <- p
		}
		<-ctx.Done()
		return nil, ctx.Err()
	case strings.HasPrefix(s, "faces="):
		n, err := strconv.Atoi(strings.TrimSpace(s[6:]))
		if err != nil {
			return nil, fmt.Errorf("not a photo: %w", err)
		}
		return &face.Result{File: p, Kind: face.KindPhoto, Faces: make([]face.Face, n)}, nil
	}
	return nil, errors.New("not a photo: unknown format")
}

type fakeClusterer struct {
	calls atomic.Int64
	full  atomic.Bool // fail as on a full data disk
}

func (c *fakeClusterer) Update(context.Context) error {
	c.calls.Add(1)
	if c.full.Load() {
		return fmt.Errorf("assign faces: %w", errMemFull)
	}
	return nil
}

// fakeExporter writes "<photo>.xmp" with the face count; it refuses to
// overwrite a sidecar that says "corrupt", and fails as on a full disk
// while full is set.
type fakeExporter struct {
	st   *memStore
	full *atomic.Bool
}

func (e *fakeExporter) Export(_ context.Context, p string) error {
	if e.full != nil && e.full.Load() {
		return &os.PathError{Op: "write", Path: p + ".xmp.tmp", Err: syscall.ENOSPC}
	}
	old, err := os.ReadFile(p + ".xmp")
	if err == nil && bytes.HasPrefix(old, []byte("corrupt")) {
		return errors.New("existing sidecar is not valid XMP")
	}
	e.st.mu.Lock()
	f, ok := e.st.files[p]
	n := 0
	if ok {
		n = f.faces
	}
	e.st.mu.Unlock()
	if !ok {
		return errors.New("not in index")
	}
	return os.WriteFile(p+".xmp", []byte(fmt.Sprintf("faces: %d\n", n)), 0o644)
}

type fakeWatcher struct {
	events  chan Event
	rescans chan struct{}
}

// Run asks for the start-up rescan, as the real watcher does once its
// watches are in place, then waits.
func (w *fakeWatcher) Run(ctx context.Context) error {
	select {
	case w.rescans <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil
}
func (w *fakeWatcher) Events() <-chan Event     { return w.events }
func (w *fakeWatcher) Rescans() <-chan struct{} { return w.rescans }

type rig struct {
	dir string
	st  *memStore
	an  *fakeAnalyzer
	cl  *fakeClusterer
	w   *fakeWatcher
	d   *Daemon
	// libFull makes sidecar writes fail as on a full library disk.
	libFull atomic.Bool
}

func newRig(t *testing.T, opt Options) *rig {
	t.Helper()
	r := &rig{dir: t.TempDir(), st: newMemStore(), an: &fakeAnalyzer{}, cl: &fakeClusterer{},
		w: &fakeWatcher{events: make(chan Event, 16), rescans: make(chan struct{}, 1)}}
	if opt.InputDirectory == "" {
		opt.InputDirectory = r.dir
	}
	if opt.Workers == 0 {
		opt.Workers = 2
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.RemoveGrace == 0 {
		opt.RemoveGrace = 50 * time.Millisecond
	}
	if opt.BatchDelay == 0 {
		opt.BatchDelay = 50 * time.Millisecond
	}
	d, err := New(opt, Deps{Store: r.st, Analyzer: r.an, Clusterer: r.cl, Exporter: &fakeExporter{r.st, &r.libFull}, Watcher: r.w})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	return r
}

// TestStopDuringStartIsClean: a SIGTERM (ctx cancelled) while the queue's
// leases are being recovered at start is a clean stop, as it is later: Run
// returns nil (the service manager and `faced run` exit 0). faced exited 1
// with "recover queue: ... context canceled" when stopped within ms of its
// start (cmd/faced TestFreshDataDirectoryStarts, seen in CI).
func TestStopDuringStartIsClean(t *testing.T) {
	for _, once := range []bool{false, true} {
		r := newRig(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var err error
		if once {
			_, err = r.d.RunOnce(ctx)
		} else {
			err = r.d.Run(ctx)
		}
		if err != nil {
			t.Errorf("once=%v: stopped at start: %v, want nil", once, err)
		}
	}
}

func (r *rig) write(t *testing.T, rel, content string) string {
	t.Helper()
	p := filepath.Join(r.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *rig) start(t *testing.T) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sidecar(p string) string {
	b, err := os.ReadFile(p + ".xmp")
	if err != nil {
		return ""
	}
	return string(b)
}

func TestRunOnce(t *testing.T) {
	r := newRig(t, Options{})
	a := r.write(t, "a.jpg", "faces=2")
	b := r.write(t, "sub/b.JPG", "faces=0")
	bad := r.write(t, "bad.jpg", "text, not a photo")
	empty := r.write(t, "empty.jpg", "")
	r.write(t, ".hidden.jpg", "faces=1")
	r.write(t, "notes.txt", "faces=1")
	sum, err := r.d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Seen != 4 || sum.Queued != 4 || sum.Analysed != 2 || sum.Failed != 2 || sum.Exported != 2 || sum.Faces != 2 {
		t.Errorf("summary = %+v", sum)
	}
	if sidecar(a) != "faces: 2\n" || sidecar(b) != "faces: 0\n" {
		t.Errorf("sidecars: a=%q b=%q", sidecar(a), sidecar(b))
	}
	for _, p := range []string{bad, empty} {
		if _, err := os.Stat(p + ".xmp"); err == nil {
			t.Errorf("a sidecar was written for bad input %s", p)
		}
	}
	reasons := map[string]string{}
	for _, e := range sum.Errors {
		reasons[e.Path] = e.Reason
	}
	if !strings.Contains(reasons[bad], "not a photo") || !strings.Contains(reasons[empty], "empty") {
		t.Errorf("reasons = %q", reasons)
	}
	if r.cl.calls.Load() == 0 {
		t.Error("clustering never ran")
	}

	// A second run finds nothing to do and analyses nothing again.
	calls := r.an.calls.Load()
	r2 := &rig{dir: r.dir, st: r.st, an: r.an, cl: r.cl, w: r.w}
	d2, _ := New(r.d.opt, Deps{Store: r.st, Analyzer: r.an, Clusterer: r.cl, Exporter: &fakeExporter{st: r.st}})
	r2.d = d2
	sum, err = d2.RunOnce(context.Background())
	if err != nil || sum.Queued != 0 || r.an.calls.Load() != calls {
		t.Errorf("second run: %+v, %v; analyses %d -> %d", sum, err, calls, r.an.calls.Load())
	}
}

func TestWatchRenameDelete(t *testing.T) {
	r := newRig(t, Options{})
	a := r.write(t, "a.jpg", "faces=1")
	r.start(t)
	waitFor(t, "first sidecar", func() bool { return sidecar(a) == "faces: 1\n" })

	// New file in a new folder, announced by the watcher.
	b := r.write(t, "new/dir/b.jpg", "faces=3")
	r.w.events <- Event{Path: filepath.Join(r.dir, "new")}
	waitFor(t, "sidecar of the file in the new folder", func() bool { return sidecar(b) == "faces: 3\n" })

	// Rename: faces kept, no new analysis, old entry leaves the index.
	calls := r.an.calls.Load()
	c := filepath.Join(r.dir, "renamed.jpg")
	if err := os.Rename(a, c); err != nil {
		t.Fatal(err)
	}
	r.w.events <- Event{Path: a, Removed: true}
	r.w.events <- Event{Path: c}
	waitFor(t, "sidecar of the renamed file", func() bool { return sidecar(c) == "faces: 1\n" })
	waitFor(t, "old name leaves the index", func() bool { _, ok, _ := r.st.File(context.Background(), a); return !ok })
	if n := r.an.calls.Load(); n != calls {
		t.Errorf("rename analysed the file again (%d analyses, want %d)", n, calls)
	}

	// Delete: faces leave the index, the sidecar stays.
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	r.w.events <- Event{Path: b, Removed: true}
	waitFor(t, "deleted file leaves the index", func() bool { _, ok, _ := r.st.File(context.Background(), b); return !ok })
	if sidecar(b) == "" {
		t.Error("the sidecar of a deleted photo was removed")
	}

	// Content change under the same name: analysed again.
	r.write(t, "renamed.jpg", "faces=2")
	r.w.events <- Event{Path: c}
	waitFor(t, "updated sidecar", func() bool { return sidecar(c) == "faces: 2\n" })

	// A touch (same content, new mtime) is not analysed again.
	calls = r.an.calls.Load()
	later := time.Now().Add(time.Hour)
	os.Chtimes(c, later, later)
	r.w.events <- Event{Path: c}
	waitFor(t, "mtime recorded", func() bool {
		f, _, _ := r.st.File(context.Background(), c)
		return f.ModTime.Equal(later)
	})
	if n := r.an.calls.Load(); n != calls {
		t.Errorf("touch analysed the file again")
	}
}

func TestShutdownRequeuesInFlight(t *testing.T) {
	r := newRig(t, Options{Workers: 2, ShutdownTimeout: time.Second})
	r.an.started = make(chan string, 4)
	for i := range 5 {
		r.write(t, fmt.Sprintf("p%d.jpg", i), "block")
	}
	stop := r.start(t)
	<-r.an.started
	<-r.an.started
	waitFor(t, "all five queued", func() bool { st, _ := r.st.Stats(context.Background()); return st.Queue == 5 })
	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > time.Second {
		t.Errorf("shutdown took %v, budget 1 s", took)
	}
	st, _ := r.st.Stats(context.Background())
	if st.Queue != 5 || st.Done+st.Failed != 0 {
		t.Errorf("after shutdown: %+v, want all 5 still queued", st)
	}
	if n, _, _ := r.st.RecoverLeases(context.Background(), 0); n != 0 {
		t.Errorf("%d jobs left leased, want all released", n)
	}
}

func TestStatusScanRetryAPI(t *testing.T) {
	r := newRig(t, Options{})
	bad := r.write(t, "x/bad.jpg", "bad")
	sockDir, _ := os.MkdirTemp("", "dmn")
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "faced.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := r.d.ServeAPI(ctx, sock); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	cl := api.NewClient(sock)
	waitFor(t, "failure in status", func() bool {
		st, err := cl.Status(ctx)
		return err == nil && st.Files.Failed == 1
	})
	st, _ := cl.Status(ctx)
	if !st.Running || len(st.Errors) != 1 || st.Errors[0].File != bad || !strings.Contains(st.Errors[0].Reason, "not a photo") {
		t.Errorf("status = %+v", st)
	}
	// A file the watcher missed is found by an explicit scan.
	good := r.write(t, "x/good.jpg", "faces=1")
	res, err := cl.Scan(ctx, "x")
	if err != nil || res.Queued != 1 || res.Seen != 2 {
		t.Errorf("scan = %+v, %v", res, err)
	}
	waitFor(t, "scanned file exported", func() bool { return sidecar(good) == "faces: 1\n" })
	if _, err := cl.Scan(ctx, "../.."); err == nil {
		t.Error("a scan outside the input folder was accepted")
	}
	// Fix the bad file, retry.
	os.WriteFile(bad, []byte("faces=4"), 0o644)
	rr, err := cl.Retry(ctx)
	if err != nil || rr.Requeued != 1 {
		t.Errorf("retry = %+v, %v", rr, err)
	}
	waitFor(t, "retried file exported", func() bool { return sidecar(bad) == "faces: 4\n" })
	st, _ = cl.Status(ctx)
	if st.Files.Done != 2 || st.Files.Failed != 0 || st.Faces != 5 || st.Queue != 0 {
		t.Errorf("final status = %+v", st)
	}
}

func TestCorruptSidecarAndRestart(t *testing.T) {
	r := newRig(t, Options{})
	a := r.write(t, "a.jpg", "faces=1")
	b := r.write(t, "b.jpg", "faces=1")
	os.WriteFile(b+".xmp", []byte("corrupt<<"), 0o644)
	// A job leased by a run that crashed is recovered.
	r.st.Enqueue(context.Background(), a, "new")
	r.st.Lease(context.Background(), 1)
	sum, err := r.d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sidecar(a) != "faces: 1\n" || sidecar(b) != "corrupt<<" {
		t.Errorf("sidecars a=%q b=%q", sidecar(a), sidecar(b))
	}
	if sum.ExportFailed != 1 || len(sum.Errors) != 1 || sum.Errors[0].Path != b {
		t.Errorf("summary = %+v", sum)
	}
	if r.st.analyses(a) != 1 {
		t.Errorf("a analysed %d times", r.st.analyses(a))
	}
}

func TestFolderRenameAndRemoval(t *testing.T) {
	r := newRig(t, Options{})
	a := r.write(t, "trip/a.jpg", "faces=1")
	b := r.write(t, "trip/day2/b.jpg", "faces=2")
	r.start(t)
	waitFor(t, "first sidecars", func() bool { return sidecar(a) != "" && sidecar(b) != "" })
	calls := r.an.calls.Load()

	// A renamed folder: its files keep their faces, none is analysed again.
	from, to := filepath.Join(r.dir, "trip"), filepath.Join(r.dir, "holiday")
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
	r.w.events <- Event{Path: from, Removed: true}
	r.w.events <- Event{Path: to}
	a2, b2 := filepath.Join(to, "a.jpg"), filepath.Join(to, "day2", "b.jpg")
	waitFor(t, "the moved files in the index", func() bool {
		_, ok1, _ := r.st.File(context.Background(), a2)
		_, ok2, _ := r.st.File(context.Background(), b2)
		_, old, _ := r.st.File(context.Background(), a)
		return ok1 && ok2 && !old
	})
	if n := r.an.calls.Load(); n != calls {
		t.Errorf("a folder rename caused %d analyses", n-calls)
	}
	if st, _ := r.st.Stats(context.Background()); st.Faces != 3 || st.Done != 2 {
		t.Errorf("after the folder rename: %+v", st)
	}

	// A removed folder: every file below leaves the index. (The moved
	// files' sidecars are written first: a removal racing those writes
	// fails with "directory not empty", as rm -r would.)
	waitFor(t, "the moved files' sidecars", func() bool { return sidecar(a2) != "" && sidecar(b2) != "" })
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	r.w.events <- Event{Path: to, Removed: true}
	waitFor(t, "the removed folder's files to leave the index", func() bool {
		st, _ := r.st.Stats(context.Background())
		return st.Done == 0 && st.Faces == 0
	})
}
