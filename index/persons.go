package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Gender of a person.
type Gender string

// Genders.
const (
	GenderUnknown Gender = ""
	GenderMale    Gender = "male"
	GenderFemale  Gender = "female"
)

// Person is a group of faces with a stable id. Ids are never reused: a person
// merged into another keeps its row (MergedInto), and a person who opted out
// keeps its row (OptOut) so that it never comes back.
type Person struct {
	ID         int64  `json:"id"`
	Name       string `json:"name,omitempty"`
	NameSource Source `json:"name_source,omitempty"`
	// BirthYear is 0 when unknown.
	BirthYear       int    `json:"birth_year,omitempty"`
	BirthYearSource Source `json:"birth_year_source,omitempty"`
	// BirthYearConfidence is the probability (0..1) that an automatic
	// birth year is within two years; 0 when unknown or given by the user.
	BirthYearConfidence float64 `json:"birth_year_confidence,omitempty"`
	Gender              Gender  `json:"gender,omitempty"`
	GenderSource        Source  `json:"gender_source,omitempty"`
	OptOut              bool    `json:"opt_out,omitempty"`
	// Hidden persons are never exported (no region, no keyword).
	Hidden     bool      `json:"hidden,omitempty"`
	MergedInto int64     `json:"merged_into,omitempty"`
	Faces      int       `json:"faces"` // faces assigned now
	Files      int       `json:"files"` // distinct files of those faces
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Active tells whether faces may be assigned to p.
func (p Person) Active() bool { return !p.OptOut && p.MergedInto == 0 }

const personCols = `p.id, p.name, p.name_source, COALESCE(p.birth_year, 0), p.birth_year_source, p.gender, p.gender_source,
	p.opt_out, p.hidden, COALESCE(p.merged_into, 0), p.created_at, p.updated_at, COALESCE(p.birth_year_confidence, 0),
	p.face_count, p.file_count`

func scanPerson(r rowScanner) (Person, error) {
	var p Person
	var ns, bs, g, gs string
	var created, updated int64
	err := r.Scan(&p.ID, &p.Name, &ns, &p.BirthYear, &bs, &g, &gs, &p.OptOut, &p.Hidden, &p.MergedInto, &created, &updated,
		&p.BirthYearConfidence, &p.Faces, &p.Files)
	if err != nil {
		return Person{}, err
	}
	p.NameSource, p.BirthYearSource, p.Gender, p.GenderSource = Source(ns), Source(bs), Gender(g), Source(gs)
	p.CreatedAt, p.UpdatedAt = time.Unix(0, created), time.Unix(0, updated)
	return p, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getPerson(ctx context.Context, q querier, id int64) (Person, error) {
	p, err := scanPerson(q.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons p WHERE p.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Person{}, fmt.Errorf("person #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Person{}, fmt.Errorf("person #%d: %w", id, err)
	}
	return p, nil
}

func activePerson(ctx context.Context, q querier, id int64) (Person, error) {
	p, err := getPerson(ctx, q, id)
	if err != nil {
		return p, err
	}
	if !p.Active() {
		if p.MergedInto != 0 {
			return p, fmt.Errorf("person #%d was merged into #%d: %w", id, p.MergedInto, ErrPersonInactive)
		}
		return p, fmt.Errorf("person #%d opted out: %w", id, ErrPersonInactive)
	}
	return p, nil
}

// checkActive fails unless person id exists and is active, without the face
// counts getPerson computes.
func checkActive(ctx context.Context, q querier, id int64) error {
	var optOut bool
	var merged int64
	err := q.QueryRowContext(ctx, `SELECT opt_out, COALESCE(merged_into, 0) FROM persons WHERE id = ?`, id).Scan(&optOut, &merged)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("person #%d: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("person #%d: %w", id, err)
	case merged != 0:
		return fmt.Errorf("person #%d was merged into #%d: %w", id, merged, ErrPersonInactive)
	case optOut:
		return fmt.Errorf("person #%d opted out: %w", id, ErrPersonInactive)
	}
	return nil
}

// Person returns the person with id (active or not), or ErrNotFound.
func (ix *Index) Person(ctx context.Context, id int64) (Person, error) {
	return getPerson(ctx, ix.rd(), id)
}

// PersonQuery filters, orders and pages Persons.
type PersonQuery struct {
	// Inactive also lists merged and opted-out persons.
	Inactive bool
	// Name lists only persons with this name (case-insensitive).
	Name string
	// Review orders unnamed persons first, then more faces first, then by
	// id (the review grid); otherwise persons come by id.
	Review bool
	// Offset and Limit page the list (Limit 0: all).
	Offset, Limit int
}

func (q PersonQuery) where() (string, []any) {
	s := ` WHERE 1`
	var args []any
	if !q.Inactive {
		// the condition of the persons_review index, written the same way
		s += ` AND p.opt_out = 0 AND p.merged_into IS NULL`
	}
	if q.Name != "" {
		s += ` AND lower(p.name) = lower(?)`
		args = append(args, q.Name)
	}
	return s, args
}

// Persons lists persons selected by q. Face and file counts are kept by
// the index as assignments change: a page costs its own rows, not a count
// of every face.
func (ix *Index) Persons(ctx context.Context, q PersonQuery) ([]Person, error) {
	s, args := q.sql()
	return queryAll(ctx, ix.rd(), scanPerson, "list persons", s, args...)
}

func (q PersonQuery) sql() (string, []any) {
	w, args := q.where()
	s := `SELECT ` + personCols + ` FROM persons p` + w
	if q.Review {
		s += ` ORDER BY p.name <> '', p.face_count DESC, p.id`
	} else {
		s += ` ORDER BY p.id`
	}
	if q.Limit > 0 || q.Offset > 0 {
		lim := q.Limit
		if lim <= 0 {
			lim = -1
		}
		s += ` LIMIT ? OFFSET ?`
		args = append(args, lim, max(q.Offset, 0))
	}
	return s, args
}

// CountPersons returns how many persons q selects (its Offset and Limit
// aside).
func (ix *Index) CountPersons(ctx context.Context, q PersonQuery) (int, error) {
	w, args := q.where()
	var n int
	if err := ix.rd().QueryRowContext(ctx, `SELECT COUNT(*) FROM persons p`+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	return n, nil
}

// ResolvePerson follows merges: it returns the active person that id was
// (transitively) merged into, or id itself.
func (ix *Index) ResolvePerson(ctx context.Context, id int64) (int64, error) {
	for range 1000 {
		p, err := getPerson(ctx, ix.rd(), id)
		if err != nil {
			return 0, err
		}
		if p.MergedInto == 0 {
			return id, nil
		}
		id = p.MergedInto
	}
	return 0, fmt.Errorf("person #%d: merge chain too long", id)
}

func cleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if len(name) > 200 {
		return "", fmt.Errorf("%w: name longer than 200 bytes", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: name %q contains a control character", ErrInvalid, name)
		}
	}
	return name, nil
}

func checkSource(s Source) error {
	if s.rank() == 0 {
		return fmt.Errorf("%w: source %q (want user, sidecar or auto)", ErrInvalid, s)
	}
	return nil
}

// CreatePerson adds a new person and returns its id. Name, BirthYear and
// Gender are taken with their sources (SourceAuto when left empty).
func (ix *Index) CreatePerson(ctx context.Context, p Person) (int64, error) {
	name, err := cleanName(p.Name)
	if err != nil {
		return 0, fmt.Errorf("create person: %w", err)
	}
	src := func(v bool, s Source) string {
		if !v {
			return ""
		}
		if s == "" {
			return string(SourceAuto)
		}
		return string(s)
	}
	if err := checkGender(p.Gender); err != nil {
		return 0, fmt.Errorf("create person: %w", err)
	}
	var id int64
	err = ix.write(ctx, func(tx *sql.Tx) error {
		now := ix.now().UnixNano()
		var by sql.NullInt64
		if p.BirthYear != 0 {
			by = sql.NullInt64{Int64: int64(p.BirthYear), Valid: true}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO persons (name, name_source, birth_year, birth_year_source, gender, gender_source,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			name, src(name != "", p.NameSource), by, src(p.BirthYear != 0, p.BirthYearSource),
			string(p.Gender), src(p.Gender != "", p.GenderSource), now, now).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("create person: %w", err)
	}
	return id, nil
}

func checkGender(g Gender) error {
	switch g {
	case GenderUnknown, GenderMale, GenderFemale:
		return nil
	}
	return fmt.Errorf("%w: gender %q (want male or female)", ErrInvalid, g)
}

// setAttr sets one attribute of an active person when src ranks at least as
// high as the source of the current value; it reports whether it changed.
func (ix *Index) setAttr(ctx context.Context, id int64, what, col, srcCol string, val any, src Source, exports bool) (bool, error) {
	if err := checkSource(src); err != nil {
		return false, fmt.Errorf("set %s of person #%d: %w", what, id, err)
	}
	changed := false
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if err := checkActive(ctx, tx, id); err != nil {
			return err
		}
		var cur Source
		var same bool
		if err := tx.QueryRowContext(ctx, `SELECT `+srcCol+`, `+col+` IS ? FROM persons WHERE id = ?`, val, id).Scan(&cur, &same); err != nil {
			return err
		}
		if src.rank() < cur.rank() || (same && cur == src) {
			return nil
		}
		newSrc := string(src)
		if v, ok := val.(string); ok && v == "" || val == nil {
			newSrc = ""
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET `+col+` = ?, `+srcCol+` = ?, updated_at = ? WHERE id = ?`,
			val, newSrc, ix.now().UnixNano(), id); err != nil {
			return err
		}
		changed = true
		if exports {
			return bumpExportOfPersons(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("set %s of person #%d: %w", what, id, err)
	}
	return changed, nil
}

// SetName names person id. A name from src replaces the current one only when
// src ranks at least as high as the current name's source (user > sidecar >
// auto), so an automatic or imported name never overwrites a user's. An empty
// name clears it. It reports whether the name changed; files showing the
// person need export again.
func (ix *Index) SetName(ctx context.Context, id int64, name string, src Source) (bool, error) {
	name, err := cleanName(name)
	if err != nil {
		return false, fmt.Errorf("set name of person #%d: %w", id, err)
	}
	return ix.setAttr(ctx, id, "name", "name", "name_source", name, src, true)
}

// SetBirthYear sets person id's birth year (0 clears it) under the same
// source rule as SetName; files showing the person need export again (the
// sidecars carry it).
func (ix *Index) SetBirthYear(ctx context.Context, id int64, year int, src Source) (bool, error) {
	if year != 0 && (year < 1800 || year > ix.now().Year()+1) {
		return false, fmt.Errorf("set birth year of person #%d: %w: year %d", id, ErrInvalid, year)
	}
	var v any
	if year != 0 {
		v = int64(year)
	}
	changed, err := ix.setAttr(ctx, id, "birth year", "birth_year", "birth_year_source", v, src, true)
	if err == nil && changed && src != SourceAuto {
		// the user's (or a sidecar's) year carries no confidence
		err = ix.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE persons SET birth_year_confidence = NULL WHERE id = ?`, id)
			return err
		})
	}
	return changed, err
}

// SetBirthYearConfidence records how sure the automatic birth year of
// person id is (0..1; see Person.BirthYearConfidence). It changes nothing
// when the birth year is not automatic (the user's year has no confidence).
func (ix *Index) SetBirthYearConfidence(ctx context.Context, id int64, conf float64) error {
	if math.IsNaN(conf) || conf < 0 || conf > 1 {
		return fmt.Errorf("set birth-year confidence of person #%d: %w: %v", id, ErrInvalid, conf)
	}
	err := ix.write(ctx, func(tx *sql.Tx) error {
		var old sql.NullFloat64
		err := tx.QueryRowContext(ctx, `SELECT birth_year_confidence FROM persons WHERE id = ? AND birth_year_source = ?`,
			id, string(SourceAuto)).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET birth_year_confidence = ? WHERE id = ?`, conf, id); err != nil {
			return err
		}
		// sidecars show it to one decimal: rewrite them only when that
		// changes, not on every new face of a large person
		if !old.Valid || math.Round(old.Float64*10) != math.Round(conf*10) {
			return bumpExportOfPersons(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set birth-year confidence of person #%d: %w", id, err)
	}
	return nil
}

// SetGender sets person id's gender ("" clears it) under the same source
// rule as SetName.
func (ix *Index) SetGender(ctx context.Context, id int64, g Gender, src Source) (bool, error) {
	if err := checkGender(g); err != nil {
		return false, fmt.Errorf("set gender of person #%d: %w", id, err)
	}
	return ix.setAttr(ctx, id, "gender", "gender", "gender_source", string(g), src, false)
}

// Merge moves every face of person from into person into, user decisions
// included, and retires from (MergedInto = into; its id stays resolvable).
// The kept name, birth year and gender are into's unless from's come from a
// stronger source or into has none. Cannot-links that contradict the merge
// (between faces now together, or of into's new faces against into) are
// dropped: the user said they are one person.
func (ix *Index) Merge(ctx context.Context, into, from int64) error {
	if into == from {
		return fmt.Errorf("merge person #%d into itself: %w", from, ErrInvalid)
	}
	err := ix.write(ctx, func(tx *sql.Tx) error {
		a, err := activePerson(ctx, tx, into)
		if err != nil {
			return err
		}
		b, err := activePerson(ctx, tx, from)
		if err != nil {
			return err
		}
		now := ix.now().UnixNano()
		takes := func(curVal bool, cur, other Source, otherVal bool) bool {
			return otherVal && (!curVal || other.rank() > cur.rank())
		}
		if takes(a.Name != "", a.NameSource, b.NameSource, b.Name != "") {
			a.Name, a.NameSource = b.Name, b.NameSource
		}
		if takes(a.BirthYear != 0, a.BirthYearSource, b.BirthYearSource, b.BirthYear != 0) {
			a.BirthYear, a.BirthYearSource = b.BirthYear, b.BirthYearSource
		}
		if takes(a.Gender != "", a.GenderSource, b.GenderSource, b.Gender != "") {
			a.Gender, a.GenderSource = b.Gender, b.GenderSource
		}
		var by sql.NullInt64
		if a.BirthYear != 0 {
			by = sql.NullInt64{Int64: int64(a.BirthYear), Valid: true}
		}
		stmts := []struct {
			q    string
			args []any
		}{
			{`UPDATE persons SET name = ?, name_source = ?, birth_year = ?, birth_year_source = ?, gender = ?, gender_source = ?,
				updated_at = ? WHERE id = ?`, []any{a.Name, string(a.NameSource), by, string(a.BirthYearSource),
				string(a.Gender), string(a.GenderSource), now, into}},
			{`UPDATE assignments SET person_id = ? WHERE person_id = ?`, []any{into, from}},
			{`INSERT OR IGNORE INTO cannot_link_persons (face_id, person_id, created_at)
				SELECT face_id, ?, created_at FROM cannot_link_persons WHERE person_id = ?`, []any{into, from}},
			{`DELETE FROM cannot_link_persons WHERE person_id = ?`, []any{from}},
			{`DELETE FROM cannot_link_persons WHERE person_id = ?1
				AND face_id IN (SELECT face_id FROM assignments WHERE person_id = ?1)`, []any{into}},
			{`DELETE FROM cannot_link_faces WHERE a IN (SELECT face_id FROM assignments WHERE person_id = ?1)
				AND b IN (SELECT face_id FROM assignments WHERE person_id = ?1)`, []any{into}},
			{`UPDATE age_samples SET person_id = ? WHERE person_id = ?`, []any{into, from}},
			{`INSERT OR IGNORE INTO different_persons (a, b, created_at)
				SELECT min(?1, CASE WHEN a = ?2 THEN b ELSE a END), max(?1, CASE WHEN a = ?2 THEN b ELSE a END), created_at
				FROM different_persons WHERE (a = ?2 OR b = ?2) AND a != ?1 AND b != ?1`, []any{into, from}},
			{`DELETE FROM different_persons WHERE a = ?1 OR b = ?1`, []any{from}},
			{`UPDATE persons SET merged_into = ?1, updated_at = ?2 WHERE id = ?3 OR merged_into = ?3`, []any{into, now, from}},
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				return err
			}
		}
		return bumpExportOfPersons(ctx, tx, into)
	})
	if err != nil {
		return fmt.Errorf("merge person #%d into #%d: %w", from, into, err)
	}
	return nil
}

// Split moves faceIDs (all assigned to person id) to a new person, as user
// assignments, and records "this face is not person id" for each, so the
// clusterer never puts them back. The original keeps its name; the new
// person starts unnamed. It returns the new person's id.
func (ix *Index) Split(ctx context.Context, id int64, faceIDs []int64) (int64, error) {
	if len(faceIDs) == 0 {
		return 0, fmt.Errorf("split person #%d: %w: no faces given", id, ErrInvalid)
	}
	faceIDs = slices.Compact(slices.Sorted(slices.Values(faceIDs)))
	var newID int64
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if _, err := activePerson(ctx, tx, id); err != nil {
			return err
		}
		for _, f := range faceIDs {
			var p int64
			err := tx.QueryRowContext(ctx, `SELECT person_id FROM assignments WHERE face_id = ?`, f).Scan(&p)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && p != id) {
				return fmt.Errorf("%w: face #%d is not assigned to person #%d", ErrInvalid, f, id)
			}
			if err != nil {
				return err
			}
		}
		now := ix.now().UnixNano()
		if err := tx.QueryRowContext(ctx, `INSERT INTO persons (created_at, updated_at) VALUES (?, ?) RETURNING id`,
			now, now).Scan(&newID); err != nil {
			return err
		}
		for _, f := range faceIDs {
			if _, err := tx.ExecContext(ctx, `UPDATE assignments SET person_id = ?, source = 'user', assigned_at = ? WHERE face_id = ?`,
				newID, now, f); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cannot_link_persons (face_id, person_id, created_at) VALUES (?, ?, ?)`,
				f, id, now); err != nil {
				return err
			}
			// The new person has no birth year yet: no age labels.
			if _, err := tx.ExecContext(ctx, `DELETE FROM age_samples WHERE face_id = ?`, f); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE persons SET updated_at = ? WHERE id = ?`, now, id)
		if err != nil {
			return err
		}
		return ix.bumpExportOfFaces(ctx, tx, faceIDs)
	})
	if err != nil {
		return 0, fmt.Errorf("split person #%d: %w", id, err)
	}
	return newID, nil
}

// Forget opts person id out: its faces lose their assignment and are marked
// forgotten (FaceRecord.ForgottenBy) so that no automatic assignment takes
// them again, their identity features are erased (a re-analysis of the
// photo does not store them again), its name, birth year and gender are
// erased, and the person stays as an opted-out row so its id never comes
// back. Files that showed the person need export again (to drop the name
// and the regions from sidecars). With the features gone faced cannot
// recognise the person's future faces: those form a new, unnamed person.
func (ix *Index) Forget(ctx context.Context, id int64) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		p, err := getPerson(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.MergedInto != 0 {
			return fmt.Errorf("person #%d was merged into #%d (forget that one): %w", id, p.MergedInto, ErrPersonInactive)
		}
		if err := bumpExportOfPersons(ctx, tx, id); err != nil {
			return err
		}
		now := ix.now().UnixNano()
		for _, q := range []string{
			`UPDATE faces SET forgotten_by = ?1 WHERE id IN (SELECT face_id FROM assignments WHERE person_id = ?1)`,
			`DELETE FROM face_features WHERE face_id IN (SELECT id FROM faces WHERE forgotten_by = ?1)`,
			`DELETE FROM assignments WHERE person_id = ?1`,
			`DELETE FROM age_samples WHERE person_id = ?1`,
			`DELETE FROM different_persons WHERE a = ?1 OR b = ?1`,
			`UPDATE persons SET opt_out = 1, name = '', name_source = '', birth_year = NULL, birth_year_source = '',
				gender = '', gender_source = '', updated_at = ?2 WHERE id = ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget person #%d: %w", id, err)
	}
	return nil
}

// AssignFaces assigns faces to persons (face id -> person id; person 0
// removes the assignment) in one transaction and returns how many changed.
//
// With SourceUser every entry applies: it overrides any assignment, clears a
// "not this person" constraint and the forgotten mark of that face, and
// fails on an unknown face or an inactive person. With SourceAuto (the
// clusterer) an entry is skipped when the face has a user assignment, is
// forgotten, has a cannot-link to that person, or is gone; an inactive
// person is still an error (re-read persons and retry). Files whose faces
// changed need export again.
func (ix *Index) AssignFaces(ctx context.Context, m map[int64]int64, src Source) (int, error) {
	if src != SourceUser && src != SourceAuto {
		return 0, fmt.Errorf("assign faces: %w: source %q (want user or auto)", ErrInvalid, src)
	}
	faces := slices.Sorted(func(yield func(int64) bool) {
		for f := range m {
			if !yield(f) {
				return
			}
		}
	})
	changed := 0
	err := ix.write(ctx, func(tx *sql.Tx) error {
		changed = 0
		active := map[int64]bool{}
		var touched []int64
		now := ix.now().UnixNano()
		var st [4]*sql.Stmt
		for i, q := range []string{qFaceState, qCannotLinked, qUnassign, qAssign} {
			var err error
			if st[i], err = ix.stmt(ctx, tx, q); err != nil {
				return err
			}
		}
		stState, stLinked, stUnassign, stAssign := st[0], st[1], st[2], st[3]
		for _, f := range faces {
			p := m[f]
			if p != 0 && !active[p] {
				if err := checkActive(ctx, tx, p); err != nil {
					return err
				}
				active[p] = true
			}
			var forgotten sql.NullInt64
			var cur sql.NullInt64
			var curSrc sql.NullString
			err := stState.QueryRowContext(ctx, f).Scan(&forgotten, &cur, &curSrc)
			if errors.Is(err, sql.ErrNoRows) {
				if src == SourceUser {
					return fmt.Errorf("face #%d: %w", f, ErrNotFound)
				}
				continue
			}
			if err != nil {
				return err
			}
			if src == SourceAuto {
				if forgotten.Valid || Source(curSrc.String) == SourceUser {
					continue
				}
				if p != 0 {
					var n int
					if err := stLinked.QueryRowContext(ctx, f, p).Scan(&n); err != nil {
						return err
					}
					if n > 0 {
						continue
					}
				}
			}
			if cur.Int64 == p && (p == 0 || Source(curSrc.String) == src) {
				continue
			}
			if p == 0 {
				if _, err := stUnassign.ExecContext(ctx, f); err != nil {
					return err
				}
			} else {
				if src == SourceUser {
					if _, err := tx.ExecContext(ctx, `DELETE FROM cannot_link_persons WHERE face_id = ? AND person_id = ?`, f, p); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE faces SET forgotten_by = NULL WHERE id = ?`, f); err != nil {
						return err
					}
				}
				if _, err := stAssign.ExecContext(ctx, f, p, string(src), now); err != nil {
					return err
				}
			}
			changed++
			touched = append(touched, f)
		}
		return ix.bumpExportOfFaces(ctx, tx, touched)
	})
	if err != nil {
		return 0, fmt.Errorf("assign faces: %w", err)
	}
	return changed, nil
}

// CannotLinks holds the user's "different persons" constraints.
type CannotLinks struct {
	// Faces are pairs of faces (a < b) that are different persons.
	Faces [][2]int64 `json:"faces"`
	// FacePersons are (face, person) pairs: the face is not that person.
	FacePersons [][2]int64 `json:"face_persons"`
}

// AddCannotLink records that faces a and b are different persons. (Two faces
// of one photo never are the same person; that rule needs no entry.)
func (ix *Index) AddCannotLink(ctx context.Context, a, b int64) error {
	if a == b {
		return fmt.Errorf("cannot-link face #%d with itself: %w", a, ErrInvalid)
	}
	a, b = min(a, b), max(a, b)
	err := ix.write(ctx, func(tx *sql.Tx) error {
		for _, f := range []int64{a, b} {
			if err := faceExists(ctx, tx, f); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cannot_link_faces (a, b, created_at) VALUES (?, ?, ?)`,
			a, b, ix.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot-link faces #%d and #%d: %w", a, b, err)
	}
	return nil
}

// AddFacePersonCannotLink records that face is not person ("this face is not
// X"). If the face is assigned to the person, the assignment is removed.
func (ix *Index) AddFacePersonCannotLink(ctx context.Context, faceID, person int64) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if err := faceExists(ctx, tx, faceID); err != nil {
			return err
		}
		if _, err := getPerson(ctx, tx, person); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM assignments WHERE face_id = ? AND person_id = ?`, faceID, person)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := ix.bumpExportOfFaces(ctx, tx, []int64{faceID}); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO cannot_link_persons (face_id, person_id, created_at) VALUES (?, ?, ?)`,
			faceID, person, ix.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot-link face #%d with person #%d: %w", faceID, person, err)
	}
	return nil
}

func faceExists(ctx context.Context, q querier, id int64) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM faces WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("face #%d: %w", id, ErrNotFound)
	}
	return nil
}

// CannotLinks returns every stored cannot-link constraint.
func (ix *Index) CannotLinks(ctx context.Context) (CannotLinks, error) {
	var cl CannotLinks
	for _, t := range []struct {
		q   string
		dst *[][2]int64
	}{
		{`SELECT a, b FROM cannot_link_faces ORDER BY a, b`, &cl.Faces},
		{`SELECT face_id, person_id FROM cannot_link_persons ORDER BY face_id, person_id`, &cl.FacePersons},
	} {
		rows, err := ix.r.QueryContext(ctx, t.q)
		if err != nil {
			return CannotLinks{}, fmt.Errorf("read cannot-links: %w", err)
		}
		for rows.Next() {
			var p [2]int64
			if err := rows.Scan(&p[0], &p[1]); err != nil {
				rows.Close()
				return CannotLinks{}, fmt.Errorf("read cannot-links: %w", err)
			}
			*t.dst = append(*t.dst, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return CannotLinks{}, fmt.Errorf("read cannot-links: %w", err)
		}
	}
	return cl, nil
}

// SetHidden hides person id (never exported: no region, no keyword) or
// shows it again. Files that show the person need export again.
func (ix *Index) SetHidden(ctx context.Context, id int64, hidden bool) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if err := checkActive(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET hidden = ?, updated_at = ? WHERE id = ?`,
			hidden, ix.now().UnixNano(), id); err != nil {
			return err
		}
		return bumpExportOfPersons(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("hide person #%d: %w", id, err)
	}
	return nil
}

// MarkDifferent records that persons a and b are different (a rejected
// merge suggestion).
func (ix *Index) MarkDifferent(ctx context.Context, a, b int64) error {
	if a == b {
		return fmt.Errorf("person #%d different from itself: %w", a, ErrInvalid)
	}
	a, b = min(a, b), max(a, b)
	err := ix.write(ctx, func(tx *sql.Tx) error {
		for _, id := range []int64{a, b} {
			if err := checkActive(ctx, tx, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO different_persons (a, b, created_at) VALUES (?, ?, ?)`,
			a, b, ix.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("persons #%d and #%d are different: %w", a, b, err)
	}
	return nil
}

// DifferentPersons returns the pairs (a < b) of persons the user said are
// different.
func (ix *Index) DifferentPersons(ctx context.Context) ([][2]int64, error) {
	rows, err := ix.rd().QueryContext(ctx, `SELECT a, b FROM different_persons ORDER BY a, b`)
	if err != nil {
		return nil, fmt.Errorf("read different persons: %w", err)
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, fmt.Errorf("read different persons: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// BestFace returns the face shown for person id: the largest, sharpest
// detection (score times width); 0 when the person has no face.
func (ix *Index) BestFace(ctx context.Context, id int64) (int64, error) {
	m, err := ix.BestFaces(ctx, id)
	return m[id], err
}

// BestFaces returns BestFace of each of persons ids that has a face (one
// index seek each).
func (ix *Index) BestFaces(ctx context.Context, ids ...int64) (map[int64]int64, error) {
	b, _ := json.Marshal(ids)
	if len(ids) == 0 {
		b = []byte("[]")
	}
	rows, err := ix.rd().QueryContext(ctx, `SELECT j.value, (SELECT a.face_id FROM assignments a WHERE a.person_id = j.value
		ORDER BY a.quality DESC, a.face_id LIMIT 1) FROM json_each(?) j`, string(b))
	if err != nil {
		return nil, fmt.Errorf("best faces: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]int64, len(ids))
	for rows.Next() {
		var p int64
		var f sql.NullInt64
		if err := rows.Scan(&p, &f); err != nil {
			return nil, fmt.Errorf("best faces: %w", err)
		}
		if f.Valid {
			out[p] = f.Int64
		}
	}
	return out, rows.Err()
}

// qPersonFacePage pages a person's faces in BestFace's order: the page is
// cut from the (person, quality) index before any face is read.
var qPersonFacePage = `WITH pg AS (SELECT face_id, quality FROM assignments WHERE person_id = ?
	ORDER BY quality DESC, face_id LIMIT ? OFFSET ?) ` +
	faceSelect("NULL", " JOIN pg ON pg.face_id = f.id") + ` ORDER BY pg.quality DESC, pg.face_id`

// PersonFaces returns a page of person id's faces, best first (the order
// of BestFace), without features. A person of 50 000 faces pages as fast
// as one of ten.
func (ix *Index) PersonFaces(ctx context.Context, id int64, offset, limit int) ([]FaceRecord, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := ix.rd().QueryContext(ctx, qPersonFacePage, id, limit, max(offset, 0))
	if err != nil {
		return nil, fmt.Errorf("faces of person #%d: %w", id, err)
	}
	defer rows.Close()
	var out []FaceRecord
	for rows.Next() {
		var rec FaceRecord
		if err := scanFace(rows, &rec); err != nil {
			return nil, fmt.Errorf("faces of person #%d: %w", id, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("faces of person #%d: %w", id, err)
	}
	return out, nil
}
