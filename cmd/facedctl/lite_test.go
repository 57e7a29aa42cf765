package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLiteBuildLinksNoOpenCV: the lite facedctl (status, persons, scan,
// retry, models list) must not pull gocv or the analyzer, so it starts
// instantly; the heavy commands live in facedctl-full.
func TestLiteBuildLinksNoOpenCV(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lite", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -tags lite: %v\n%s", err, out)
	}
	for _, bad := range []string{"gocv.io/x/gocv", "github.com/faced/faced/analyzer", "github.com/faced/faced/agegender", "github.com/faced/faced/daemon/wire"} {
		for _, l := range strings.Split(string(out), "\n") {
			if l == bad {
				t.Errorf("lite facedctl depends on %s", bad)
			}
		}
	}
}
