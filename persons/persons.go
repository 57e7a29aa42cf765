// Package persons owns every decision about persons: the clusterer's
// automatic assignments (Clusterer), the user's verbs (name, merge, split,
// move faces, "not this person", forget, birth year, hide; Service), the
// names adopted from sidecars, the public/private rule of photos and what a
// sidecar shows of a person (SidecarPhoto).
//
// cluster is the engine it drives and index the storage it writes; the
// daemon, its local API, the review page and facedctl only call it. While
// the daemon runs it is the only writer of persons (facedctl goes through
// the local API); with the daemon stopped, facedctl opens the index through
// Open, which takes the same exclusive lock the daemon holds (Lock), so two
// writers never meet.
package persons

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/faced/faced/index"
)

// Errors callers branch on (besides index.ErrNotFound, index.ErrInvalid and
// index.ErrPersonInactive, which the verbs pass through wrapped).
var (
	// ErrLocked means another process (the daemon, or another facedctl)
	// holds the index.
	ErrLocked = errors.New("the index is in use by another faced process")
)

// Service runs the person verbs on an index. Its methods are safe for
// concurrent use; the verbs and the Clusterer's Update are serialised.
type Service struct {
	ix     *index.Index
	thumbs *Thumbs

	mu sync.Mutex // held by every verb and by Clusterer.Update

	// after, when set, runs after each verb, outside the lock: the daemon
	// lets its clusterer follow the edit at once.
	after func(ctx context.Context)
}

// Options configure a Service.
type Options struct {
	// Thumbs is the face thumbnail cache (removed on forget); nil: none.
	Thumbs *Thumbs
}

// New returns the Service of ix.
func New(ix *index.Index, o Options) *Service {
	return &Service{ix: ix, thumbs: o.Thumbs}
}

// Index returns the index the Service writes.
func (s *Service) Index() *index.Index { return s.ix }

// Thumbs returns the thumbnail cache (nil when none).
func (s *Service) Thumbs() *Thumbs { return s.thumbs }

// AfterEdit sets a function called after every successful verb (the daemon
// runs its clusterer's Update there, so that the engine and the sidecars
// follow the edit without waiting for the next poll).
func (s *Service) AfterEdit(fn func(ctx context.Context)) { s.after = fn }

// edit runs fn under the lock, then the AfterEdit hook.
func (s *Service) edit(ctx context.Context, fn func() error) error {
	s.mu.Lock()
	err := fn()
	s.mu.Unlock()
	if err == nil && s.after != nil {
		s.after(ctx)
	}
	return err
}

// Name names person id ("" removes the name). The user's name wins over
// names from sidecars and automatic ones.
func (s *Service) Name(ctx context.Context, id int64, name string) error {
	return s.edit(ctx, func() error {
		_, err := s.ix.SetName(ctx, id, name, index.SourceUser)
		return err
	})
}

// Merge moves every face of person from into person into; from's id
// resolves to into from now on.
func (s *Service) Merge(ctx context.Context, into, from int64) error {
	return s.edit(ctx, func() error { return s.ix.Merge(ctx, into, from) })
}

// Split moves faces of person id to a new person and returns its id; the
// faces never return to id.
func (s *Service) Split(ctx context.Context, id int64, faces []int64) (int64, error) {
	var n int64
	err := s.edit(ctx, func() error {
		var err error
		n, err = s.ix.Split(ctx, id, faces)
		return err
	})
	return n, err
}

// Move assigns faces to person to, or to a new person when to is 0 (a user
// decision the clusterer never undoes), and returns the person. A face that
// was another person's is also marked "not that person", so the clusterer
// does not pull it back.
func (s *Service) Move(ctx context.Context, faces []int64, to int64) (int64, error) {
	if len(faces) == 0 {
		return 0, fmt.Errorf("move faces: %w: no faces given", index.ErrInvalid)
	}
	err := s.edit(ctx, func() error {
		var from [][2]int64
		m := make(map[int64]int64, len(faces))
		for _, f := range faces {
			rec, err := s.ix.Face(ctx, f)
			if err != nil {
				return err
			}
			if rec.PersonID != 0 && rec.PersonID != to {
				from = append(from, [2]int64{f, rec.PersonID})
			}
			m[f] = to
		}
		if to == 0 {
			var err error
			if to, err = s.ix.CreatePerson(ctx, index.Person{}); err != nil {
				return err
			}
			for f := range m {
				m[f] = to
			}
		}
		if _, err := s.ix.AssignFaces(ctx, m, index.SourceUser); err != nil {
			return err
		}
		for _, fp := range from {
			if err := s.ix.AddFacePersonCannotLink(ctx, fp[0], fp[1]); err != nil {
				return err
			}
		}
		return nil
	})
	return to, err
}

