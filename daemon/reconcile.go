package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faced/faced/internal/confine"
	"github.com/faced/faced/media"
)

// ScanCounts is what a reconciliation found.
type ScanCounts struct {
	Seen    int // candidate files
	Queued  int // queued for analysis
	Touched int // same content, new size or mtime recorded
	Missing int // known files no longer on disk (removed after a grace)
	Purged  int // known paths that lead outside the library now (removed at once)
}

// DefaultWalk walks root with filepath.WalkDir, skipping hidden names and
// files whose extension is not in the media table. Symbolic links are
// reported, not followed.
func DefaultWalk(ctx context.Context, root string, fn func(path string) error) error {
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if p == root {
				return err
			}
			return nil // an unreadable sub-folder: skip it
		}
		if p != root && strings.HasPrefix(de.Name(), ".") {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if de.IsDir() || !media.IsMedia(p) {
			return nil
		}
		if _, ok := media.PrimaryOf(p); ok {
			return nil // analysed through its still (RAW+JPEG, Live Photo)
		}
		return fn(p)
	})
}

// maxFlips bounds how often one walk follows a path that turned from a
// file into a folder under it (a path flipping between the two).
const maxFlips = 4

// reconcile compares the tree under dir with the index: new and changed
// files are queued, known files that vanished are reported missing. One
// reconciliation runs at a time; waiting for it ends with ctx.
func (d *Daemon) reconcile(ctx context.Context, dir string) (ScanCounts, error) {
	select {
	case d.scanSem <- struct{}{}:
	case <-ctx.Done():
		return ScanCounts{}, ctx.Err()
	}
	defer func() { <-d.scanSem }()
	d.scanning.Add(1)
	defer d.scanning.Add(-1)
	start := time.Now()
	c, err := d.walk(ctx, dir, 1)
	if err != nil {
		return c, err
	}
	now := time.Now()
	d.lastScan.Store(&now)
	d.log.Info("reconciliation done", "folder", dir, "seen", c.Seen, "queued", c.Queued,
		"touched", c.Touched, "missing", c.Missing, "purged", c.Purged, "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// walk is reconcile's work; the caller holds scanSem. depth counts the
// walks of this reconciliation nested because a path the walk reported as
// a file had become a folder: they run under the same hold (taking scanSem
// again would wait for ourselves, which hung every later scan).
func (d *Daemon) walk(ctx context.Context, dir string, depth int) (ScanCounts, error) {
	var c ScanCounts
	seen := map[string]bool{}
	err := d.opt.Walk(ctx, dir, func(p string) error {
		seen[p] = true
		_, err := d.observe(ctx, p, &c, depth)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("cannot look at file", "file", p, "err", err)
			return nil
		}
		return ctx.Err()
	})
	if err != nil {
		return c, fmt.Errorf("walk %s: %w", dir, err)
	}
	known, err := d.deps.Store.Files(ctx, dir)
	if err != nil {
		return c, fmt.Errorf("list index under %s: %w", dir, err)
	}
	for _, f := range known {
		if seen[f.Path] {
			continue
		}
		if _, err := os.Lstat(f.Path); errors.Is(err, fs.ErrNotExist) || isCompanion(f.Path) {
			// Gone, or now the companion of a still (a Live Photo's
			// MOV or a raw analysed before its JPEG arrived).
			c.Missing++
			d.send(ctx, op{missing: f.Path})
			continue
		}
		// Older faced indexed links leading out (x.jpg -> /etc/shadow,
		// its hash stored) and paths through folder links; the walk no
		// longer reports them, so nothing else would ever drop them.
		var oe *confine.OutsideError
		if err := d.opt.Confine.Check(f.Path); errors.As(err, &oe) {
			c.Purged++
			d.send(ctx, op{outside: &outsideRow{path: f.Path, reason: err.Error(),
				// A path through a folder link shares its sidecar with
				// the real path (inside) or has it outside: not ours.
				withdraw: oe.Via == "symbolic link"}})
		}
	}
	return c, nil
}

// outsideRow is an indexed path that is no longer confined to the library.
type outsideRow struct {
	path, reason string
	withdraw     bool // take back the sidecars faced wrote beside it
}

// Withdrawer is implemented by an Exporter that can take back what faced
// wrote into the sidecars of a path it no longer analyses: removed are the
// sidecars faced alone had written, rewritten those it merged its part out
// of. The photo itself is never opened.
type Withdrawer interface {
	Withdraw(ctx context.Context, path string) (removed, rewritten []string, err error)
}

// purgeOutside drops an indexed path that leads outside the library now:
// its sidecars inside the library (what faced wrote there), then its index
// rows (faces, features, thumbnails: Store.Remove). While index writes
// fail it is left for the next reconciliation.
func (c *coordinator) purgeOutside(ctx context.Context, r *outsideRow) error {
	d := c.d
	if c.wf != nil && !c.once {
		return nil
	}
	var removed, rewritten []string
	if w, ok := d.deps.Exporter.(Withdrawer); ok && r.withdraw {
		var err error
		if removed, rewritten, err = w.Withdraw(ctx, r.path); err != nil {
			d.log.Error("take back the sidecar of a path outside the library", "file", r.path, "err", err)
			return err // the next reconciliation tries again
		}
	}
	err := d.deps.Store.Remove(ctx, r.path)
	c.wrote("remove from index", err)
	if err != nil {
		d.log.Error("remove from index", "file", r.path, "err", err)
		return err
	}
	delete(c.missing, r.path)
	if c.exportFailed[r.path] != nil {
		delete(c.exportFailed, r.path)
		d.errs.remove(r.path)
	}
	c.sum.Removed++
	d.log.Warn("indexed path leads outside the photo folder; its faces left the index",
		"file", r.path, "reason", r.reason, "sidecars_removed", removed, "sidecars_rewritten", rewritten)
	return nil
}

// observe decides what a file that exists (or existed) at p needs: nothing,
// a new size and mtime (same content), or analysis. It returns whether p
// was queued. depth is 0 outside a reconciliation (a watcher event: a
// folder is handed to the scan goroutine), else the nesting of the walk
// that reported p (see walk).
func (d *Daemon) observe(ctx context.Context, p string, c *ScanCounts, depth int) (bool, error) {
	c.Seen++
	rec, known, err := d.deps.Store.File(ctx, p)
	if err != nil {
		return false, err
	}
	if isCompanion(p) {
		// Analysed through its still: an entry of its own (from before
		// the still arrived) leaves the index.
		if known {
			c.Missing++
			d.send(ctx, op{missing: p})
		}
		return false, nil
	}
	fi, statErr := os.Stat(p)
	switch {
	case statErr != nil && errors.Is(statErr, fs.ErrNotExist):
		if _, err := os.Lstat(p); err != nil {
			// Gone again (a temporary file, a rename in progress).
			if known {
				c.Missing++
				d.send(ctx, op{missing: p})
			}
			return false, nil
		}
		// A dangling symbolic link: the worker records why.
	case statErr != nil:
		// Unreadable, a symlink loop...: queue it so the reason is recorded.
	case fi.IsDir():
		var cc ScanCounts
		switch {
		case depth == 0:
			// A watcher event: the scan goroutine walks it; the watcher's
			// events go on meanwhile.
			d.scans.add(p)
			return false, nil
		case depth > maxFlips:
			return false, fmt.Errorf("%s keeps changing between file and folder; the next scan looks again", p)
		default:
			cc, err = d.walk(ctx, p, depth+1)
		}
		c.Seen += cc.Seen - 1
		c.Queued += cc.Queued
		c.Touched += cc.Touched
		c.Missing += cc.Missing
		return false, err
	case known && rec.State == StatePending:
		return false, nil // already queued
	case known && rec.Size == fi.Size() && rec.ModTime.Equal(fi.ModTime()):
		return false, nil // unchanged
	case known && rec.Hash != "":
		// Size or mtime differ: compare the content before analysing again.
		h, err := d.hashFile(p)
		if err == nil && h == rec.Hash {
			c.Touched++
			return false, d.send(ctx, op{touch: &FileRecord{Path: p, Size: fi.Size(), ModTime: fi.ModTime()}})
		}
	}
	reason := "new"
	if known {
		reason = "changed"
	}
	d.dropCompanions(ctx, p, c)
	if err := d.send(ctx, op{enqueue: p, reason: reason}); err != nil {
		return false, err
	}
	c.Queued++
	return true, nil
}

// hashFile returns the lower-case hex sha256 of the file at p, opened
// through the library's confinement (a link leading out is never read).
func (d *Daemon) hashFile(p string) (string, error) {
	f, err := d.opt.Confine.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isCompanion reports whether the file at p is analysed through a still
// (media.PrimaryOf: the raw of a RAW+JPEG pair, a Live Photo's MOV).
func isCompanion(p string) bool {
	_, ok := media.PrimaryOf(p)
	return ok
}

// dropCompanions: the still p arrived or changed; its companions that were
// analysed on their own before it (a Live Photo's MOV copied first, a raw
// before its JPEG) leave the index, so the moment is counted once.
func (d *Daemon) dropCompanions(ctx context.Context, p string, c *ScanCounts) {
	for _, m := range append(media.LiveVideos(p), media.Companions(p)...) {
		if _, known, err := d.deps.Store.File(ctx, m); err == nil && known {
			c.Missing++
			d.send(ctx, op{missing: m})
		}
	}
}
