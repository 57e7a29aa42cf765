package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/internal/shared"
)

// The manual page (docs/man/facedctl.1, installed by the package)
// describes every command and flag of facedctl, and no flag it lacks.
func TestManPage(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(shared.Root(), "docs", "man", "facedctl.1"))
	if err != nil {
		t.Fatal(err)
	}
	missing, stale := cli.ManPageGaps(rootCmd, string(page))
	for _, m := range missing {
		t.Errorf("docs/man/facedctl.1 does not describe %s", m)
	}
	for _, s := range stale {
		t.Errorf("docs/man/facedctl.1 names %s, which facedctl does not have", s)
	}
}
