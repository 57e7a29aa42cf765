package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// process is one worker's handling of a leased job: checks, content hash,
// rename detection, analysis.
func (c *coordinator) process(ctx context.Context, job Job) result {
	d := c.d
	r := result{job: job}
	fi, err := os.Stat(job.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, lerr := os.Lstat(job.Path); errors.Is(lerr, fs.ErrNotExist) {
				r.gone = true
				return r
			}
			r.err = errors.New("dangling symbolic link")
			return r
		}
		r.err = fmt.Errorf("cannot open: %w", unwrapPath(err))
		return r
	}
	r.size, r.mtime = fi.Size(), fi.ModTime()
	if !fi.Mode().IsRegular() {
		r.err = fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
		return r
	}
	if fi.Size() == 0 {
		r.err = errors.New("empty file (0 bytes)")
		return r
	}
	if d.opt.MaxSize != nil {
		// From stat, before reading: a 10 GB sparse .jpg was hashed in full.
		if lim := d.opt.MaxSize(job.Path); lim > 0 && fi.Size() > lim {
			r.err = fmt.Errorf("file is %d MB, more than the %d MB allowed", fi.Size()>>20, lim>>20)
			return r
		}
	}
	h, err := d.hashFile(job.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.gone = true
			return r
		}
		r.err = fmt.Errorf("cannot read: %w", unwrapPath(err))
		return r
	}
	r.hash = h
	if rec, ok, err := d.deps.Store.File(ctx, job.Path); err == nil && ok && rec.State == StateDone && rec.Hash == h {
		r.same = true
		return r
	}
	if recs, err := d.deps.Store.FileByHash(ctx, h); err == nil {
		for _, rec := range recs {
			if rec.Path == job.Path || rec.State != StateDone {
				continue
			}
			if _, err := os.Lstat(rec.Path); errors.Is(err, fs.ErrNotExist) {
				r.renameFrom = rec.Path
				return r
			}
		}
	}
	d.log.Debug("analysing", "file", job.Path)
	res, err := d.deps.Analyzer.Analyze(ctx, job.Path)
	if d.opt.OnAnalyzed != nil {
		d.opt.OnAnalyzed(job.Path, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			r.cancelled = true
			return r
		}
		r.err = unwrapPath(err)
		return r
	}
	if res == nil {
		r.err = errors.New("analyzer returned no result")
		return r
	}
	// A file still being written is analysed again once it settles.
	if fi2, err := os.Stat(job.Path); err != nil || fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		if err != nil && errors.Is(err, fs.ErrNotExist) {
			r.gone = true
		} else {
			r.changed = true
		}
		return r
	}
	r.res = res
	return r
}

// unwrapPath drops the *fs.PathError wrapper: the path is reported beside
// the reason already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
