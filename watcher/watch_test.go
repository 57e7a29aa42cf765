package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	testSettle = 300 * time.Millisecond
	deadline   = 20 * time.Second // generous: the test machine is shared
)

var testExts = []string{".jpg", ".png", ".mov"}

// start runs a watcher on a fresh temporary folder and waits until it is
// watching (the first Rescans value). setup, if set, adjusts the watcher
// before Run.
func start(t *testing.T, opt Options, setup func(*Watcher)) (*Watcher, string) {
	t.Helper()
	root := t.TempDir()
	return startAt(t, root, opt, setup), root
}

func startAt(t *testing.T, root string, opt Options, setup func(*Watcher)) *Watcher {
	t.Helper()
	if opt.SettleTime == 0 {
		opt.SettleTime = testSettle
	}
	if opt.Extensions == nil {
		opt.Extensions = testExts
	}
	w, err := New(root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(deadline):
			t.Error("Run did not return after cancel")
		}
	})
	waitRescan(t, w)
	return w
}

func waitRescan(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case <-w.Rescans():
	case <-time.After(deadline):
		t.Fatal("no rescan request")
	}
}

// next returns the next event, failing the test after the deadline.
func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev := <-w.Events():
		return ev
	case <-time.After(deadline):
		t.Fatal("timed out waiting for an event")
	}
	panic("unreachable")
}

// until collects events until one for path arrives; it returns all of them.
func until(t *testing.T, w *Watcher, path string, op Op) []Event {
	t.Helper()
	var got []Event
	for {
		ev := next(t, w)
		got = append(got, ev)
		if ev.Path == path && ev.Op == op {
			return got
		}
	}
}

// nextError returns the next reported error whose text contains substr.
func nextError(t *testing.T, w *Watcher, substr string) *PathError {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case err := <-w.Errors():
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *PathError", err)
			}
			if strings.Contains(pe.Error(), substr) {
				return pe
			}
		case <-timeout:
			t.Fatalf("timed out waiting for an error mentioning %q", substr)
		}
	}
}

