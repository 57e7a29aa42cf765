//go:build !windows

package index

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A new index, its -wal and its -shm are faced's user's alone whatever the
// umask: they hold biometric data (faces.db was 0644 before).
func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "faces.db")
	ix, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for _, name := range []string{p, p + "-wal", p + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s is %04o, want 0600", filepath.Base(name), m)
		}
	}
}
