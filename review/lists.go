package review

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

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
// persons (kept by the index as faces come and go: one row a person, no
// face read) and returns the close pairs, closest first, minus the pairs
// the user said are different.
func (s *Server) computeSuggestions(ctx context.Context) ([]Suggestion, error) {
	ix := s.S.Index()
	cs, err := ix.Centroids(ctx, maxSuggestionPersons)
	if err != nil {
		return nil, err
	}
	diff, err := ix.DifferentPersons(ctx)
	if err != nil {
		return nil, err
	}
	different := map[[2]int64]bool{}
	for _, d := range diff {
		different[d] = true
	}
	type pair struct {
		a, b int64
		d    float64
	}
	// Every pair's dot product at once (one matrix product: 2 000 persons
	// of 512 values are 2 G multiply-adds, far faster through BLAS than
	// pair by pair).
	n := len(cs)
	var dim int
	if n > 0 {
		dim = len(cs[0].Mean)
	}
	m := make([]float32, n*dim)
	for i, c := range cs {
		copy(m[i*dim:], c.Mean)
	}
	gram := blas32.General{Rows: n, Cols: n, Stride: n, Data: make([]float32, n*n)}
	if n > 0 && dim > 0 {
		a := blas32.General{Rows: n, Cols: dim, Stride: dim, Data: m}
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, a, a, 0, gram)
	}
	var close []pair
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			// unit vectors: |a-b|² = 2 - 2 a·b
			d := math.Sqrt(max(0, 2-2*float64(gram.Data[i*n+j])))
			if d > suggestionLimit {
				continue
			}
			a, b := min(cs[i].PersonID, cs[j].PersonID), max(cs[i].PersonID, cs[j].PersonID)
			if !different[[2]int64{a, b}] {
				close = append(close, pair{a, b, d})
			}
		}
	}
	slices.SortFunc(close, func(x, y pair) int {
		return cmp.Or(cmp.Compare(x.d, y.d), cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b))
	})
	if len(close) > 200 {
		close = close[:200]
	}
	out := make([]Suggestion, 0, len(close))
	for _, c := range close {
		sg := Suggestion{Distance: c.d}
		for _, x := range []struct {
			id  int64
			dst *api.Person
		}{{c.a, &sg.A}, {c.b, &sg.B}} {
			if *x.dst, err = s.api.Person(ctx, x.id); err != nil {
				return nil, err
			}
		}
		out = append(out, sg)
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
