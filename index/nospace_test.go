package index

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/faced/faced/internal/tmpfs"
)

// A write on a full data disk fails with an error callers can tell apart
// (ErrNoSpace, syscall.ENOSPC); once space returns the same writes work and
// the file is intact.
func TestWriteOnFullDiskIsNoSpace(t *testing.T) {
	dir := tmpfs.Mount(t, 8<<20)
	ctx := context.Background()
	ix, err := Open(ctx, filepath.Join(dir, "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	free := tmpfs.Fill(t, dir)
	var werr error
	n := 0
	for ; n < 10000 && werr == nil; n++ {
		werr = ix.Enqueue(ctx, fmt.Sprintf("/photos/%05d-%s.jpg", n, strings.Repeat("x", 200)), "new")
	}
	if werr == nil {
		t.Fatal("10 000 enqueues on a full disk all succeeded")
	}
	if !errors.Is(werr, ErrNoSpace) || !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("enqueue on a full disk: %v (want ErrNoSpace and ENOSPC)", werr)
	}
	t.Logf("enqueue %d failed: %v", n, werr)
	free()
	if err := ix.Enqueue(ctx, "/photos/after.jpg", "new"); err != nil {
		t.Fatalf("enqueue after space returned: %v", err)
	}
	if err := ix.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// Opening the index on a full data disk (faced's start, facedctl status
// with the daemon down) fails as "data disk full", not "disk I/O error".
func TestOpenOnFullDiskIsNoSpace(t *testing.T) {
	dir := tmpfs.Mount(t, 8<<20)
	ctx := context.Background()
	p := filepath.Join(dir, "faces.db")
	ix, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Enqueue(ctx, "/photos/a.jpg", "new"); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	free := tmpfs.Fill(t, dir)
	defer free()
	for name, open := range map[string]func(context.Context, string) (*Index, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		ix, err := open(ctx, p)
		if err == nil {
			ix.Close()
			t.Logf("%s on a full disk worked", name)
			continue
		}
		if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "data disk full") {
			t.Errorf("%s on a full disk: %v (want ErrNoSpace)", name, err)
		} else {
			t.Logf("%s on a full disk: %v", name, err)
		}
	}
}
