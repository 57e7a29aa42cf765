// Package shared locates the project's evaluation data and installed
// artefacts for tests and benchmarks: ../shared (seed, testdata) next to the
// repository, and var/ (ONNX Runtime, converted models) inside it. Tests call
// Dir and friends, which skip with a clear message when a folder is absent, so
// a checkout without ../shared still passes its own tests.
package shared

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the repository root (the folder holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir returns ../shared relative to the repository root, or the folder
// named by FACED_SHARED_DIR.
func SharedDir() string {
	if d := os.Getenv("FACED_SHARED_DIR"); d != "" {
		return d
	}
	return filepath.Join(Root(), "..", "shared")
}

// Dir returns SharedDir()/rel, skipping the test when it does not exist.
func Dir(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(SharedDir(), rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("evaluation data %s not present (%v): this test needs ../shared next to the repository", p, err)
	}
	return p
}

// VarDir returns the project-local folder that setup fills (var/ in the
// repository, or FACED_VAR_DIR).
func VarDir() string {
	if d := os.Getenv("FACED_VAR_DIR"); d != "" {
		return d
	}
	return filepath.Join(Root(), "var")
}

// DataDir returns the data directory setup converted the models into
// (var/data), skipping the test when the models are not installed.
func DataDir(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(VarDir(), "data")
	if _, err := os.Stat(filepath.Join(p, "models")); err != nil {
		tb.Skipf("converted models not found under %s: run `make setup` first", p)
	}
	return p
}
