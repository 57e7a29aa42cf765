//go:build !windows

package datadir

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// An existing world-readable data folder (faces.db 0644 in a 0755 folder,
// as faced left it before) is tightened at start, with a log line per path;
// what symbolic links point at is left alone.
func TestPrepareTightens(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	outside := filepath.Join(base, "outside.onnx")
	files := map[string]fs.FileMode{
		"faces.db": 0o644, "faces.db-wal": 0o644, "faces.db-shm": 0o644, "clusters.snapshot": 0o640,
		"models/x.onnx": 0o644, "private": 0o600,
	}
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for name, m := range files {
		if err := os.WriteFile(filepath.Join(dir, name), nil, m); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), m)
	}
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(outside, 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "link.onnx")); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	p, err := Prepare(dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if p != Private {
		t.Errorf("policy %+v, want Private", p)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("data folder %04o, want 0700", m)
	}
	if m := mode(t, filepath.Join(dir, "models")); m != 0o700 {
		t.Errorf("models folder %04o, want 0700", m)
	}
	for name := range files {
		if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
			t.Errorf("%s %04o, want 0600", name, m)
		}
	}
	if m := mode(t, outside); m != 0o644 {
		t.Errorf("a symbolic link's target outside the folder was changed to %04o", m)
	}
	if n := strings.Count(logBuf.String(), "file mode tightened"); n != 7 {
		t.Errorf("%d log lines for 7 tightened paths:\n%s", n, logBuf.String())
	}
	// A second start finds nothing to change.
	logBuf.Reset()
	if _, err := Prepare(dir, slog.New(slog.NewTextHandler(&logBuf, nil))); err != nil || logBuf.Len() != 0 {
		t.Errorf("second Prepare: %v\n%s", err, logBuf.String())
	}
}

// A new data folder is created 0700 whatever the umask; CreateFile makes
// 0600 files and leaves existing ones.
func TestPrepareCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	if _, err := Prepare(dir, nil); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("new data folder %04o, want 0700", m)
	}
	db := filepath.Join(dir, "faces.db")
	if err := CreateFile(db, Private.File); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, db); m != 0o600 {
		t.Errorf("new file %04o, want 0600", m)
	}
	os.WriteFile(db, []byte("x"), 0)
	if err := CreateFile(db, Private.File); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(db); string(b) != "x" {
		t.Error("CreateFile truncated an existing file")
	}
}

// A folder owned by the group "faced" is shared with it: 0750, files 0640.
func TestPrepareSharedGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating the group faced and chgrp need root")
	}
	g, err := user.LookupGroup(GroupName)
	if err != nil {
		if out, err := exec.Command("groupadd", "--system", GroupName).CombinedOutput(); err != nil {
			t.Skipf("no group %s and groupadd failed: %v %s", GroupName, err, out)
		}
		t.Cleanup(func() { exec.Command("groupdel", GroupName).Run() })
		if g, err = user.LookupGroup(GroupName); err != nil {
			t.Fatal(err)
		}
	}
	gid, _ := strconv.Atoi(g.Gid)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	os.WriteFile(filepath.Join(dir, "faces.db"), nil, 0o666)
	os.Chmod(filepath.Join(dir, "faces.db"), 0o666)
	if err := os.Chown(dir, 0, gid); err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p != Shared {
		t.Fatalf("policy %+v, want Shared", p)
	}
	if m := mode(t, dir); m != 0o750 {
		t.Errorf("shared folder %04o, want 0750", m)
	}
	if m := mode(t, filepath.Join(dir, "faces.db")); m != 0o640 {
		t.Errorf("faces.db %04o, want 0640", m)
	}
}
