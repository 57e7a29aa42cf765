package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFacedctlLinksNoOpenCV: facedctl, built without any tag, must not pull
// OpenCV, the analyzer or the daemon, so it starts at once; the heavy
// commands live in faced-lab.
func TestFacedctlLinksNoOpenCV(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages: %s", len(deps), out)
	}
	for _, d := range deps {
		for _, bad := range []string{"gocv.io/x/gocv", "github.com/faced/faced/analyzer", "github.com/faced/faced/agegender",
			"github.com/faced/faced/daemon", "github.com/faced/faced/heads/hook"} {
			if d == bad || strings.HasPrefix(d, bad+"/") {
				t.Errorf("facedctl depends on %s", d)
			}
		}
	}
}
