package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// linkChips links every step-th chip of src (at most n) into a new folder.
func linkChips(t *testing.T, src string, n, step int) string {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	dir := t.TempDir()
	for i := 0; i < len(names) && i < n*step; i += step {
		if err := os.Symlink(filepath.Join(src, names[i]), filepath.Join(dir, names[i])); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTrainHeadsCLI trains heads on 60 real training chips with
// `faced-lab models train-heads` into a scratch data folder (twice: same
// bytes), then evaluates dev chips with `faced-lab eval utkface --heads`.
func TestTrainHeadsCLI(t *testing.T) {
	train := linkChips(t, shared.Dir(t, "testdata/utkface_train"), 60, 100)
	dev := linkChips(t, shared.Dir(t, "testdata/utkface"), 12, 60)
	real := shared.DataDir(t)
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(real, "models"))
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "heads-") {
			os.Symlink(filepath.Join(real, "models", e.Name()), filepath.Join(data, "models", e.Name()))
		}
	}
	ort := filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		rootCmd.SetOut(&out)
		rootCmd.SetArgs(args)
		defer rootCmd.SetArgs(nil)
		err := rootCmd.Execute()
		return out.String(), err
	}
	trainArgs := []string{"models", "train-heads", train, "--name", "t", "--license", "UTKFace: non-commercial research only",
		"--data", data, "--ort-lib", ort, "--folds", "3", "--lambdas", "1", "--cache", filepath.Join(data, "cache")}
	if _, err := run(trainArgs...); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(data, "models", "heads-t.json")
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(trainArgs...); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Fatal("train-heads on the same chips wrote different bytes")
	}
	var h struct {
		Model struct{ SHA256, Variant string }
		Data  struct {
			N       int
			License string
		}
	}
	if err := json.Unmarshal(first, &h); err != nil {
		t.Fatal(err)
	}
	if h.Data.N != 60 || h.Data.License != "UTKFace: non-commercial research only" || h.Model.Variant != "int8" || h.Model.SHA256 == "" {
		t.Errorf("provenance %+v", h)
	}

	// Flag values persist between Execute calls in one process: give them all.
	out, err := run("eval", "utkface", dev, "--heads", "t", "--variant", "int8", "--json=false", "--data", data, "--ort-lib", ort)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "age/gender heads:     t\n") || !strings.Contains(out, "UTKFace chips:        12") {
		t.Errorf("eval utkface --heads t printed:\n%s", out)
	}
	// Unknown heads, heads for the other variant and a missing licence are errors.
	if _, err := run("eval", "utkface", dev, "--heads", "nosuch", "--variant", "int8", "--data", data, "--ort-lib", ort); err == nil {
		t.Error("eval utkface accepted unknown heads")
	}
	if _, err := run("eval", "utkface", dev, "--heads", "t", "--variant", "float32", "--data", data, "--ort-lib", ort); err == nil || !strings.Contains(err.Error(), "trained on model") {
		t.Errorf("int8 heads on the float32 model: %v", err)
	}
	if _, err := run("models", "train-heads", train, "--license", " ", "--data", data); err == nil {
		t.Error("train-heads ran without a licence")
	}
	// Leave the shared flag values as the defaults for other tests.
	run("eval", "utkface", dev, "--heads", "seed", "--variant", "", "--data", data, "--ort-lib", ort)
}
