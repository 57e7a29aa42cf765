package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/internal/shared"
)

// TestModelsListsHeadsAndSmallSizes: `facedctl models` lists the trained
// heads files beside the models (an unreadable one fails the listing) and
// prints pnet's 31 kB as kB, not "0.0 MB".
func TestModelsListsHeadsAndSmallSizes(t *testing.T) {
	src := filepath.Join(shared.DataDir(t), "models")
	data := t.TempDir()
	dir := filepath.Join(data, "models")
	os.MkdirAll(dir, 0o755)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "heads-") {
			continue
		}
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := writeModels(&out, data); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "0.0 MB") || !regexp.MustCompile(`pnet\.onnx\s+31 kB`).MatchString(out.String()) {
		t.Errorf("pnet's size:\n%s", out.String())
	}
	os.WriteFile(filepath.Join(dir, "heads-broken.json"), []byte("{"), 0o644)
	out.Reset()
	err = writeModels(&out, data)
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(out.String(), "heads-broken.json") || !strings.Contains(out.String(), "bad heads file") {
		t.Errorf("a broken heads file: %v\n%s", err, out.String())
	}
}
