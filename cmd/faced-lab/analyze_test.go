package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/internal/shared"
)

// TestAnalyzeFolder: a folder argument stands for the photos and videos in
// it (a note is skipped), and a broken photo is reported by name with its
// reason while the others are still analysed.
func TestAnalyzeFolder(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_two_people.jpg")
	data := shared.DataDir(t)
	t.Setenv("FACED_ORT_LIB", filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1"))
	dir := t.TempDir()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.jpg"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "b.jpg"), b[:len(b)/3], 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a photo"), 0o644)

	var out bytes.Buffer
	rootCmd.SetOut(&out)
	defer rootCmd.SetOut(nil)
	rootCmd.SetArgs([]string{"analyze", "--json", "--data", data, dir})
	defer rootCmd.SetArgs(nil)
	err = rootCmd.Execute()
	if ee, ok := err.(*cli.ExitError); !ok || ee.Code != 2 {
		t.Fatalf("one broken photo: want exit code 2, got %v", err)
	}
	var res []analyzeJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2 (a.jpg, b.jpg; notes.txt skipped):\n%s", len(res), out.String())
	}
	if res[0].File != filepath.Join(dir, "a.jpg") || res[0].Error != "" || len(res[0].Faces) == 0 {
		t.Errorf("a.jpg: %+v, want faces and no error", res[0])
	}
	if res[1].File != filepath.Join(dir, "b.jpg") || res[1].Error == "" {
		t.Errorf("b.jpg (truncated): %+v, want an error", res[1])
	}
}

// TestAnalyzeUsesConfiguredHeads: `facedctl analyze` takes its options from
// the config as the daemon does, Heads included: heads the config names but
// the data directory lacks are an error, not silently the seed's.
func TestAnalyzeUsesConfiguredHeads(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_two_people.jpg")
	data := shared.DataDir(t)
	t.Setenv("FACED_ORT_LIB", filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1"))
	cfg := filepath.Join(t.TempDir(), "config.txt")
	os.WriteFile(cfg, []byte("[DEFAULT]\nInputDirectory = "+t.TempDir()+"\nDataDirectory = "+data+"\nHeads = no-such-heads\n"), 0o644)
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	defer rootCmd.SetOut(nil)
	rootCmd.SetArgs([]string{"--config", cfg, "analyze", "--json", src})
	defer rootCmd.SetArgs(nil)
	defer func() { configPath = "config.txt" }()
	err := rootCmd.Execute()
	if err == nil || !strings.Contains(err.Error(), `heads "no-such-heads"`) {
		t.Fatalf("config names heads that do not exist: want an error naming them, got %v\n%s", err, out.String())
	}
}
