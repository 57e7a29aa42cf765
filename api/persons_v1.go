package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Errors of the persons endpoints, for errors.Is on both sides: a backend
// wraps them, the handler maps them to a status, the client maps the status
// back.
var (
	// ErrNotFound: no such person, face or photo (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the person was merged or forgotten (409).
	ErrConflict = errors.New("conflict")
)

// Person is a person of the index (GET /v1/persons, /v1/persons/{id}).
type Person struct {
	ID   int64  `json:"id"`
	Name string `json:"name,omitempty"`
	// NameSource is "user", "sidecar" or "auto".
	NameSource      string `json:"name_source,omitempty"`
	BirthYear       int    `json:"birth_year,omitempty"`
	BirthYearSource string `json:"birth_year_source,omitempty"`
	// BirthYearConfidence is the chance (0..1) that an automatic birth
	// year is within two years; 0 when unknown or given by the user.
	BirthYearConfidence float64 `json:"birth_year_confidence,omitempty"`
	// Gender is the apparent gender ("male", "female" or "").
	Gender       string `json:"gender,omitempty"`
	GenderSource string `json:"gender_source,omitempty"`
	OptOut       bool   `json:"opt_out,omitempty"`
	Hidden       bool   `json:"hidden,omitempty"`
	MergedInto   int64  `json:"merged_into,omitempty"`
	Faces        int    `json:"faces"`
	Files        int    `json:"files"`
	// BestFace is the face shown for the person (0: none).
	BestFace int64 `json:"best_face,omitempty"`
}

// PersonList is a page of persons and the number of persons in all.
type PersonList struct {
	Persons []Person `json:"persons"`
	Total   int      `json:"total"`
}

// PersonQuery selects GET /v1/persons.
type PersonQuery struct {
	// All also lists merged and forgotten persons.
	All bool
	// Review orders unnamed persons first, then by face count.
	Review        bool
	Offset, Limit int
}

// Face is one detected face.
type Face struct {
	ID     int64  `json:"id"`
	FileID int64  `json:"file_id"`
	Path   string `json:"path"`
	Video  bool   `json:"video,omitempty"`
	// FrameTime is the video frame's time in seconds.
	FrameTime float64 `json:"frame_time,omitempty"`
	// Box is the face in the upright photo, in pixels: x1, y1, x2, y2.
	Box      [4]float64 `json:"box"`
	PersonID int64      `json:"person_id,omitempty"`
	// Source of the assignment: "user" or "auto".
	Source string `json:"source,omitempty"`
	// ApparentAge and ApparentMale are what the face looks like (years,
	// P(male)), not facts about the person.
	ApparentAge  float64   `json:"apparent_age"`
	ApparentMale float64   `json:"apparent_male"`
	Score        float64   `json:"score"`
	Forgotten    bool      `json:"forgotten,omitempty"`
	Captured     time.Time `json:"captured,omitzero"`
}

// FacePage is a page of a person's faces and their number in all.
type FacePage struct {
	Faces []Face `json:"faces"`
	Total int    `json:"total"`
}

// Photo is an analysed photo or video with its faces.
type Photo struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
	// Kind is "photo" or "video".
	Kind string `json:"kind"`
	// Width and Height are the upright dimensions (after EXIF orientation).
	Width  int `json:"width"`
	Height int `json:"height"`
	// Visibility is "private", "public" or "" (not decided).
	Visibility string `json:"visibility,omitempty"`
	Faces      []Face `json:"faces"`
}

// EditRequest is the body of the person edits. Each endpoint reads the
// fields it needs.
type EditRequest struct {
	Name      *string `json:"name,omitempty"`
	BirthYear *int    `json:"birth_year,omitempty"`
	Hidden    *bool   `json:"hidden,omitempty"`
	// Faces of a split, "not this person" or move.
	Faces []int64 `json:"faces,omitempty"`
	// Other is the person merged in (merge) or said different (different);
	// To the person faces move to (move).
	Other int64 `json:"other,omitempty"`
	To    int64 `json:"to,omitempty"`
}

// EditResult answers an edit: the person edited (or created by a split) as
// it is now.
type EditResult struct {
	Person Person `json:"person"`
}

// PersonsBackend is what the daemon provides to the persons endpoints.
// Errors wrap ErrNotFound, ErrBadRequest or ErrConflict where they apply.
type PersonsBackend interface {
	Persons(ctx context.Context, q PersonQuery) (PersonList, error)
	Person(ctx context.Context, id int64) (Person, error)
	PersonFaces(ctx context.Context, id int64, offset, limit int) (FacePage, error)
	Face(ctx context.Context, id int64) (Face, error)
	Photo(ctx context.Context, id int64) (Photo, error)
	// Thumbnail returns the JPEG of a face.
	Thumbnail(ctx context.Context, face int64) ([]byte, error)
	// Edit runs verb ("name", "birth-year", "hide", "forget", "merge",
	// "split", "not", "different", "move") on person id (0 for "move").
	Edit(ctx context.Context, verb string, id int64, req EditRequest) (EditResult, error)
}

// Verbs are the edits POST /v1/persons/{id}/{verb} accepts; "move" is
// POST /v1/faces/move.
var Verbs = []string{"name", "birth-year", "hide", "forget", "merge", "split", "not", "different"}

// Option adds to the handler.
type Option func(*http.ServeMux)

