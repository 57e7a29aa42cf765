package index

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/faced/faced/face"
)

// KeepIoU is the overlap above which a re-detected face keeps the id (and so
// the assignment, cannot-links and name) of the old face it overlaps.
const KeepIoU = 0.5

// Source says who made an assignment or set a person attribute.
type Source string

// Sources, strongest first: a user decision is never overwritten by an
// automatic one; a sidecar (digiKam, Lightroom) name beats an automatic one.
const (
	SourceNone    Source = ""
	SourceUser    Source = "user"
	SourceSidecar Source = "sidecar"
	SourceAuto    Source = "auto"
)

func (s Source) rank() int {
	switch s {
	case SourceUser:
		return 3
	case SourceSidecar:
		return 2
	case SourceAuto:
		return 1
	}
	return 0
}

// FaceRecord is a face as stored: the analysis output plus its ids, its file's
// capture time and its person.
type FaceRecord struct {
	ID     int64  `json:"id"`
	FileID int64  `json:"file_id"`
	Path   string `json:"path"`
	face.Face
	// BirthYear is the face's birth-year estimate, the seed's
	// capture year − (age − 0.5); 0 when the file has no date.
	BirthYear float64 `json:"birth_year,omitempty"`
	Model     string  `json:"model,omitempty"`
	// CaptureTime is the file's capture time, its mtime when unknown.
	CaptureTime time.Time `json:"capture_time"`
	// CaptureSource says where CaptureTime came from (exif, quicktime,
	// mtime; "" when the file has no capture time and CaptureTime is its
	// mtime).
	CaptureSource string `json:"capture_source,omitempty"`
	// PersonID is the assigned person (0: none) and Source who assigned it.
	PersonID int64  `json:"person_id,omitempty"`
	Source   Source `json:"source,omitempty"`
	// ForgottenBy is the opted-out person this face belonged to (0: none).
	// Such a face must never be assigned again automatically.
	ForgottenBy int64 `json:"forgotten_by,omitempty"`
	// Rev is the change revision of the face's last change (see FaceChanges).
	Rev int64 `json:"rev"`
}

// encodeFeatures packs v as little-endian float32.
func encodeFeatures(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeFeatures unpacks little-endian float32 into dst (grown as needed).
func decodeFeatures(dst []float32, b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("feature blob of %d bytes is not a float32 vector", len(b))
	}
	n := len(b) / 4
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst, nil
}

