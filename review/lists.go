package review

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/persons"
)

// Suggestion is a pair of persons whose faces are close: perhaps one.
type Suggestion struct {
	A, B api.Person
	// Distance between the persons' mean identity vectors (unit length):
	// 0 is identical, the engine links faces below about 0.8.
	Distance float64 `json:"distance"`
}

// maxSuggestionPersons bounds the persons compared (the largest ones).
const maxSuggestionPersons = 2000

// suggestionLimit is the largest distance suggested.
const suggestionLimit = 1.1

type suggestionCache struct {
	mu   sync.Mutex
	at   time.Time
	list []Suggestion
}

func (c *suggestionCache) invalidate() {
	c.mu.Lock()
	c.list, c.at = nil, time.Time{}
	c.mu.Unlock()
}

func (s *Server) suggestions(w http.ResponseWriter, r *http.Request) {
	s.sugg.mu.Lock()
	defer s.sugg.mu.Unlock()
	if s.sugg.list == nil || time.Since(s.sugg.at) > 30*time.Second {
		l, err := s.computeSuggestions(r.Context())
		if err != nil {
			s.reply(w, nil, err)
			return
		}
		s.sugg.list, s.sugg.at = l, time.Now()
	}
	limit := intParam(r, "limit")
	if limit <= 0 || limit > len(s.sugg.list) {
		limit = len(s.sugg.list)
	}
	s.reply(w, struct {
		Suggestions []Suggestion `json:"suggestions"`
	}{s.sugg.list[:limit]}, nil)
}

// computeSuggestions compares the mean identity vectors of the largest
// persons and returns the close pairs, closest first, minus the pairs the
// user said are different.
func (s *Server) computeSuggestions(ctx context.Context) ([]Suggestion, error) {
	ix := s.S.Index()
	ps, _, err := s.S.List(ctx, persons.ListQuery{})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ps, func(a, b index.Person) int { return cmp.Compare(b.Faces, a.Faces) })
	if len(ps) > maxSuggestionPersons {
		ps = ps[:maxSuggestionPersons]
	}
	byID := map[int64]index.Person{}
	for _, p := range ps {
		if p.Faces > 0 {
			byID[p.ID] = p
		}
	}
	set, err := ix.LoadFaceSet(ctx, index.FaceQuery{}, index.Float32)
	if err != nil {
		return nil, err
	}
	sums := map[int64][]float64{}
	var row []float32
	for i, m := range set.Faces {
		if _, ok := byID[m.PersonID]; !ok {
			continue
		}
		row = set.Features.Row(i, row)
		v := sums[m.PersonID]
		if v == nil {
			v = make([]float64, len(row))
			sums[m.PersonID] = v
		}
		for j, x := range row {
			v[j] += float64(x)
		}
	}
	ids := make([]int64, 0, len(sums))
	for id, v := range sums {
		var n float64
		for _, x := range v {
			n += x * x
		}
		n = math.Sqrt(n)
		for j := range v {
			v[j] /= n
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	diff, err := ix.DifferentPersons(ctx)
	if err != nil {
		return nil, err
	}
	different := map[[2]int64]bool{}
	for _, d := range diff {
		different[d] = true
	}
	var out []Suggestion
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if different[[2]int64{a, b}] {
				continue
			}
			va, vb := sums[a], sums[b]
			var d float64
			for j := range va {
				x := va[j] - vb[j]
				d += x * x
			}
			d = math.Sqrt(d)
			if d <= suggestionLimit {
				out = append(out, Suggestion{A: persons.APIPerson(byID[a]), B: persons.APIPerson(byID[b]), Distance: d})
			}
		}
	}
	slices.SortFunc(out, func(x, y Suggestion) int { return cmp.Compare(x.Distance, y.Distance) })
	if len(out) > 200 {
		out = out[:200]
	}
	for i := range out {
		for _, p := range []*api.Person{&out[i].A, &out[i].B} {
			if p.BestFace, err = s.S.BestFace(ctx, p.ID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// photoItem is a photo in a list.
type photoItem struct {
	ID         int64  `json:"id"`
	Path       string `json:"path"`
	Kind       string `json:"kind"`
	Visibility string `json:"visibility,omitempty"`
	// Persons are the persons seen in it (videos).
	Persons []api.Person `json:"persons,omitempty"`
}

// public lists the photos the public/private rule found potentially
// public: no face of a person, no large face.
func (s *Server) public(w http.ResponseWriter, r *http.Request) {
	files, err := s.S.Index().Files(r.Context(), index.StatusDone)
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	var out []photoItem
	for _, f := range files {
		if f.Visibility == index.VisibilityPublic && f.Kind != face.KindVideo {
			out = append(out, photoItem{ID: f.ID, Path: f.Path, Kind: string(f.Kind), Visibility: string(f.Visibility)})
		}
	}
	s.page(w, r, out)
}

// videos lists the videos and the persons seen in each.
func (s *Server) videos(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ix := s.S.Index()
	files, err := ix.Files(ctx, index.StatusDone)
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	var out []photoItem
	for _, f := range files {
		if f.Kind != face.KindVideo {
			continue
		}
		it := photoItem{ID: f.ID, Path: f.Path, Kind: string(f.Kind), Visibility: string(f.Visibility)}
		fs, err := ix.Faces(ctx, index.FaceQuery{FileID: f.ID, NoFeatures: true})
		if err != nil {
			s.reply(w, nil, err)
			return
		}
		seen := map[int64]bool{}
		for _, fc := range fs {
			if fc.PersonID == 0 || seen[fc.PersonID] {
				continue
			}
			seen[fc.PersonID] = true
			p, err := ix.Person(ctx, fc.PersonID)
			if err != nil {
				continue
			}
			ap := persons.APIPerson(p)
			ap.BestFace = fc.ID
			it.Persons = append(it.Persons, ap)
		}
		out = append(out, it)
	}
	s.page(w, r, out)
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, all []photoItem) {
	off, limit := intParam(r, "offset"), intParam(r, "limit")
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	lo := min(off, len(all))
	hi := min(lo+limit, len(all))
	items := all[lo:hi]
	if items == nil {
		items = []photoItem{}
	}
	s.reply(w, struct {
		Photos []photoItem `json:"photos"`
		Total  int         `json:"total"`
	}{items, len(all)}, nil)
}
