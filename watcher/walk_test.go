package watcher

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMatcher(t *testing.T) {
	root := filepath.FromSlash("/lib")
	m, err := newMatcher(root, Options{
		IgnoreGlobs: []string{"@eaDir", "*.part", "Private/album", " ", "a/*/c"},
		Ignore:      func(p string) bool { return filepath.Base(p) == "hook.jpg" },
		Extensions:  []string{".JPG", "png", " .mov "},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel            string
		ignored, media bool
	}{
		{"x.jpg", false, true},
		{"X.JPG", false, true},
		{"x.Png", false, true},
		{"clip.mov", false, true},
		{"x.jpg.xmp", false, false},
		{"x.XMP", false, false},
		{"notes.txt", false, false},
		{"noext", false, false},
		{".x.jpg", true, true},
		{".thumbs/x.jpg", true, true},
		{"d/.git/x.jpg", true, true},
		{"@eaDir", true, false},
		{"d/@eaDir/x.jpg", true, true},
		{"big.jpg.part", true, false},
		{"Private/album", true, false},
		{"Private/album/x.jpg", true, true},
		{"Private/other.jpg", false, true},
		{"d/Private/album/x.jpg", false, true},
		{"a/b/c/x.jpg", true, true},
		{"a/b/x.jpg", false, true},
		{"hook.jpg", true, true},
		{"new\nline.jpg", false, true},
		{"\xff\xfe.jpg", false, true},
	} {
		p := filepath.Join(root, filepath.FromSlash(tc.rel))
		if got := m.ignored(p); got != tc.ignored {
			t.Errorf("ignored(%q) = %v, want %v", tc.rel, got, tc.ignored)
		}
		if got := m.media(p); got != tc.media {
			t.Errorf("media(%q) = %v, want %v", tc.rel, got, tc.media)
		}
	}
	if m.ignored(root) {
		t.Error("the root itself is ignored")
	}
	if !m.ignored(filepath.FromSlash("/library/x.jpg")) {
		t.Error("a path outside the root (sharing its prefix) is not ignored")
	}
	all, _ := newMatcher(root, Options{})
	if !all.media("x.cr2") || all.media("x.xmp") {
		t.Error("without Extensions every file but sidecars is media")
	}
}

func TestReadyQueue(t *testing.T) {
	var q readyQueue
	q.push(Event{Path: "/a", Op: Changed, Size: 1})
	q.push(Event{Path: "/d/x", Op: Changed})
	q.push(Event{Path: "/b", Op: Changed})
	q.push(Event{Path: "/a", Op: Changed, Size: 2}) // coalesced in place
	q.push(Event{Path: "/d/y", Op: Removed})
	q.drop("/b")
	q.dropUnder("/d")
	q.push(Event{Path: "/d", Op: Removed, Dir: true})
	q.push(Event{Path: "/b", Op: Changed, Size: 3})
	var got []Event
	for {
		ev, ok := q.peek()
		if !ok {
			break
		}
		got = append(got, ev)
		q.pop()
	}
	want := []Event{{Path: "/a", Op: Changed, Size: 2}, {Path: "/d", Op: Removed, Dir: true}, {Path: "/b", Op: Changed, Size: 3}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Many pushes and pops with compaction keep the index right.
	for i := range 1000 {
		q.push(Event{Path: "/p" + string(rune('a'+i%26)), Op: Changed, Size: int64(i)})
		if i%3 == 0 {
			if _, ok := q.peek(); ok {
				q.pop()
			}
		}
	}
	seen := map[string]bool{}
	for {
		ev, ok := q.peek()
		if !ok {
			break
		}
		if seen[ev.Path] {
			t.Fatalf("%s queued twice", ev.Path)
		}
		seen[ev.Path] = true
		q.pop()
	}
}

// tree builds files (relative slash paths) under a new temporary folder.
func tree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		write(t, filepath.Join(root, filepath.FromSlash(f)), f)
	}
	return root
}

func TestWalkSameRulesAsWatcher(t *testing.T) {
	root := tree(t, "a.jpg", "B.PNG", "a.jpg.xmp", "notes.txt", ".hidden.jpg", ".cache/c.jpg",
		"2024/x.jpg", "2024/@eaDir/t.jpg", "2024/tmp.part", "Private/album/p.jpg", "Private/q.jpg", "z/y/clip.mov")
	if err := os.Symlink("a.jpg", filepath.Join(root, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	var got []string
	opt := Options{Extensions: testExts, IgnoreGlobs: []string{"@eaDir", "*.part", "Private/album"}}
	err := Walk(context.Background(), root, opt, func(p string, info fs.FileInfo) error {
		st, err := os.Stat(p)
		if err != nil || st.Size() != info.Size() || !st.ModTime().Equal(info.ModTime()) {
			t.Errorf("%s: info %v/%v, stat %v (%v)", p, info.Size(), info.ModTime(), st, err)
		}
		rel, _ := filepath.Rel(root, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2024/x.jpg", "B.PNG", "Private/q.jpg", "a.jpg", "link.jpg", "z/y/clip.mov"}
	if !slices.Equal(got, want) {
		t.Errorf("walk visited %q, want %q", got, want)
	}
}

func TestWalkErrors(t *testing.T) {
	root := tree(t, "a/x.jpg", "b/y.jpg", "c/z.jpg")
	// An unreadable folder is reported and skipped; the walk goes on.
	var errs []error
	var got []string
	denied := filepath.Join(root, "b")
	readDir := func(p string) ([]fs.DirEntry, error) {
		if p == denied {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
		return os.ReadDir(p)
	}
	opt := Options{OnError: func(err error) { errs = append(errs, err) }}
	err := walk(context.Background(), root, opt, readDir, func(p string, _ fs.FileInfo) error {
		got = append(got, filepath.Base(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pe *PathError
	if strings.Join(got, ",") != "x.jpg,z.jpg" || len(errs) != 1 || !errors.As(errs[0], &pe) ||
		pe.Path != denied || !errors.Is(pe, fs.ErrPermission) {
		t.Errorf("visited %q, errors %v", got, errs)
	}

	// An unreadable root is an error, and nothing is visited.
	err = walk(context.Background(), root, Options{}, func(string) ([]fs.DirEntry, error) {
		return nil, fs.ErrPermission
	}, func(string, fs.FileInfo) error { t.Error("visited"); return nil })
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("unreadable root: %v", err)
	}
	if err := Walk(context.Background(), filepath.Join(root, "absent"), Options{}, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}

	// A single file as root.
	var one []string
	write(t, filepath.Join(root, "a", "x.jpg.xmp"), "sidecar")
	for _, f := range []string{"a/x.jpg", "a/x.jpg.xmp", "absent.jpg"} {
		err := Walk(context.Background(), filepath.Join(root, filepath.FromSlash(f)), Options{Extensions: testExts},
			func(p string, _ fs.FileInfo) error { one = append(one, p); return nil })
		if err != nil && f != "absent.jpg" {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(one) != 1 || one[0] != filepath.Join(root, "a", "x.jpg") {
		t.Errorf("single files visited %q", one)
	}

	// fn's error stops the walk; so does a cancelled context.
	stop := errors.New("stop")
	n := 0
	err = Walk(context.Background(), root, Options{}, func(string, fs.FileInfo) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn error: %v after %d files", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Walk(ctx, root, Options{}, func(string, fs.FileInfo) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