// WithPersons serves the persons, faces, photos and thumbnails endpoints
// over pb.
func WithPersons(pb PersonsBackend) Option {
	return func(mux *http.ServeMux) { personsRoutes(mux, pb) }
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s %q is not a positive number", ErrBadRequest, name, r.PathValue(name))
	}
	return id, nil
}

func queryInt(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.URL.Query().Get(name))
	return max(n, 0)
}

func personsRoutes(mux *http.ServeMux, pb PersonsBackend) {
	mux.HandleFunc("GET /v1/persons", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res, err := pb.Persons(r.Context(), PersonQuery{All: q.Get("all") == "1", Review: q.Get("review") == "1",
			Offset: queryInt(r, "offset"), Limit: queryInt(r, "limit")})
		reply(w, res, err)
	})
	withID := func(name string, fn func(w http.ResponseWriter, r *http.Request, id int64)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id, err := pathID(r, name)
			if err != nil {
				reply(w, nil, err)
				return
			}
			fn(w, r, id)
		}
	}
	mux.HandleFunc("GET /v1/persons/{id}", withID("id", func(w http.ResponseWriter, r *http.Request, id int64) {
		p, err := pb.Person(r.Context(), id)
		reply(w, p, err)
	}))
	mux.HandleFunc("GET /v1/persons/{id}/faces", withID("id", func(w http.ResponseWriter, r *http.Request, id int64) {
		p, err := pb.PersonFaces(r.Context(), id, queryInt(r, "offset"), queryInt(r, "limit"))
		reply(w, p, err)
	}))
	mux.HandleFunc("GET /v1/faces/{id}", withID("id", func(w http.ResponseWriter, r *http.Request, id int64) {
		f, err := pb.Face(r.Context(), id)
		reply(w, f, err)
	}))
	mux.HandleFunc("GET /v1/photos/{id}", withID("id", func(w http.ResponseWriter, r *http.Request, id int64) {
		p, err := pb.Photo(r.Context(), id)
		reply(w, p, err)
	}))
	mux.HandleFunc("GET /v1/thumbnails/{id}", withID("id", func(w http.ResponseWriter, r *http.Request, id int64) {
		b, err := pb.Thumbnail(r.Context(), id)
		if err != nil {
			reply(w, nil, err)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(b)
	}))
	edit := func(verb string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var id int64
			if verb != "move" {
				var err error
				if id, err = pathID(r, "id"); err != nil {
					reply(w, nil, err)
					return
				}
			}
			var req EditRequest
			if r.ContentLength != 0 {
				if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
					reply(w, nil, fmt.Errorf("%w: %s body: %v", ErrBadRequest, verb, err))
					return
				}
			}
			res, err := pb.Edit(r.Context(), verb, id, req)
			reply(w, res, err)
		}
	}
	for _, v := range Verbs {
		mux.HandleFunc("POST /v1/persons/{id}/"+v, edit(v))
	}
	mux.HandleFunc("POST /v1/faces/move", edit("move"))
}

// Persons lists persons.
func (c *Client) Persons(ctx context.Context, q PersonQuery) (PersonList, error) {
	v := url.Values{}
	if q.All {
		v.Set("all", "1")
	}
	if q.Review {
		v.Set("review", "1")
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var res PersonList
	err := c.do(ctx, http.MethodGet, "/v1/persons?"+v.Encode(), nil, &res)
	return res, err
}

// Person fetches one person.
func (c *Client) Person(ctx context.Context, id int64) (Person, error) {
	var p Person
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/persons/%d", id), nil, &p)
	return p, err
}

// PersonFaces fetches a page of a person's faces (limit 0: all).
func (c *Client) PersonFaces(ctx context.Context, id int64, offset, limit int) (FacePage, error) {
	var p FacePage
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/persons/%d/faces?offset=%d&limit=%d", id, offset, limit), nil, &p)
	return p, err
}

// Photo fetches a photo and its faces.
func (c *Client) Photo(ctx context.Context, id int64) (Photo, error) {
	var p Photo
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/photos/%d", id), nil, &p)
	return p, err
}

// Thumbnail fetches the JPEG thumbnail of a face.
func (c *Client) Thumbnail(ctx context.Context, face int64) ([]byte, error) {
	var b []byte
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/thumbnails/%d", face), nil, &rawBody{&b})
	return b, err
}

// Edit runs a person verb (see PersonsBackend.Edit); "move" ignores id.
func (c *Client) Edit(ctx context.Context, verb string, id int64, req EditRequest) (EditResult, error) {
	p := fmt.Sprintf("/v1/persons/%d/%s", id, verb)
	if verb == "move" {
		p = "/v1/faces/move"
	}
	var res EditResult
	err := c.do(ctx, http.MethodPost, p, req, &res)
	return res, err
}

// rawBody receives a non-JSON answer.
type rawBody struct{ b *[]byte }

func readRaw(r io.Reader, out any) (bool, error) {
	rb, ok := out.(*rawBody)
	if !ok {
		return false, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, 32<<20))
	*rb.b = b
	return true, err
}

// statusError maps an error answer's status to the sentinel errors.
func statusError(code int) error {
	switch code {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusBadRequest:
		return ErrBadRequest
	}
	return nil
}

// Face fetches one face.
func (c *Client) Face(ctx context.Context, id int64) (Face, error) {
	var f Face
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/faces/%d", id), nil, &f)
	return f, err
}

var _ PersonsBackend = (*Client)(nil)
