package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
)

// The read-only commands (status with the daemon down, persons list and
// show) leave the index exactly as it was: same bytes, same mtime, no WAL
// files left behind, even on a file made read-only (root ignores the
// mode, hence the checks on bytes and mtime).
func TestReadOnlyCommandsChangeNothing(t *testing.T) {
	cfg, faces := personsFixture(t)
	db := filepath.Join(filepath.Dir(cfg), "data", "faces.db")
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-wal", "-shm"} {
		if _, err := os.Lstat(db + s); err == nil {
			t.Fatalf("fixture left %s", s)
		}
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)

	out, err := runPersons(t, cfg, "list")
	if err != nil || !strings.Contains(out, "Alice") {
		t.Fatalf("persons list: %v\n%s", err, out)
	}
	out, err = runPersons(t, cfg, "show", "1")
	if err != nil || !strings.Contains(out, itoa(faces[1][0])) {
		t.Fatalf("persons show 1: %v\n%s", err, out)
	}
	old := configPath
	configPath = cfg
	defer func() { configPath = old }()
	var buf bytes.Buffer
	err = runStatus(context.Background(), statusOptions{json: true, timeout: time.Second}, &buf)
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitNotRunning {
		t.Fatalf("status with the daemon down: %v, want exit %d", err, cli.ExitNotRunning)
	}
	var st api.Status
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, buf.String())
	}
	if st.Faces != 4 || st.Persons != 2 {
		t.Fatalf("offline status counts %d faces, %d persons; want 4 and 2", st.Faces, st.Persons)
	}

	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	fa, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(fa.ModTime()) {
		t.Fatalf("the index changed (mtime %v -> %v)", fi.ModTime(), fa.ModTime())
	}
	for _, s := range []string{"-wal", "-shm"} {
		if _, err := os.Lstat(db + s); err == nil {
			t.Errorf("a read-only command left %s behind", filepath.Base(db+s))
		}
	}
	// A write command still works on the same index (it was not damaged).
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPersons(t, cfg, "name", "2", "Bob"); err != nil {
		t.Fatalf("persons name after the read-only commands: %v\n%s", err, out)
	}
}

// After a crash of the daemon the WAL still holds committed transactions:
// status reads them without checkpointing them into the database file.
func TestOfflineStatusAfterCrashChangesNothing(t *testing.T) {
	cfg, _ := personsFixture(t)
	ctx := context.Background()
	db := filepath.Join(filepath.Dir(cfg), "data", "faces.db")
	ix, err := index.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.CreatePerson(ctx, index.Person{Name: "Carol", NameSource: index.SourceUser}); err != nil {
		t.Fatal(err)
	}
	// The state a SIGKILL leaves: database + WAL with the last commit.
	root := t.TempDir()
	crashed := filepath.Join(root, "data", "faces.db")
	os.MkdirAll(filepath.Dir(crashed), 0o755)
	os.MkdirAll(filepath.Join(root, "photos"), 0o755)
	for _, s := range []string{"", "-wal"} {
		b, err := os.ReadFile(db + s)
		if err != nil {
			t.Fatal(err)
		}
		if s == "-wal" && len(b) == 0 {
			t.Fatal("the writer's WAL is empty; the fixture needs committed frames in it")
		}
		if err := os.WriteFile(crashed+s, b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	ix.Close()
	cfg2 := filepath.Join(root, "config.txt")
	if err := os.WriteFile(cfg2, []byte("[DEFAULT]\nInputDirectory = photos\nDataDirectory = data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, s := range []string{"", "-wal"} {
		if want[s], err = os.ReadFile(crashed + s); err != nil {
			t.Fatal(err)
		}
	}
	fi, _ := os.Stat(crashed)
	time.Sleep(20 * time.Millisecond)

	old := configPath
	configPath = cfg2
	defer func() { configPath = old }()
	var buf bytes.Buffer
	err = runStatus(ctx, statusOptions{json: true, timeout: time.Second}, &buf)
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitNotRunning {
		t.Fatalf("status with the daemon down: %v, want exit %d", err, cli.ExitNotRunning)
	}
	var st api.Status
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, buf.String())
	}
	if st.Persons != 3 {
		t.Fatalf("offline status counts %d persons, want 3 (the last one only in the WAL)", st.Persons)
	}
	for s, b := range want {
		got, err := os.ReadFile(crashed + s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("status changed faces.db%s", s)
		}
	}
	if fa, _ := os.Stat(crashed); !fa.ModTime().Equal(fi.ModTime()) {
		t.Errorf("status changed the mtime of faces.db")
	}
}
