package models

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// seedDir returns var/seed (the seed's .pb files), skipping without it.
func seedDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(shared.VarDir(), "seed")
	if _, err := os.Stat(filepath.Join(d, SeedMTCNNFile)); err != nil {
		t.Skipf("seed files not in %s (run `make setup`): %v", d, err)
	}
	return d
}

// TestEnsureFreshDataDirectory: a data directory that does not exist yet
// gets its models from the first source that has them (seed files are
// converted, converted models are copied), logged; a second start only
// verifies; a damaged file is installed again; trained heads stay.
func TestEnsureFreshDataDirectory(t *testing.T) {
	seed := seedDir(t)
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	root := t.TempDir()

	a := filepath.Join(root, "a", "data") // parent missing too
	res, err := Ensure(ctx, a, []string{filepath.Join(root, "nowhere"), seed}, log)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "converted" || res.From != seed {
		t.Fatalf("fresh from the seed: %+v", res)
	}
	if _, err := OpenRegistry(a); err != nil {
		t.Fatalf("registry after Ensure: %v", err)
	}
	if fi, err := os.Stat(a); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(filepath.Join(a, "models", "pnet.onnx")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("installed model mode %v (%v), want 0600 (private data directory)", fi.Mode().Perm(), err)
	}
	if !strings.Contains(logs.String(), "models installed: converted") {
		t.Errorf("no log line says what was done:\n%s", logs.String())
	}
	if res, err := Ensure(ctx, a, []string{seed}, log); err != nil || res.Action != "verified" {
		t.Fatalf("second start: %+v %v", res, err)
	}

	b := filepath.Join(root, "b")
	res, err = Ensure(ctx, b, []string{filepath.Join(a, "models")}, log)
	if err != nil || res.Action != "copied" {
		t.Fatalf("from converted models: %+v %v", res, err)
	}
	if _, err := OpenRegistry(b); err != nil {
		t.Fatalf("registry after copy: %v", err)
	}

	heads := filepath.Join(b, "models", "heads-mine.json")
	os.WriteFile(heads, []byte("{}"), 0o644)
	if err := os.WriteFile(filepath.Join(b, "models", "pnet.onnx"), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := Ensure(ctx, b, []string{seed}, log); err != nil || res.Action != "converted" {
		t.Fatalf("damaged model: %+v %v", res, err)
	}
	if _, err := OpenRegistry(b); err != nil {
		t.Fatalf("registry after repair: %v", err)
	}
	if _, err := os.Stat(heads); err != nil {
		t.Errorf("trained heads lost: %v", err)
	}

	_, err = Ensure(ctx, filepath.Join(root, "c"), []string{filepath.Join(root, "nowhere")}, log)
	if !errors.Is(err, ErrModelMissing) || !strings.Contains(err.Error(), "SeedDirectory") {
		t.Errorf("no source: %v, want ErrModelMissing naming SeedDirectory", err)
	}
}

func TestDefaultSources(t *testing.T) {
	got := DefaultSources("/usr/bin/faced")
	want := []string{"/usr/share/faced/models", "/usr/share/faced/seed", "/usr/var/seed"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("DefaultSources[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

// TestInstallGivesDataDirectoryModes: `facedctl models install` (setup)
// writes the models with the data directory's modes, so faced's first
// start has nothing to tighten (it logged a line per model file).
func TestInstallGivesDataDirectoryModes(t *testing.T) {
	seed := seedDir(t)
	data := t.TempDir()
	os.Chmod(data, 0o700)
	if _, err := Install(context.Background(), seed, data, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(data, "models"))
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", e.Name(), fi.Mode().Perm(), err)
		}
	}
}