func encodeLandmarks(l [10]float64) []byte {
	b := make([]byte, 80)
	for i, x := range l {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

func decodeLandmarks(b []byte) (l [10]float64) {
	if len(b) != 80 {
		return l
	}
	for i := range l {
		l[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return l
}

func validFace(i int, f face.Face) error {
	if len(f.Features) == 0 {
		return fmt.Errorf("%w: face %d has no features", ErrInvalid, i)
	}
	for _, x := range f.Features {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: face %d has a non-finite feature", ErrInvalid, i)
		}
	}
	for _, x := range []float64{f.Box.X1, f.Box.Y1, f.Box.X2, f.Box.Y2, f.Age, f.MaleProb, f.Score} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: face %d has a non-finite box, age, gender or score", ErrInvalid, i)
		}
	}
	return nil
}

// birthYear is the seed's per-face estimate: year − (age − 0.5), with the
// capture time (mtime when unknown, as the seed does) giving the year.
func birthYear(capture time.Time, age float64) sql.NullFloat64 {
	if capture.IsZero() || age <= 0 {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: float64(capture.Year()) - (age - 0.5), Valid: true}
}

// ReplaceFaces replaces the faces of file fileID with faces (from model) in
// one transaction and returns the ids of faces in the order given. A new face
// whose upright box overlaps an old face by IoU > KeepIoU takes over that
// face's id (best overlaps first, one to one), so its assignment and
// cannot-links survive re-analysis; old faces left unmatched are deleted
// with their assignments. The file becomes done and needs export again.
func (ix *Index) ReplaceFaces(ctx context.Context, fileID int64, faces []face.Face, model string) ([]int64, error) {
	var ids []int64
	err := ix.write(ctx, func(tx *sql.Tx) error {
		var err error
		ids, err = ix.replaceFaces(ctx, tx, fileID, faces, model)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replace faces of file #%d: %w", fileID, err)
	}
	return ids, nil
}

type oldFace struct {
	id  int64
	box face.Box
}

func (ix *Index) replaceFaces(ctx context.Context, tx *sql.Tx, fileID int64, faces []face.Face, model string) ([]int64, error) {
	for i, f := range faces {
		if err := validFace(i, f); err != nil {
			return nil, err
		}
	}
	var capt sql.NullInt64
	var mtime int64
	var st [7]*sql.Stmt
	for i, q := range []string{qFileTimes, qOldFaces, qDeleteFace, qUpdateFace, qInsertFace, qSetFeatures, qFileAnalysed} {
		var err error
		if st[i], err = ix.stmt(ctx, tx, q); err != nil {
			return nil, err
		}
	}
	stTimes, stOld, stDel, upd, ins, stFeat, stDone := st[0], st[1], st[2], st[3], st[4], st[5], st[6]
	if err := stTimes.QueryRowContext(ctx, fileID).Scan(&capt, &mtime); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	when := fromNS(capt)
	if when.IsZero() && mtime != 0 {
		when = time.Unix(0, mtime)
	}
	rows, err := stOld.QueryContext(ctx, fileID)
	if err != nil {
		return nil, err
	}
	var old []oldFace
	for rows.Next() {
		var o oldFace
		if err := rows.Scan(&o.id, &o.box.X1, &o.box.Y1, &o.box.X2, &o.box.Y2); err != nil {
			rows.Close()
			return nil, err
		}
		old = append(old, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := matchFaces(old, faces)

	now := ix.now().UnixNano()
	kept := make(map[int64]bool)
	for _, id := range ids {
		if id != 0 {
			kept[id] = true
		}
	}
	for _, o := range old {
		if !kept[o.id] {
			if _, err := stDel.ExecContext(ctx, o.id); err != nil {
				return nil, err
			}
		}
	}
	for i, f := range faces {
		args := []any{f.FrameTime, f.Frames, f.Box.X1, f.Box.Y1, f.Box.X2, f.Box.Y2,
			f.StoredBox.X1, f.StoredBox.Y1, f.StoredBox.X2, f.StoredBox.Y2, f.Score, encodeLandmarks(f.Landmarks),
			f.Age, f.MaleProb, birthYear(when, f.Age), model}
		if ids[i] != 0 {
			if _, err := upd.ExecContext(ctx, append(args, now, ids[i])...); err != nil {
				return nil, err
			}
		} else if err := ins.QueryRowContext(ctx, append([]any{fileID}, append(args, now, now)...)...).Scan(&ids[i]); err != nil {
			return nil, err
		}
		if _, err := stFeat.ExecContext(ctx, ids[i], encodeFeatures(f.Features)); err != nil {
			return nil, err
		}
	}
	_, err = stDone.ExecContext(ctx, model, now, fileID)
	return ids, err
}

// Statements of the hot write paths, prepared once at Open (hotQueries).
const (
	qFileTimes  = `SELECT capture_time, mtime FROM files WHERE id = ?`
	qOldFaces   = `SELECT id, x1, y1, x2, y2 FROM faces WHERE file_id = ? ORDER BY id`
	qDeleteFace = `DELETE FROM faces WHERE id = ?`
	qUpdateFace = `UPDATE faces SET frame_time = ?, frames = ?, x1 = ?, y1 = ?, x2 = ?, y2 = ?,
		sx1 = ?, sy1 = ?, sx2 = ?, sy2 = ?, score = ?, landmarks = ?, age = ?, male_prob = ?, birth_year = ?,
		model = ?, updated_at = ? WHERE id = ?`
	qInsertFace = `INSERT INTO faces (file_id, frame_time, frames, x1, y1, x2, y2,
		sx1, sy1, sx2, sy2, score, landmarks, age, male_prob, birth_year, model, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// A forgotten face's features are never stored again (see Forget).
	qSetFeatures = `INSERT INTO face_features (face_id, features)
		SELECT ?1, ?2 WHERE (SELECT forgotten_by FROM faces WHERE id = ?1) IS NULL
		ON CONFLICT (face_id) DO UPDATE SET features = excluded.features`
	qFileAnalysed = `UPDATE files SET status = 'done', error = '', error_at = NULL, model = ?,
		analysed_at = ?, analyses = analyses + 1, export_rev = export_rev + 1 WHERE id = ?`
	qFaceState = `SELECT f.forgotten_by, a.person_id, a.source FROM faces f
		LEFT JOIN assignments a ON a.face_id = f.id WHERE f.id = ?`
	qCannotLinked = `SELECT COUNT(*) FROM cannot_link_persons WHERE face_id = ? AND person_id = ?`
	qUnassign     = `DELETE FROM assignments WHERE face_id = ?`
	// The face's file and display quality ride along (schema 0008: the
	// person counts and the person's faces in quality order).
	qAssign = `INSERT INTO assignments (face_id, person_id, source, assigned_at, file_id, quality)
		SELECT ?1, ?2, ?3, ?4, f.file_id, f.score * (f.x2 - f.x1) FROM faces f WHERE f.id = ?1
		ON CONFLICT (face_id) DO UPDATE SET person_id = excluded.person_id, source = excluded.source,
		assigned_at = excluded.assigned_at`
	qBumpExportOfFace = `UPDATE files SET export_rev = export_rev + 1 WHERE id = (SELECT file_id FROM faces WHERE id = ?)`
)

var hotQueries = []string{qFileTimes, qOldFaces, qDeleteFace, qUpdateFace, qInsertFace, qSetFeatures, qFileAnalysed,
	qFaceState, qCannotLinked, qUnassign, qAssign, qBumpExportOfFace}

// matchFaces pairs new faces with old ones by IoU > KeepIoU, best overlap
// first, one to one. ids[i] is the old id new face i takes over, or 0.
func matchFaces(old []oldFace, faces []face.Face) []int64 {
	type pair struct {
		iou    float64
		oi, ni int
	}
	var pairs []pair
	for oi, o := range old {
		for ni, f := range faces {
			if v := face.IoU(o.box, f.Box); v > KeepIoU {
				pairs = append(pairs, pair{v, oi, ni})
			}
		}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].iou > pairs[b].iou })
	ids := make([]int64, len(faces))
	usedOld := make([]bool, len(old))
	for _, p := range pairs {
		if usedOld[p.oi] || ids[p.ni] != 0 {
			continue
		}
		usedOld[p.oi] = true
		ids[p.ni] = old[p.oi].id
	}
	return ids
}

// Analysis is one finished analysis to commit.
type Analysis struct {
	// Item is the queue lease this analysis completes; nil when the file was
	// not leased from the queue.
	Item *QueueItem
	// File carries what is on disk (path, size, mtime, hash, kind, capture
	// time), as for UpsertFile.
	File File
	// Result is the analyser's output; its dimensions and orientation are
	// stored with the file and Result.Model names the models.
	Result face.Result
}

// RecordAnalysis commits one analysis atomically: it upserts the file, stores
// dimensions and model, replaces the faces (keeping ids as ReplaceFaces
// does) and completes the queue lease. If the lease was lost (ErrLeaseLost),
// nothing is written, so an item is never recorded twice. It returns the file
// id and the face ids in the order of a.Result.Faces.
func (ix *Index) RecordAnalysis(ctx context.Context, a Analysis) (int64, []int64, error) {
	var fileID int64
	var ids []int64
	path := a.File.Path
	if path == "" {
		path = a.Result.File
		a.File.Path = path
	}
	if a.File.Kind == "" {
		a.File.Kind = a.Result.Kind
	}
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if a.Item != nil {
			if a.Item.Path != path {
				return fmt.Errorf("%w: lease is for %s", ErrInvalid, a.Item.Path)
			}
			if err := ix.done(ctx, tx, *a.Item); err != nil {
				return err
			}
		}
		var err error
		if fileID, err = ix.upsertFile(ctx, tx, a.File); err != nil {
			return err
		}
		r := a.Result
		orient := r.Orientation
		if orient == 0 {
			orient = 1
		}
		if _, err := tx.ExecContext(ctx, `UPDATE files SET width = ?, height = ?, stored_width = ?, stored_height = ?,
			orientation = ?, media = ? WHERE id = ?`, r.Width, r.Height, r.StoredWidth, r.StoredHeight, orient, r.Media, fileID); err != nil {
			return err
		}
		ids, err = ix.replaceFaces(ctx, tx, fileID, r.Faces, r.Model)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("record analysis of %s: %w", path, err)
	}
	return fileID, ids, nil
}

// FaceQuery selects faces for FacesOf, AllFaces and LoadFaceSet.
type FaceQuery struct {
	FileID   int64 // only this file (0: any)
	PersonID int64 // only faces assigned to this person (0: any)
	// Unassigned selects only faces without a person (and not forgotten).
	Unassigned bool
	// Model keeps only faces made by this model ("" = any). Features of
	// different models are not comparable.
	Model string
	// SinceRev keeps only faces changed after this revision (see FaceChanges).
	SinceRev int64
	// IDs keeps only these faces (nil: any; an empty non-nil slice: none).
	IDs []int64
	// NoFeatures skips reading and decoding the feature vectors.
	NoFeatures bool
}

func (q FaceQuery) sql() (string, []any) {
	var where []string
	var args []any
	if q.FileID != 0 {
		where = append(where, "f.file_id = ?")
		args = append(args, q.FileID)
	}
	if q.PersonID != 0 {
		where = append(where, "a.person_id = ?")
		args = append(args, q.PersonID)
	}
	if q.Unassigned {
		where = append(where, "a.person_id IS NULL AND f.forgotten_by IS NULL")
	}
	if q.Model != "" {
		where = append(where, "f.model = ?")
		args = append(args, q.Model)
	}
	if q.SinceRev > 0 {
		// As a sub-select, so that SQLite takes the few changed ids from
		// the faces_rev index instead of scanning every face in id order.
		where = append(where, "f.id IN (SELECT id FROM faces WHERE rev > ?)")
		args = append(args, q.SinceRev)
	}
	if q.IDs != nil {
		// One JSON array parameter: no limit on the number of ids.
		b, _ := json.Marshal(q.IDs)
		if len(q.IDs) == 0 {
			b = []byte("[]")
		}
		where = append(where, "f.id IN (SELECT value FROM json_each(?))")
		args = append(args, string(b))
	}
	feat, join := "ff.features", " JOIN face_features ff ON ff.face_id = f.id"
	if q.NoFeatures {
		feat, join = "NULL", ""
	}
	s := faceSelect(feat, join)
	if len(where) > 0 {
		s += " WHERE " + strings.Join(where, " AND ")
	}
	return s + " ORDER BY f.id", args
}

// faceSelect selects the columns scanFace reads: features as feat (NULL:
// none), more tables joined by join.
func faceSelect(feat, join string) string {
	return `SELECT f.id, f.file_id, fi.path, f.frame_time, f.frames, f.x1, f.y1, f.x2, f.y2, f.sx1, f.sy1, f.sx2, f.sy2,
		f.score, f.landmarks, f.age, f.male_prob, f.birth_year, ` + feat + `, f.model,
		COALESCE(fi.capture_time, fi.mtime), fi.capture_source, COALESCE(a.person_id, 0), COALESCE(a.source, ''), COALESCE(f.forgotten_by, 0), f.rev
		FROM faces f JOIN files fi ON fi.id = f.file_id LEFT JOIN assignments a ON a.face_id = f.id` + join
}

func scanFace(r rowScanner, rec *FaceRecord) error {
	var lm, feat []byte
	var by sql.NullFloat64
	var capt int64
	var src string
	err := r.Scan(&rec.ID, &rec.FileID, &rec.Path, &rec.FrameTime, &rec.Frames, &rec.Box.X1, &rec.Box.Y1, &rec.Box.X2, &rec.Box.Y2,
		&rec.StoredBox.X1, &rec.StoredBox.Y1, &rec.StoredBox.X2, &rec.StoredBox.Y2, &rec.Score, &lm, &rec.Age,
		&rec.MaleProb, &by, &feat, &rec.Model, &capt, &rec.CaptureSource, &rec.PersonID, &src, &rec.ForgottenBy, &rec.Rev)
	if err != nil {
		return err
	}
	rec.Landmarks = decodeLandmarks(lm)
	rec.BirthYear = by.Float64
	rec.CaptureTime = fromNS(sql.NullInt64{Int64: capt, Valid: capt != 0})
	rec.Source = Source(src)
	rec.Features = nil
	if feat != nil {
		if rec.Features, err = decodeFeatures(nil, feat); err != nil {
			return fmt.Errorf("face #%d: %w", rec.ID, err)
		}
	}
	return nil
}

// AllFaces streams the faces selected by q in id order, features decoded
// (unless q.NoFeatures), from one consistent snapshot. Each record is
// freshly allocated and may be kept. Stop early by breaking out of the loop.
func (ix *Index) AllFaces(ctx context.Context, q FaceQuery) iter.Seq2[FaceRecord, error] {
	return func(yield func(FaceRecord, error) bool) {
		s, args := q.sql()
		rows, err := ix.rd().QueryContext(ctx, s, args...)
		if err != nil {
			yield(FaceRecord{}, fmt.Errorf("read faces: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var rec FaceRecord
			if err := scanFace(rows, &rec); err != nil {
				yield(FaceRecord{}, fmt.Errorf("read faces: %w", err))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(FaceRecord{}, fmt.Errorf("read faces: %w", err))
		}
	}
}

// Faces collects AllFaces(q) into a slice (mind the memory with features).
func (ix *Index) Faces(ctx context.Context, q FaceQuery) ([]FaceRecord, error) {
	var out []FaceRecord
	for rec, err := range ix.AllFaces(ctx, q) {
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Face returns one face, or ErrNotFound.
func (ix *Index) Face(ctx context.Context, id int64) (FaceRecord, error) {
	s, _ := FaceQuery{}.sql()
	// A forgotten face has no features left: still a face.
	s = strings.Replace(s, " JOIN face_features", " LEFT JOIN face_features", 1)
	s = strings.Replace(s, " ORDER BY f.id", " WHERE f.id = ?", 1)
	var rec FaceRecord
	err := scanFace(ix.rd().QueryRowContext(ctx, s, id), &rec)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return FaceRecord{}, fmt.Errorf("face #%d: %w", id, err)
	}
	return rec, nil
}

// FaceChanges is the change feed for incremental clustering: the faces
// selected by q that were created or changed (re-analysed, assigned,
// unassigned, forgotten) after revision since, the ids of faces deleted after
// it, and the revision to pass next time. All three come from one snapshot,
// so polling FaceChanges(rev) misses nothing and sees nothing twice except
// faces that changed again. since = 0 returns every face.
func (ix *Index) FaceChanges(ctx context.Context, since int64, q FaceQuery) (changed []FaceRecord, deleted []int64, rev int64, err error) {
	tx, err := ix.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("face changes: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT rev FROM change_seq WHERE id = 1`).Scan(&rev); err != nil {
		return nil, nil, 0, fmt.Errorf("face changes: %w", err)
	}
	q.SinceRev = since
	s, args := q.sql()
	rows, err := tx.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("face changes: %w", err)
	}
	for rows.Next() {
		var r FaceRecord
		if err := scanFace(rows, &r); err != nil {
			rows.Close()
			return nil, nil, 0, fmt.Errorf("face changes: %w", err)
		}
		changed = append(changed, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, 0, fmt.Errorf("face changes: %w", err)
	}
	if since > 0 {
		rows, err = tx.QueryContext(ctx, `SELECT face_id FROM face_tombstones WHERE rev > ? ORDER BY face_id`, since)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("face changes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, nil, 0, fmt.Errorf("face changes: %w", err)
			}
			deleted = append(deleted, id)
		}
		if err := rows.Err(); err != nil {
			return nil, nil, 0, fmt.Errorf("face changes: %w", err)
		}
	}
	return changed, deleted, rev, nil
}
