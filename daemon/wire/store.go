package wire

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faced/faced/daemon"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/media"
	"github.com/faced/faced/persons"
)

// Store is the index seen as the daemon's Store.
type Store struct {
	ix     *index.Index
	worker string
	// OnDone, when set, is told the id of every file whose analysis was
	// stored (Persons.NoteDone: its visibility must be decided).
	OnDone func(fileID int64)
	// Thumbs, when set, is the face thumbnail cache: the thumbnails of a
	// removed file's faces go with them.
	Thumbs *persons.Thumbs
}

var _ daemon.Store = (*Store)(nil)

// NewStore wraps ix. Leases are taken in the name of this process.
func NewStore(ix *index.Index) *Store {
	h, _ := os.Hostname()
	return &Store{ix: ix, worker: fmt.Sprintf("faced@%s:%d", h, os.Getpid())}
}

// KindOf tells a video from a photo by the extension (the media table).
func KindOf(p string) face.Kind {
	if e, ok := media.ByPath(p); ok && e.Kind.IsVideo() {
		return face.KindVideo
	}
	return face.KindPhoto
}

func record(f index.File) daemon.FileRecord {
	r := daemon.FileRecord{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Hash: f.Hash, Reason: f.Error}
	switch f.Status {
	case index.StatusDone:
		r.State = daemon.StateDone
	case index.StatusFailed:
		r.State = daemon.StateFailed
	case index.StatusGone:
		if !f.AnalysedAt.IsZero() {
			r.State = daemon.StateDone
		}
	}
	return r
}

func (s *Store) File(ctx context.Context, p string) (daemon.FileRecord, bool, error) {
	f, err := s.ix.FileByPath(ctx, p)
	if errors.Is(err, index.ErrNotFound) || (err == nil && f.Status == index.StatusGone) {
		return daemon.FileRecord{}, false, nil
	}
	if err != nil {
		return daemon.FileRecord{}, false, err
	}
	return record(f), true, nil
}

func (s *Store) Files(ctx context.Context, dir string) ([]daemon.FileRecord, error) {
	fs, err := s.ix.Files(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []daemon.FileRecord
	for _, f := range fs {
		if f.Status == index.StatusGone {
			continue
		}
		if dir == "" || f.Path == dir || strings.HasPrefix(f.Path, dir+string(filepath.Separator)) {
			out = append(out, record(f))
		}
	}
	return out, nil
}

func (s *Store) FileByHash(ctx context.Context, h string) ([]daemon.FileRecord, error) {
	fs, err := s.ix.FileByHash(ctx, h)
	if err != nil {
		return nil, err
	}
	out := make([]daemon.FileRecord, 0, len(fs))
	for _, f := range fs {
		out = append(out, record(f))
	}
	return out, nil
}

func (s *Store) Stats(ctx context.Context) (daemon.Stats, error) {
	st, err := s.ix.Stats(ctx, 0)
	if err != nil {
		return daemon.Stats{}, err
	}
	q := st.QueueWaiting + st.QueueLeased
	return daemon.Stats{Done: st.Files[index.StatusDone], Failed: st.Files[index.StatusFailed], Pending: q,
		Queue: q, Faces: st.Faces, Persons: st.Persons, Media: st.Media}, nil
}

func (s *Store) Failures(ctx context.Context, n int) ([]daemon.FileRecord, error) {
	st, err := s.ix.Stats(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]daemon.FileRecord, 0, len(st.Errors))
	for _, e := range st.Errors {
		out = append(out, daemon.FileRecord{Path: e.Path, State: daemon.StateFailed, Reason: e.Error, Time: e.At})
	}
	return out, nil
}

func (s *Store) PendingExports(ctx context.Context, n int) ([]daemon.ExportItem, error) {
	fs, err := s.ix.FilesNeedingExport(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]daemon.ExportItem, 0, len(fs))
	for _, f := range fs {
		out = append(out, daemon.ExportItem{Path: f.Path, Rev: f.ExportRev})
	}
	return out, nil
}

func (s *Store) Enqueue(ctx context.Context, p, reason string) error {
	return s.ix.Enqueue(ctx, p, reason)
}

func (s *Store) Touch(ctx context.Context, p string, size int64, mt time.Time) error {
	_, err := s.ix.UpsertFile(ctx, index.File{Path: p, Size: size, ModTime: mt, Kind: KindOf(p)})
	return err
}

