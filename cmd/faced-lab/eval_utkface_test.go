package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/internal/shared"
)

// TestEvalUTKFaceJSON runs `faced-lab eval utkface DIR --json` on 16 real
// chips (linked into a temporary folder) and checks the documented keys.
func TestEvalUTKFaceJSON(t *testing.T) {
	src := shared.Dir(t, "testdata/utkface")
	data := shared.DataDir(t)
	dir := linkChips(t, src, 16, 20)
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs([]string{"eval", "utkface", dir, "--json", "--data", data, "--variant", "float32", "--ort-lib", filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1")})
	defer rootCmd.SetArgs(nil)
	if err := rootCmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"n", "gender_accuracy", "age_mae", "within5", "images_per_s"} {
		if _, ok := r[k]; !ok {
			t.Errorf("key %q missing from %s", k, out.String())
		}
	}
	if r["n"] != float64(16) {
		t.Errorf("n = %v, want 16", r["n"])
	}
	if acc, _ := r["gender_accuracy"].(float64); acc < 0 || acc > 1 {
		t.Errorf("gender_accuracy %v outside 0..1", acc)
	}
	// A folder without UTKFace names is a usage error naming the file.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "holiday.jpg"), []byte("x"), 0o644)
	rootCmd.SetArgs([]string{"eval", "utkface", bad})
	err := rootCmd.Execute()
	if ee, ok := err.(*cli.ExitError); !ok || ee.Code != 2 {
		t.Fatalf("bad folder: %v", err)
	}
}