// NotPerson records that faces are not person id ("not this person"): they
// leave the person and the clusterer never gives them back to it.
func (s *Service) NotPerson(ctx context.Context, id int64, faces []int64) error {
	if len(faces) == 0 {
		return fmt.Errorf("not person #%d: %w: no faces given", id, index.ErrInvalid)
	}
	return s.edit(ctx, func() error {
		for _, f := range faces {
			if err := s.ix.AddFacePersonCannotLink(ctx, f, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// Different records that persons a and b are not the same (a merge
// suggestion rejected): Suggestions never proposes them again.
func (s *Service) Different(ctx context.Context, a, b int64) error {
	return s.edit(ctx, func() error { return s.ix.MarkDifferent(ctx, a, b) })
}

// Forget opts person id out everywhere: assignments, name, birth year and
// gender, the identity features of their faces and their thumbnails are
// erased; the files that showed them are exported again, which removes
// faced's regions and keywords of that person from the sidecars.
func (s *Service) Forget(ctx context.Context, id int64) error {
	return s.edit(ctx, func() error {
		faces, err := s.ix.Faces(ctx, index.FaceQuery{PersonID: id, NoFeatures: true})
		if err != nil {
			return err
		}
		if err := s.ix.Forget(ctx, id); err != nil {
			return err
		}
		if s.thumbs != nil {
			ids := make([]int64, len(faces))
			for i, f := range faces {
				ids[i] = f.ID
			}
			return s.thumbs.Remove(ids)
		}
		return nil
	})
}

// SetBirthYear sets person id's birth year (0 removes it); it overrides the
// estimate.
func (s *Service) SetBirthYear(ctx context.Context, id int64, year int) error {
	return s.edit(ctx, func() error {
		_, err := s.ix.SetBirthYear(ctx, id, year, index.SourceUser)
		return err
	})
}

// Hide hides person id (never exported: no region and no keyword in any
// sidecar) or shows it again.
func (s *Service) Hide(ctx context.Context, id int64, hidden bool) error {
	return s.edit(ctx, func() error { return s.ix.SetHidden(ctx, id, hidden) })
}

// Person returns one person (active or not).
func (s *Service) Person(ctx context.Context, id int64) (index.Person, error) {
	return s.ix.Person(ctx, id)
}

// ListQuery selects and orders List.
type ListQuery struct {
	// All also lists merged and opted-out persons.
	All bool
	// Review orders unnamed persons first, then by face count (most
	// first); otherwise persons come by id.
	Review bool
	// Offset and Limit page the list (Limit 0: all).
	Offset, Limit int
}

// List returns a page of persons and the total number matching q. The
// index keeps the counts and the review order's index, so every page costs
// its own rows, also the first after an edit.
func (s *Service) List(ctx context.Context, q ListQuery) ([]index.Person, int, error) {
	iq := index.PersonQuery{Inactive: q.All, Review: q.Review, Offset: q.Offset, Limit: q.Limit}
	total, err := s.ix.CountPersons(ctx, iq)
	if err != nil {
		return nil, 0, err
	}
	ps, err := s.ix.Persons(ctx, iq)
	if err != nil {
		return nil, 0, err
	}
	return ps, total, nil
}

// Faces returns a page of person id's faces (best first: larger, sharper
// detections) and their total. The page is cut in the index.
func (s *Service) Faces(ctx context.Context, id int64, offset, limit int) ([]index.FaceRecord, int, error) {
	p, err := s.ix.Person(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	fs, err := s.ix.PersonFaces(ctx, id, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	return fs, p.Faces, nil
}

// BestFace returns the face shown for person id (0 when it has none).
func (s *Service) BestFace(ctx context.Context, id int64) (int64, error) {
	return s.ix.BestFace(ctx, id)
}

// BestFaces returns the faces shown for persons ids (those with a face).
func (s *Service) BestFaces(ctx context.Context, ids ...int64) (map[int64]int64, error) {
	return s.ix.BestFaces(ctx, ids...)
}

// DisplayName is how a person is called in lists: the name, or "Person N".
func DisplayName(p index.Person) string {
	if n := strings.TrimSpace(p.Name); n != "" {
		return n
	}
	return fmt.Sprintf("Person %d", p.ID)
}
