package index

import (
	"context"
	"fmt"
	"time"
)

// Stats summarises the index for `facedctl status`.
type Stats struct {
	Files         map[Status]int `json:"files"`
	Faces         int            `json:"faces"`
	AssignedFaces int            `json:"assigned_faces"`
	Persons       int            `json:"persons"` // active persons
	NamedPersons  int            `json:"named_persons"`
	OptedOut      int            `json:"opted_out"`
	QueueWaiting  int            `json:"queue_waiting"`
	QueueLeased   int            `json:"queue_leased"`
	ExportPending int            `json:"export_pending"`
	// Media counts the analysed (done) files by media kind (File.Media:
	// photo, raw, motion, video).
	Media map[string]int `json:"media,omitempty"`
	// Errors are the most recent failures, newest first.
	Errors []FileError `json:"errors,omitempty"`
}

// FileError is one failed file with the reason.
type FileError struct {
	Path  string    `json:"path"`
	Error string    `json:"error"`
	At    time.Time `json:"at,omitzero"`
}

// Stats counts files by status, faces, persons and queue entries, and lists
// the last lastErrors failures.
func (ix *Index) Stats(ctx context.Context, lastErrors int) (Stats, error) {
	// One read transaction: all counts come from the same snapshot.
	tx, err := ix.r.BeginTx(ctx, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	defer tx.Rollback()
	st := Stats{Files: map[Status]int{StatusPending: 0, StatusDone: 0, StatusFailed: 0, StatusGone: 0}}
	rows, err := tx.QueryContext(ctx, `SELECT status, COUNT(*) FROM files GROUP BY status`)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		st.Files[Status(s)] = n
	}
	rows.Close()
	st.Media = map[string]int{}
	rows, err = tx.QueryContext(ctx, `SELECT media, COUNT(*) FROM files WHERE status = 'done' AND media <> '' GROUP BY media`)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			rows.Close()
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		st.Media[m] = n
	}
	rows.Close()
	err = tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM faces),
		(SELECT COUNT(*) FROM assignments),
		(SELECT COUNT(*) FROM persons WHERE opt_out = 0 AND merged_into IS NULL),
		(SELECT COUNT(*) FROM persons WHERE opt_out = 0 AND merged_into IS NULL AND name <> ''),
		(SELECT COUNT(*) FROM persons WHERE opt_out = 1),
		(SELECT COUNT(*) - COUNT(leased_by) FROM queue),
		(SELECT COUNT(leased_by) FROM queue),
		(SELECT COUNT(*) FROM files WHERE export_rev > exported_rev AND status = 'done')`).Scan(
		&st.Faces, &st.AssignedFaces, &st.Persons, &st.NamedPersons, &st.OptedOut, &st.QueueWaiting, &st.QueueLeased,
		&st.ExportPending)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	if lastErrors > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT path, error, COALESCE(error_at, 0) FROM files WHERE status = 'failed'
			ORDER BY error_at DESC, id DESC LIMIT ?`, lastErrors)
		if err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e FileError
			var at int64
			if err := rows.Scan(&e.Path, &e.Error, &at); err != nil {
				return Stats{}, fmt.Errorf("stats: %w", err)
			}
			if at != 0 {
				e.At = time.Unix(0, at)
			}
			st.Errors = append(st.Errors, e)
		}
		if err := rows.Err(); err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
	}
	return st, nil
}
