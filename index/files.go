package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/faced/faced/face"
)

// Status is the analysis state of a file.
type Status string

// File states.
const (
	StatusPending Status = "pending" // known, not (re-)analysed yet
	StatusDone    Status = "done"    // analysed; faces are current
	StatusFailed  Status = "failed"  // analysis failed; Error says why
	StatusGone    Status = "gone"    // vanished from disk; kept for rename detection
)

// Visibility is the seed's "potentially public" verdict for a file.
type Visibility string

// Visibility values.
const (
	VisibilityUnknown Visibility = ""
	VisibilityPrivate Visibility = "private"
	VisibilityPublic  Visibility = "public"
)

// File is one photo or video the index knows.
type File struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	// ModTime is the file's modification time as last seen on disk.
	ModTime time.Time `json:"mtime"`
	// Hash is the lower-case hex SHA-256 of the content ("" when not hashed).
	Hash string    `json:"hash,omitempty"`
	Kind face.Kind `json:"kind"`
	// Media is the kind in faced's media table as the last analysis found
	// it (face.Result.Media: photo, raw, motion, video; "" before one).
	Media string `json:"media,omitempty"`
	// CaptureTime is when the photo was taken (zero: unknown);
	// CaptureSource says where it came from (exif, quicktime, mtime, ...).
	CaptureTime   time.Time `json:"capture_time,omitzero"`
	CaptureSource string    `json:"capture_source,omitempty"`
	Status        Status    `json:"status"`
	Error         string    `json:"error,omitempty"`
	// Model names the model set of the last analysis.
	Model      string    `json:"model,omitempty"`
	AnalysedAt time.Time `json:"analysed_at,omitzero"`
	// Analyses counts the committed analyses of this path.
	Analyses     int        `json:"analyses"`
	Width        int        `json:"width"`
	Height       int        `json:"height"`
	StoredWidth  int        `json:"stored_width"`
	StoredHeight int        `json:"stored_height"`
	Orientation  int        `json:"orientation"`
	Visibility   Visibility `json:"visibility,omitempty"`
	// ExportRev grows whenever what an exporter would write for this file
	// changes (faces, names, visibility); ExportedRev is the revision last
	// written. The file needs export while ExportRev > ExportedRev.
	ExportRev   int64 `json:"export_rev"`
	ExportedRev int64 `json:"exported_rev"`
}

const fileCols = `id, path, size, mtime, hash, kind, capture_time, capture_source, status, error, model,
	analysed_at, analyses, width, height, stored_width, stored_height, orientation, visibility, export_rev, exported_rev, media`

type rowScanner interface{ Scan(dest ...any) error }

func scanFile(r rowScanner) (File, error) {
	var f File
	var mtime int64
	var capt, analysed sql.NullInt64
	var kind, status, vis string
	err := r.Scan(&f.ID, &f.Path, &f.Size, &mtime, &f.Hash, &kind, &capt, &f.CaptureSource, &status, &f.Error,
		&f.Model, &analysed, &f.Analyses, &f.Width, &f.Height, &f.StoredWidth, &f.StoredHeight, &f.Orientation,
		&vis, &f.ExportRev, &f.ExportedRev, &f.Media)
	if err != nil {
		return File{}, err
	}
	f.ModTime = fromNS(sql.NullInt64{Int64: mtime, Valid: mtime != 0})
	f.Kind, f.Status, f.Visibility = face.Kind(kind), Status(status), Visibility(vis)
	f.CaptureTime, f.AnalysedAt = fromNS(capt), fromNS(analysed)
	return f, nil
}

