package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/internal/shared"
)

// The manual page (docs/man/faced.8, installed by the package) describes
// every command and flag of faced, and no flag it lacks (start-stop-daemon's
// --chuid is named as the SysV script's).
func TestManPage(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(shared.Root(), "docs", "man", "faced.8"))
	if err != nil {
		t.Fatal(err)
	}
	missing, stale := cli.ManPageGaps(newRoot(), string(page), "--chuid")
	for _, m := range missing {
		t.Errorf("docs/man/faced.8 does not describe %s", m)
	}
	for _, s := range stale {
		t.Errorf("docs/man/faced.8 names %s, which faced does not have", s)
	}
}