func write(t *testing.T, p string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkChanged(t *testing.T, ev Event, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Path != path || ev.Op != Changed || ev.Size != st.Size() || !ev.ModTime.Equal(st.ModTime()) {
		t.Errorf("got %+v, want Changed %q size %d mtime %v", ev, path, st.Size(), st.ModTime())
	}
}

func TestCreatedFiles(t *testing.T) {
	w, root := start(t, Options{}, nil)
	a := filepath.Join(root, "a.jpg")
	write(t, a, "photo a")
	checkChanged(t, next(t, w), a)

	// Sub-folders created after start, several levels at once (mkdir -p
	// races the watch: the walk of the new folder finds what the events miss).
	deep := filepath.Join(root, "2024", "trip", "day1", "b.JPG")
	write(t, deep, "photo b")
	checkChanged(t, next(t, w), deep)

	// Files created later in the new folders are watched too.
	c := filepath.Join(root, "2024", "trip", "c.png")
	write(t, c, "photo c")
	checkChanged(t, next(t, w), c)

	// A folder moved in with photos inside.
	outside := t.TempDir()
	for _, n := range []string{"x.jpg", "y.jpg", "sub/z.mov"} {
		write(t, filepath.Join(outside, "album", n), "content of "+n)
	}
	if err := os.Rename(filepath.Join(outside, "album"), filepath.Join(root, "album")); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < 3 {
		ev := next(t, w)
		checkChanged(t, ev, ev.Path)
		if got[ev.Path] {
			t.Errorf("%s emitted twice", ev.Path)
		}
		got[ev.Path] = true
	}
	for _, n := range []string{"x.jpg", "y.jpg", "sub/z.mov"} {
		if p := filepath.Join(root, "album", filepath.FromSlash(n)); !got[p] {
			t.Errorf("%s not emitted; got %v", p, got)
		}
	}
}

func TestSlowPartialCopyEmittedOnceComplete(t *testing.T) {
	w, root := start(t, Options{}, nil)
	p := filepath.Join(root, "slow.jpg")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("x", 4096)
	begin := time.Now()
	n := 0
	// Chunks every 30 ms (well under the settle time) for 3 settle times.
	for time.Since(begin) < 3*testSettle {
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		n++
		time.Sleep(30 * time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	barrier := filepath.Join(root, "barrier.jpg")
	write(t, barrier, "b")
	got := until(t, w, barrier, Changed)
	var slow []Event
	for _, ev := range got {
		if ev.Path == p {
			slow = append(slow, ev)
		}
	}
	if len(slow) != 1 {
		t.Fatalf("slow copy emitted %d times, want once: %+v", len(slow), slow)
	}
	if slow[0].Size != int64(n*len(chunk)) {
		t.Errorf("emitted with size %d, want the final %d", slow[0].Size, n*len(chunk))
	}
	checkChanged(t, slow[0], p)
}

func TestRenameAndDelete(t *testing.T) {
	w, root := start(t, Options{}, nil)
	a := filepath.Join(root, "a.jpg")
	write(t, a, "photo a")
	checkChanged(t, next(t, w), a)

	// File rename: Removed for the old path, Changed for the new one.
	b := filepath.Join(root, "b.jpg")
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Path != a || ev.Op != Removed || ev.Dir {
		t.Errorf("got %+v, want Removed %s", ev, a)
	}
	checkChanged(t, next(t, w), b)

	// Folder rename: Removed (Dir) for the old folder, Changed for the files
	// under the new name, which is watched afterwards.
	x := filepath.Join(root, "d", "x.jpg")
	write(t, x, "photo x")
	checkChanged(t, next(t, w), x)
	if err := os.Rename(filepath.Join(root, "d"), filepath.Join(root, "e")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Path != filepath.Join(root, "d") || ev.Op != Removed || !ev.Dir {
		t.Errorf("got %+v, want Removed dir %s", ev, filepath.Join(root, "d"))
	}
	ex := filepath.Join(root, "e", "x.jpg")
	checkChanged(t, next(t, w), ex)
	ey := filepath.Join(root, "e", "y.jpg")
	write(t, ey, "photo y")
	checkChanged(t, next(t, w), ey)

	// Delete.
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Path != b || ev.Op != Removed {
		t.Errorf("got %+v, want Removed %s", ev, b)
	}
	// Deleting a whole folder yields a Removed for it (the daemon drops
	// everything below); events for its files may come first.
	if err := os.RemoveAll(filepath.Join(root, "e")); err != nil {
		t.Fatal(err)
	}
	for _, ev := range until(t, w, filepath.Join(root, "e"), Removed) {
		if ev.Op != Removed {
			t.Errorf("unexpected %+v", ev)
		}
	}
}

func TestIgnoredAndSuppressed(t *testing.T) {
	var hooked atomic.Int32
	opt := Options{
		IgnoreGlobs: []string{"@eaDir", "*.tmp.jpg", "Private/album"},
		Ignore: func(p string) bool {
			if filepath.Base(p) == "skip-me.jpg" {
				hooked.Add(1)
				return true
			}
			return false
		},
	}
	w, root := start(t, opt, nil)
	sup := filepath.Join(root, "own-write.jpg")
	w.Suppress(sup, time.Minute)
	for _, n := range []string{
		".hidden.jpg", ".cache/x.jpg", "a.jpg.xmp", "b.xmp", "notes.txt",
		"@eaDir/thumb.jpg", "deep/@eaDir/t.jpg", "x.tmp.jpg", "Private/album/p.jpg",
		"skip-me.jpg", "own-write.jpg",
	} {
		write(t, filepath.Join(root, filepath.FromSlash(n)), "ignored "+n)
	}
	// Private itself is watched: "Private/album" matches only that folder.
	kept := filepath.Join(root, "Private", "kept.jpg")
	write(t, kept, "kept")
	barrier := filepath.Join(root, "barrier.jpg")
	write(t, barrier, "b")
	got := until(t, w, barrier, Changed)
	for _, ev := range got {
		if ev.Path != barrier && ev.Path != kept {
			t.Errorf("ignored path emitted: %+v", ev)
		}
	}
	if len(got) != 2 {
		t.Errorf("got %d events, want kept.jpg and barrier.jpg: %+v", len(got), got)
	}
	if hooked.Load() == 0 {
		t.Error("Ignore hook never asked")
	}
	// Removing a suppressed file emits nothing either.
	if err := os.Remove(sup); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(barrier); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Path != barrier || ev.Op != Removed {
		t.Errorf("got %+v, want only Removed %s", ev, barrier)
	}
}

func TestBurstEmittedExactlyOnce(t *testing.T) {
	w, root := start(t, Options{}, nil)
	const n = 2000
	want := map[string]bool{}
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("p%04d.jpg", i))
		write(t, p, fmt.Sprintf("photo %d", i))
		want[p] = true
	}
	got := map[string]int{}
	for len(got) < n {
		ev := next(t, w)
		if ev.Op != Changed || !want[ev.Path] {
			t.Fatalf("unexpected %+v", ev)
		}
		got[ev.Path]++
	}
	barrier := filepath.Join(root, "barrier.jpg")
	write(t, barrier, "b")
	for _, ev := range until(t, w, barrier, Changed) {
		if ev.Path != barrier {
			got[ev.Path]++
		}
	}
	for p, c := range got {
		if c != 1 {
			t.Errorf("%s emitted %d times", p, c)
		}
	}
}

func TestSymlinkLoops(t *testing.T) {
	w, root := start(t, Options{}, nil)
	self := filepath.Join(root, "loop.jpg")
	if err := os.Symlink("loop.jpg", self); err != nil {
		t.Fatal(err)
	}
	if pe := nextError(t, w, "symbolic link loop"); pe.Path != self {
		t.Errorf("loop reported for %q, want %q", pe.Path, self)
	}
	sub := filepath.Join(root, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	up := filepath.Join(sub, "up")
	if err := os.Symlink("..", up); err != nil {
		t.Fatal(err)
	}
	if pe := nextError(t, w, "contains it"); pe.Path != up {
		t.Errorf("ancestor loop reported for %q, want %q", pe.Path, up)
	}
	// A link to a photo is followed; the watcher is still working.
	photo := filepath.Join(root, "real.jpg")
	write(t, photo, "real")
	link := filepath.Join(sub, "link.jpg")
	if err := os.Symlink(photo, link); err != nil {
		t.Fatal(err)
	}
	got := map[string]Event{}
	for len(got) < 2 {
		ev := next(t, w)
		got[ev.Path] = ev
	}
	checkChanged(t, got[photo], photo)
	checkChanged(t, got[link], link)

	// The reconciliation walk terminates and reports both loops.
	var errs []string
	var seen []string
	err := Walk(context.Background(), root, Options{Extensions: testExts, OnError: func(err error) {
		errs = append(errs, err.Error())
	}}, func(p string, info fs.FileInfo) error {
		seen = append(seen, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != photo+","+link {
		t.Errorf("walk saw %q", seen)
	}
	if len(errs) != 2 || !strings.Contains(strings.Join(errs, "\n"), "loop.jpg") || !strings.Contains(strings.Join(errs, "\n"), "contains it") {
		t.Errorf("walk errors %q", errs)
	}
}

func TestOddNames(t *testing.T) {
	w, root := start(t, Options{}, nil)
	names := []string{"new\nline.jpg", "bad\xff\xfeutf8.jpg", "tab\tand space .jpg", "ünïcödé.JPG"}
	want := map[string]bool{}
	for _, n := range names {
		p := filepath.Join(root, n)
		write(t, p, n)
		want[p] = true
	}
	for len(want) > 0 {
		ev := next(t, w)
		if !want[ev.Path] {
			t.Fatalf("unexpected %+v", ev)
		}
		checkChanged(t, ev, ev.Path)
		delete(want, ev.Path)
	}
}

func TestOverflowRewatchesAndRescans(t *testing.T) {
	w, root := start(t, Options{}, nil)
	sub := filepath.Join(root, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(sub, "first.jpg")
	write(t, first, "first")
	checkChanged(t, next(t, w), first)

	// Lose the watch on sub behind the watcher's back, as lost events would.
	if err := w.fsw.Remove(sub); err != nil {
		t.Fatal(err)
	}
	select {
	case w.inject <- fsnotify.ErrEventOverflow:
	case <-time.After(deadline):
		t.Fatal("could not inject the overflow")
	}
	waitRescan(t, w)
	// The overflow re-synced the watches: sub is watched again.
	second := filepath.Join(sub, "second.jpg")
	write(t, second, "second")
	checkChanged(t, next(t, w), second)
}

func TestWatchLimitRetried(t *testing.T) {
	var fails atomic.Int32
	var limited string
	w, root := start(t, Options{}, func(w *Watcher) {
		w.retryBase = 50 * time.Millisecond
		limited = filepath.Join(w.root, "limited")
		add := w.addWatch
		w.addWatch = func(p string) error {
			if p == limited && fails.Add(1) <= 2 {
				return syscall.ENOSPC // what inotify_add_watch returns at max_user_watches
			}
			return add(p)
		}
	})
	// The folder arrives with a photo inside (moved in, so the photo is
	// there before the watcher sees the folder).
	outside := t.TempDir()
	write(t, filepath.Join(outside, "limited", "inside.jpg"), "inside")
	if err := os.Rename(filepath.Join(outside, "limited"), limited); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(limited, "inside.jpg")
	_ = root
	pe := nextError(t, w, "watch limit")
	if pe.Path != limited || !errors.Is(pe, syscall.ENOSPC) {
		t.Errorf("got %v, want ENOSPC for %s", pe, limited)
	}
	// The file already inside is found by the walk of the new folder.
	checkChanged(t, next(t, w), inside)
	// A rescan is requested, and the watch is retried until it works.
	waitRescan(t, w)
	for stop := time.Now().Add(deadline); fails.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(stop) {
			t.Fatalf("watch retried %d times, want 3", fails.Load())
		}
	}
	later := filepath.Join(limited, "later.jpg")
	write(t, later, "later")
	checkChanged(t, next(t, w), later)
}

func TestRootDisappearsAndReturns(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "lib")
	write(t, filepath.Join(root, "a.jpg"), "a")
	w := startAt(t, root, Options{}, func(w *Watcher) { w.retryBase = 50 * time.Millisecond })
	if err := os.Rename(root, filepath.Join(parent, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	if pe := nextError(t, w, "disappeared"); pe.Path != root {
		t.Errorf("got %v", pe)
	}
	if err := os.Rename(filepath.Join(parent, "elsewhere"), root); err != nil {
		t.Fatal(err)
	}
	waitRescan(t, w)
	b := filepath.Join(root, "b.jpg")
	write(t, b, "b")
	// No Removed for the library's files: a vanished root is not a deletion.
	for _, ev := range until(t, w, b, Changed) {
		if ev.Op == Removed {
			t.Errorf("unexpected %+v", ev)
		}
	}
}

func TestUnreadableFolderReported(t *testing.T) {
	var denied string
	w, root := start(t, Options{}, func(w *Watcher) {
		denied = filepath.Join(w.root, "denied")
		rd := w.readDir
		w.readDir = func(p string) ([]fs.DirEntry, error) {
			if p == denied {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
			}
			return rd(p)
		}
	})
	write(t, filepath.Join(denied, "x.jpg"), "x")
	pe := nextError(t, w, "cannot read folder")
	if pe.Path != denied || !errors.Is(pe, fs.ErrPermission) {
		t.Errorf("got %v", pe)
	}
	ok := filepath.Join(root, "ok.jpg")
	write(t, ok, "ok")
	for _, ev := range until(t, w, ok, Changed) {
		if ev.Path != ok && ev.Path != filepath.Join(denied, "x.jpg") {
			t.Errorf("unexpected %+v", ev)
		}
	}
}

func TestRealUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions are not enforced (TestUnreadableFolderReported injects the failure instead)")
	}
	root := t.TempDir()
	denied := filepath.Join(root, "denied")
	write(t, filepath.Join(denied, "x.jpg"), "x")
	write(t, filepath.Join(root, "ok.jpg"), "ok")
	if err := os.Chmod(denied, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(denied, 0o755) })
	var errs []error
	var seen []string
	err := Walk(context.Background(), root, Options{OnError: func(err error) { errs = append(errs, err) }},
		func(p string, _ fs.FileInfo) error { seen = append(seen, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || len(errs) != 1 || !errors.Is(errs[0], fs.ErrPermission) {
		t.Errorf("seen %q, errors %v", seen, errs)
	}
	w := startAt(t, root, Options{}, nil)
	if pe := nextError(t, w, "permission denied"); pe.Path != denied {
		t.Errorf("got %v", pe)
	}
}

func TestNewAndRunErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	write(t, f, "x")
	if _, err := New(f, Options{}); err == nil {
		t.Error("New on a file: no error")
	}
	if _, err := New(filepath.Join(t.TempDir(), "absent"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New on a missing folder: %v", err)
	}
	if _, err := New(t.TempDir(), Options{IgnoreGlobs: []string{"[x"}}); err == nil {
		t.Error("bad glob: no error")
	}
	w, _ := start(t, Options{}, nil)
	if err := w.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}
