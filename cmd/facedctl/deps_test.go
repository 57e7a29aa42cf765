package main

import (
	"go/parser"
	"go/token"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestIndexIsLight asserts that the index (and what persons.go uses with it)
// links neither OpenCV nor ONNX Runtime, so `facedctl persons` and every
// other index reader stays pure Go and starts instantly.
func TestIndexIsLight(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/faced/faced/index", "github.com/faced/faced/config").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages: %s", len(deps), out)
	}
	for _, d := range deps {
		for _, heavy := range []string{"gocv.io/x/gocv", "github.com/yalue/onnxruntime_go"} {
			if d == heavy || strings.HasPrefix(d, heavy+"/") {
				t.Errorf("index/config pull in %s", d)
			}
		}
	}
}

// TestPersonsImportsNoModels checks persons.go's own imports.
func TestPersonsImportsNoModels(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "persons.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		for _, banned := range []string{"/analyzer", "/models", "/agegender", "gocv.io", "onnxruntime", "/daemon"} {
			if strings.Contains(p, banned) {
				t.Errorf("persons.go imports %s", p)
			}
		}
	}
}
