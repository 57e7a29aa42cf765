package index

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faced/faced/face"
)

// AgeSample is one labelled face for training an age head: the person's
// birth year comes from a user or a sidecar (never from the model itself),
// the capture time from the photo's metadata (not its mtime).
type AgeSample struct {
	FaceID      int64     `json:"face_id"`
	PersonID    int64     `json:"person_id"`
	FileID      int64     `json:"file_id"`
	Path        string    `json:"path"`
	Box         face.Box  `json:"box"` // upright pixels
	BirthYear   int       `json:"birth_year"`
	CaptureTime time.Time `json:"capture_time"`
	// Age is the label: years from the middle of the birth year to capture.
	Age float64 `json:"age"`
	// PredictedAge is what the model said when the face was analysed.
	PredictedAge float64 `json:"predicted_age"`
}

// RefreshAgeSamples rebuilds the age samples from the current persons and
// faces and returns how many there are.
func (ix *Index) RefreshAgeSamples(ctx context.Context) (int, error) {
	var n int64
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM age_samples`); err != nil {
			return err
		}
		// capture_time is Unix ns; the year fraction uses the day of year.
		res, err := tx.ExecContext(ctx, `INSERT INTO age_samples (face_id, person_id, birth_year, capture_time, age, predicted_age, created_at)
			SELECT f.id, p.id, p.birth_year, fi.capture_time,
				CAST(strftime('%Y', fi.capture_time / 1000000000, 'unixepoch') AS REAL)
				+ (CAST(strftime('%j', fi.capture_time / 1000000000, 'unixepoch') AS REAL) - 1) / 365.25
				- (p.birth_year + 0.5),
				f.age, ?
			FROM faces f
			JOIN assignments a ON a.face_id = f.id
			JOIN persons p ON p.id = a.person_id
			JOIN files fi ON fi.id = f.file_id
			WHERE p.birth_year IS NOT NULL AND p.birth_year_source IN ('user', 'sidecar') AND p.opt_out = 0
				AND fi.capture_time IS NOT NULL AND fi.capture_source <> 'mtime' AND fi.status = 'done'`,
			ix.now().UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("refresh age samples: %w", err)
	}
	return int(n), nil
}

// AgeSamples returns the stored age samples by face id. Samples with a
// negative age label (capture before birth: a wrong date or birth year) are
// included so the caller can count and drop them.
func (ix *Index) AgeSamples(ctx context.Context) ([]AgeSample, error) {
	return queryAll(ctx, ix.rd(), scanAgeSample, "read age samples", `SELECT s.face_id, s.person_id, f.file_id, fi.path, f.x1, f.y1, f.x2, f.y2,
		s.birth_year, s.capture_time, s.age, s.predicted_age
		FROM age_samples s JOIN faces f ON f.id = s.face_id JOIN files fi ON fi.id = f.file_id ORDER BY s.face_id`)
}

func scanAgeSample(r rowScanner) (AgeSample, error) {
	var s AgeSample
	var capt int64
	if err := r.Scan(&s.FaceID, &s.PersonID, &s.FileID, &s.Path, &s.Box.X1, &s.Box.Y1, &s.Box.X2, &s.Box.Y2,
		&s.BirthYear, &capt, &s.Age, &s.PredictedAge); err != nil {
		return AgeSample{}, err
	}
	s.CaptureTime = time.Unix(0, capt)
	return s, nil
}