// queryAll runs the query q and scans every row with scan. Errors of the
// query and of a row are wrapped with what; the error of the iteration
// rowsQuerier is a *sql.DB, *sql.Tx or the index's reader.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// (rows.Err) is returned as it is.
func queryAll[T any](ctx context.Context, db rowsQuerier, scan func(rowScanner) (T, error), what, q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var vs []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

func checkKind(k face.Kind) (face.Kind, error) {
	switch k {
	case "":
		return face.KindPhoto, nil
	case face.KindPhoto, face.KindVideo:
		return k, nil
	}
	return "", fmt.Errorf("%w: file kind %q (want photo or video)", ErrInvalid, k)
}

// UpsertFile records what is on disk for f.Path: size, mtime, hash, kind and
// capture time (other fields of f are ignored; analysis results arrive with
// RecordAnalysis or ReplaceFaces). A new path starts pending. A known path
// whose hash changed, or that was gone, becomes pending again. It returns the
// file id, which stays the same for the life of the path.
func (ix *Index) UpsertFile(ctx context.Context, f File) (int64, error) {
	var id int64
	err := ix.write(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = ix.upsertFile(ctx, tx, f)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("upsert file %s: %w", f.Path, err)
	}
	return id, nil
}

func (ix *Index) upsertFile(ctx context.Context, tx *sql.Tx, f File) (int64, error) {
	if f.Path == "" {
		return 0, fmt.Errorf("%w: empty path", ErrInvalid)
	}
	kind, err := checkKind(f.Kind)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO files (path, size, mtime, hash, kind, capture_time, capture_source)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET
			status = CASE WHEN files.status = 'gone'
			              OR (excluded.hash <> '' AND files.hash <> '' AND excluded.hash <> files.hash)
			         THEN 'pending' ELSE files.status END,
			gone_at = NULL,
			size = excluded.size, mtime = excluded.mtime,
			hash = CASE WHEN excluded.hash <> '' THEN excluded.hash ELSE files.hash END,
			kind = excluded.kind,
			capture_time = COALESCE(excluded.capture_time, files.capture_time),
			capture_source = CASE WHEN excluded.capture_time IS NOT NULL THEN excluded.capture_source ELSE files.capture_source END
		RETURNING id`,
		f.Path, f.Size, ns(f.ModTime).Int64, f.Hash, string(kind), ns(f.CaptureTime), f.CaptureSource).Scan(&id)
	return id, err
}

// FileByPath returns the file at path, or ErrNotFound.
func (ix *Index) FileByPath(ctx context.Context, path string) (File, error) {
	return ix.fileWhere(ctx, "path", path, path)
}

// FileByID returns the file with id, or ErrNotFound.
func (ix *Index) FileByID(ctx context.Context, id int64) (File, error) {
	return ix.fileWhere(ctx, "id", id, fmt.Sprintf("#%d", id))
}

// fileWhere returns the file whose unique column col (path or id) is key,
// or ErrNotFound; errors name the file as name.
func (ix *Index) fileWhere(ctx context.Context, col string, key any, name string) (File, error) {
	f, err := scanFile(ix.rd().QueryRowContext(ctx, `SELECT `+fileCols+` FROM files WHERE `+col+` = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("file %s: %w", name, err)
	}
	return f, nil
}

// FileByHash returns the files whose content hash is hash, gone files first
// (those are the candidates for a rename), then by id. It returns an empty
// slice when there is none.
func (ix *Index) FileByHash(ctx context.Context, hash string) ([]File, error) {
	if hash == "" {
		return nil, fmt.Errorf("files by hash: %w: empty hash", ErrInvalid)
	}
	return queryAll(ctx, ix.rd(), scanFile, "files by hash "+hash, `SELECT `+fileCols+` FROM files WHERE hash = ?
		ORDER BY status = 'gone' DESC, id`, hash)
}

// MoveFile renames a file in the index: the row, its id, faces and
// assignments move to newPath, and the file needs export again (its sidecar
// belongs next to the new name). A gone file becomes done again when it had
// been analysed. It fails when newPath is already known (remove it first).
func (ix *Index) MoveFile(ctx context.Context, oldPath, newPath string) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		return changedSome(tx.ExecContext(ctx, `UPDATE files SET path = ?, gone_at = NULL,
			status = CASE WHEN status = 'gone' THEN CASE WHEN analysed_at IS NULL THEN 'pending' ELSE 'done' END ELSE status END,
			export_rev = export_rev + 1
			WHERE path = ?`, newPath, oldPath))
	})
	if err != nil {
		return fmt.Errorf("move file %s to %s: %w", oldPath, newPath, err)
	}
	return nil
}

// changedSome passes on the error of an UPDATE or DELETE, and is
// ErrNotFound when it changed no row.
func changedSome(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// MarkGone records that path vanished from disk. Its faces stay so that a
// rename detected later (FileByHash + MoveFile) keeps them; PurgeGone or
// RemoveFile drops them for good.
func (ix *Index) MarkGone(ctx context.Context, path string) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if err := changedSome(tx.ExecContext(ctx, `UPDATE files SET status = 'gone', gone_at = ? WHERE path = ?`,
			ix.now().UnixNano(), path)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM queue WHERE path = ?`, path)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark gone %s: %w", path, err)
	}
	return nil
}

// PurgeGone removes files that have been gone since before cutoff, with
// their faces, and returns how many it removed.
func (ix *Index) PurgeGone(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := ix.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM files WHERE status = 'gone' AND gone_at < ?`, cutoff.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge gone files: %w", err)
	}
	return int(n), nil
}

