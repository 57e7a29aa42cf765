package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/faced/faced/internal/datadir"
)

// EnsureResult says what Ensure did.
type EnsureResult struct {
	Dir    string // DATA/models
	Action string // "verified" (nothing to do), "copied" (converted models) or "converted" (seed files)
	From   string // the source used; "" when verified
}

// DefaultSources are the places faced looks for its models when the
// config names none, relative to the faced binary exe: the converted models
// and the seed files of an installation (bin/../share/faced, so
// /usr/share/faced for the Debian package), then var/seed of a checkout
// (bin/faced next to var/).
func DefaultSources(exe string) []string {
	dir := filepath.Dir(exe)
	return []string{
		filepath.Join(dir, "..", "share", "faced", "models"),
		filepath.Join(dir, "..", "share", "faced", "seed"),
		filepath.Join(dir, "..", "var", "seed"),
	}
}

// Ensure makes DATA/models complete and verified: when it already is, it
// only verifies; otherwise it installs from the first of sources that
// holds either converted models (a verified registry.json with its files:
// copied) or the seed's files (converted by Install). Trained heads in
// DATA/models are left alone. Every action is logged.
func Ensure(ctx context.Context, dataDir string, sources []string, log *slog.Logger) (EnsureResult, error) {
	if log == nil {
		log = slog.Default()
	}
	dir := modelsDir(dataDir)
	res := EnsureResult{Dir: dir}
	if upToDate(dir) {
		res.Action = "verified"
		log.Info("models verified", "dir", dir)
		return res, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return res, fmt.Errorf("data directory: %w", err)
	}
	var tried []string
	for _, src := range sources {
		if src == "" {
			continue
		}
		src = filepath.Clean(src)
		if same, _ := sameDir(src, dir); same {
			continue
		}
		tried = append(tried, src)
		if upToDate(src) {
			if err := copyModels(ctx, src, dir); err != nil {
				return res, fmt.Errorf("install models from %s: %w", src, err)
			}
			if !upToDate(dir) {
				return res, &ModelError{Kind: ErrModelCorrupt, Path: dir, Why: "copied from " + src + " but does not verify"}
			}
			res.Action, res.From = "copied", src
			applyPolicy(dataDir, dir)
			log.Info("models installed: copied and verified", "from", src, "dir", dir)
			return res, nil
		}
		if _, err := seedPath(src, SeedMTCNNFile); err != nil {
			continue
		}
		ir, err := Install(ctx, src, dataDir, log)
		if err != nil {
			return res, fmt.Errorf("install models from the seed in %s: %w", src, err)
		}
		res.Action, res.From = "converted", src
		log.Info("models installed: converted from the seed and verified", "from", src, "dir", dir, "models", ir.Converted)
		return res, nil
	}
	return res, fmt.Errorf("%w: %s holds no complete models and none of %q holds converted models or the seed's files (set SeedDirectory in the config)",
		ErrModelMissing, dir, tried)
}

// applyPolicy gives the installed models the data directory's modes
// (datadir: private, or shared with the faced group), so the daemon does not
// tighten them with a log line per file when it opens the folder.
func applyPolicy(dataDir, dir string) {
	p := datadir.PolicyOf(dataDir)
	os.Chmod(dir, p.Dir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Type().IsRegular() {
			os.Chmod(filepath.Join(dir, e.Name()), p.File)
		}
	}
}

// copyModels copies LICENSE, the model files and registry.json (last, so an
// interrupted copy is never taken for complete) from src to dst.
func copyModels(ctx context.Context, src, dst string) error {
	doc, err := readRegistry(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	files := []string{"LICENSE"}
	for _, mi := range doc.Models {
		files = append(files, mi.File)
	}
	files = append(files, RegistryFile)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(src, f), filepath.Join(dst, f)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	t, err := renameio.TempFile(filepath.Dir(dst), dst)
	if err != nil {
		return err
	}
	defer t.Cleanup()
	if _, err := io.Copy(t, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := t.Chmod(0o644); err != nil {
		return err
	}
	return t.CloseAtomicallyReplace()
}

// sameDir reports whether a and b are the same directory.
func sameDir(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
