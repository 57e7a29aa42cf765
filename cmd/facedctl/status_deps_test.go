package main

import (
	"go/parser"
	"go/token"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestStatusLoadsNoModel checks that status, scan and retry (and everything
// they import) link no inference code: status must answer at once, without
// OpenCV or ONNX Runtime.
func TestStatusLoadsNoModel(t *testing.T) {
	banned := []string{"gocv.io/x/gocv", "github.com/yalue/onnxruntime_go", "github.com/faced/faced/analyzer",
		"github.com/faced/faced/models", "github.com/faced/faced/agegender", "github.com/faced/faced/daemon"}
	var pkgs []string
	for _, f := range []string{"status.go", "scan.go", "retry.go"} {
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			pkgs = append(pkgs, p)
		}
	}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				t.Errorf("status/scan/retry depend on %s", dep)
			}
		}
	}
}