// RemoveFile deletes path from the index: the file, its faces, their
// assignments, cannot-links and age samples, and its queue entry.
func (ix *Index) RemoveFile(ctx context.Context, path string) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM queue WHERE path = ?`, path); err != nil {
			return err
		}
		return changedSome(tx.ExecContext(ctx, `DELETE FROM files WHERE path = ?`, path))
	})
	if err != nil {
		return fmt.Errorf("remove file %s: %w", path, err)
	}
	return nil
}

// MarkFailed records that analysing path failed with cause: the file (created
// when unknown) becomes failed with the error text, which Stats reports.
func (ix *Index) MarkFailed(ctx context.Context, path string, cause error) error {
	err := ix.write(ctx, func(tx *sql.Tx) error { return ix.markFailed(ctx, tx, path, cause) })
	if err != nil {
		return fmt.Errorf("mark failed %s: %w", path, err)
	}
	return nil
}

func (ix *Index) markFailed(ctx context.Context, tx *sql.Tx, path string, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO files (path, status, error, error_at) VALUES (?, 'failed', ?, ?)
		ON CONFLICT (path) DO UPDATE SET status = 'failed', error = excluded.error, error_at = excluded.error_at`,
		path, msg, ix.now().UnixNano())
	return err
}

// Files returns the files with the given status ("" = all), ordered by path.
func (ix *Index) Files(ctx context.Context, status Status) ([]File, error) {
	q := `SELECT ` + fileCols + ` FROM files`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, string(status))
	}
	return queryAll(ctx, ix.rd(), scanFile, "list files", q+` ORDER BY path`, args...)
}

// FilesNeedingExport returns up to limit analysed files (limit <= 0: all)
// whose export revision is ahead of the exported one, oldest id first.
func (ix *Index) FilesNeedingExport(ctx context.Context, limit int) ([]File, error) {
	if limit <= 0 {
		limit = -1
	}
	return queryAll(ctx, ix.rd(), scanFile, "files needing export", `SELECT `+fileCols+` FROM files
		WHERE export_rev > exported_rev AND status = 'done' ORDER BY id LIMIT ?`, limit)
}

// MarkExported records that revision rev of file id was written. A newer
// revision that arrived meanwhile stays pending.
func (ix *Index) MarkExported(ctx context.Context, id, rev int64) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		return changedSome(tx.ExecContext(ctx, `UPDATE files SET exported_rev = MAX(exported_rev, MIN(?, export_rev)) WHERE id = ?`, rev, id))
	})
	if err != nil {
		return fmt.Errorf("mark exported file #%d: %w", id, err)
	}
	return nil
}

// SetVisibility stores the "potentially public" verdict per file id and bumps
// the export revision of the files whose verdict changed.
func (ix *Index) SetVisibility(ctx context.Context, v map[int64]Visibility) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE files SET visibility = ?1, export_rev = export_rev + 1
			WHERE id = ?2 AND visibility <> ?1`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, vis := range v {
			switch vis {
			case VisibilityUnknown, VisibilityPrivate, VisibilityPublic:
			default:
				return fmt.Errorf("%w: visibility %q for file #%d", ErrInvalid, vis, id)
			}
			if _, err := st.ExecContext(ctx, string(vis), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set visibility: %w", err)
	}
	return nil
}

// bumpExportOfPersons bumps the export revision of every file holding a face
// assigned to one of the persons.
func bumpExportOfPersons(ctx context.Context, tx *sql.Tx, persons ...int64) error {
	for _, p := range persons {
		if _, err := tx.ExecContext(ctx, `UPDATE files SET export_rev = export_rev + 1 WHERE id IN
			(SELECT file_id FROM person_files WHERE person_id = ?)`, p); err != nil {
			return err
		}
	}
	return nil
}

// bumpExportOfFaces bumps the export revision of the files holding the faces.
func (ix *Index) bumpExportOfFaces(ctx context.Context, tx *sql.Tx, faceIDs []int64) error {
	if len(faceIDs) == 0 {
		return nil
	}
	st, err := ix.stmt(ctx, tx, qBumpExportOfFace)
	if err != nil {
		return err
	}
	for _, id := range faceIDs {
		if _, err := st.ExecContext(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