func (s *Store) Rename(ctx context.Context, from, to string, size int64, mt time.Time) error {
	if _, err := s.ix.FileByPath(ctx, to); err == nil {
		// A failed or stale entry under the new name gives way.
		if err := s.ix.RemoveFile(ctx, to); err != nil && !errors.Is(err, index.ErrNotFound) {
			return err
		}
	}
	if err := s.ix.MoveFile(ctx, from, to); err != nil {
		return err
	}
	_, err := s.ix.UpsertFile(ctx, index.File{Path: to, Size: size, ModTime: mt, Kind: KindOf(to)})
	return err
}

func (s *Store) Remove(ctx context.Context, p string) error {
	var ids []int64
	if s.Thumbs != nil {
		if f, err := s.ix.FileByPath(ctx, p); err == nil {
			fs, err := s.ix.Faces(ctx, index.FaceQuery{FileID: f.ID, NoFeatures: true})
			if err != nil {
				return err
			}
			for _, fc := range fs {
				ids = append(ids, fc.ID)
			}
		}
	}
	if err := s.ix.RemoveFile(ctx, p); err != nil && !errors.Is(err, index.ErrNotFound) {
		return err
	}
	if len(ids) > 0 {
		if err := s.Thumbs.Remove(ids); err != nil {
			return fmt.Errorf("remove thumbnails of %s: %w", p, err)
		}
	}
	return nil
}

func (s *Store) RecoverLeases(ctx context.Context, maxAttempts int) (int, int, error) {
	return s.ix.RecoverLeases(ctx, maxAttempts)
}

func (s *Store) Lease(ctx context.Context, n int) ([]daemon.Job, error) {
	items, err := s.ix.Lease(ctx, s.worker, n)
	if err != nil {
		return nil, err
	}
	jobs := make([]daemon.Job, len(items))
	for i, it := range items {
		jobs[i] = daemon.Job{ID: it.ID, Path: it.Path, Lease: it}
	}
	return jobs, nil
}

func item(j daemon.Job) index.QueueItem { return j.Lease.(index.QueueItem) }

func (s *Store) Done(ctx context.Context, j daemon.Job, size int64, mt time.Time, h string, res *face.Result) error {
	it := item(j)
	if _, ok := media.PrimaryOf(j.Path); ok {
		// Its still arrived while it was analysed (a Live Photo's MOV
		// copied first, a raw before its JPEG): the moment is the
		// still's; the companion's own entry goes.
		if err := s.ix.Done(ctx, it); err != nil {
			return err
		}
		return s.Remove(ctx, j.Path)
	}
	// Capture time: the photo's own EXIF date when it has one; the file's
	// mtime otherwise (the seed's only source, which copies and backups
	// rewrite).
	capture, src := mt, "mtime"
	if !res.CaptureTime.IsZero() {
		capture, src = res.CaptureTime, "exif"
	}
	id, _, err := s.ix.RecordAnalysis(ctx, index.Analysis{Item: &it,
		File: index.File{Path: j.Path, Size: size, ModTime: mt, Hash: h, Kind: res.Kind,
			CaptureTime: capture, CaptureSource: src},
		Result: *res})
	if err == nil && s.OnDone != nil {
		s.OnDone(id)
	}
	return err
}

func (s *Store) Fail(ctx context.Context, j daemon.Job, size int64, mt time.Time, h, reason string) error {
	if !mt.IsZero() {
		if _, err := s.ix.UpsertFile(ctx, index.File{Path: j.Path, Size: size, ModTime: mt, Hash: h, Kind: KindOf(j.Path)}); err != nil {
			return err
		}
	}
	return s.ix.Fail(ctx, item(j), errors.New(reason))
}

func (s *Store) Requeue(ctx context.Context, j daemon.Job) error { return s.ix.Requeue(ctx, item(j)) }

func (s *Store) Drop(ctx context.Context, j daemon.Job) error { return s.ix.Done(ctx, item(j)) }

func (s *Store) RetryFailed(ctx context.Context) (int, error) {
	fs, err := s.ix.Files(ctx, index.StatusFailed)
	if err != nil || len(fs) == 0 {
		return 0, err
	}
	es := make([]index.QueueEntry, len(fs))
	for i, f := range fs {
		es[i] = index.QueueEntry{Path: f.Path, Reason: "retry"}
	}
	if _, err := s.ix.EnqueueMany(ctx, es); err != nil {
		return 0, err
	}
	return len(fs), nil
}

func (s *Store) Exported(ctx context.Context, it daemon.ExportItem) error {
	f, err := s.ix.FileByPath(ctx, it.Path)
	if err != nil {
		return err
	}
	return s.ix.MarkExported(ctx, f.ID, it.Rev)
}
