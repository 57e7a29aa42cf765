package exporters

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteAtomicRemovesStaleTempsOncePerFolder: the first write in a
// folder removes faced's temporary files older than an hour (any sidecar's)
// and keeps younger ones and other files; later writes within the hour do
// not read the folder again.
func TestWriteAtomicRemovesStaleTempsOncePerFolder(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * staleTemp)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	staleA := mk(TempPrefix+"a.jpg.xmp.1", old)
	staleB := mk(TempPrefix+"b.jpg.xmp.2", old)
	fresh := mk(TempPrefix+"a.jpg.xmp.3", time.Now())
	other := mk("c.jpg.xmp", old)
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	if err := WriteAtomic(filepath.Join(dir, "a.jpg.xmp"), []byte("<x/>"), 0o644, nil, nil); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{staleA: false, staleB: false, fresh: true, other: true} {
		if exists(p) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), !want, want)
		}
	}
	staleC := mk(TempPrefix+"d.jpg.xmp.4", old)
	if err := WriteAtomic(filepath.Join(dir, "d.jpg.xmp"), []byte("<x/>"), 0o644, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !exists(staleC) {
		t.Error("the folder was read again within the hour")
	}
	if got, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"d.jpg.xmp.*")); len(got) != 1 {
		t.Errorf("temporary files of d.jpg.xmp: %v (want only the stale one left)", got)
	}
}
