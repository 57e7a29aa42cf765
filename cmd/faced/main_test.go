package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// TestMain removes the binaries the end-to-end tests built (40 MB per run
// otherwise left in the temp folder).
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestFreshDataDirectoryStarts: a config whose DataDirectory is new starts
// without any manual step: faced installs its models from SeedDirectory,
// says so in its log, and serves its API; the next start only verifies.
func TestFreshDataDirectoryStarts(t *testing.T) {
	seed := filepath.Join(shared.VarDir(), "seed")
	if _, err := os.Stat(filepath.Join(seed, "mtcnn.pb")); err != nil {
		t.Skipf("seed files not in %s (run `make setup`)", seed)
	}
	e := newEnv(t, "SeedDirectory = "+seed+"\n")
	if err := os.Remove(filepath.Join(e.data, "models")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.data); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.stop()
	log, _ := os.ReadFile(e.log)
	if !strings.Contains(string(log), "models installed: converted from the seed") {
		t.Fatalf("log does not say the models were installed:\n%s", log)
	}
	if fi, err := os.Lstat(filepath.Join(e.data, "models", "registry.json")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("models/registry.json in the new data directory: %v", err)
	}
	e.start()
	e.stop()
	log, _ = os.ReadFile(e.log)
	if n := strings.Count(string(log), "models installed"); n != 1 {
		t.Errorf("second start installed again (%d installs)", n)
	}
	if !strings.Contains(string(log), "models verified") {
		t.Errorf("second start did not verify")
	}
}
