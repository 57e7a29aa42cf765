package persons

import (
	"context"
	"errors"
	"fmt"

	"github.com/faced/faced/api"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

// API serves the Service as the local API's persons endpoints (and the
// review page, which calls the same methods): api.PersonsBackend.
type API struct{ S *Service }

var _ api.PersonsBackend = API{}

// apiError marks index errors with the API's sentinels.
func apiError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, index.ErrNotFound), errors.Is(err, ErrNoThumbnail):
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	case errors.Is(err, index.ErrInvalid):
		return fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	case errors.Is(err, index.ErrPersonInactive):
		return fmt.Errorf("%w: %w", api.ErrConflict, err)
	}
	return err
}

// APIPerson converts an index person.
func APIPerson(p index.Person) api.Person {
	return api.Person{ID: p.ID, Name: p.Name, NameSource: string(p.NameSource), BirthYear: p.BirthYear,
		BirthYearSource: string(p.BirthYearSource), BirthYearConfidence: p.BirthYearConfidence, Gender: string(p.Gender), GenderSource: string(p.GenderSource),
		OptOut: p.OptOut, Hidden: p.Hidden, MergedInto: p.MergedInto, Faces: p.Faces, Files: p.Files}
}

// APIFace converts an index face.
func APIFace(f index.FaceRecord, video bool) api.Face {
	return api.Face{ID: f.ID, FileID: f.FileID, Path: f.Path, Video: video, FrameTime: f.FrameTime,
		Box: [4]float64{f.Box.X1, f.Box.Y1, f.Box.X2, f.Box.Y2}, PersonID: f.PersonID, Source: string(f.Source),
		ApparentAge: f.Age, ApparentMale: f.MaleProb, Score: f.Score, Forgotten: f.ForgottenBy != 0,
		Captured: f.CaptureTime}
}

func (a API) person(ctx context.Context, p index.Person) (api.Person, error) {
	out := APIPerson(p)
	if p.Faces > 0 {
		best, err := a.S.BestFace(ctx, p.ID)
		if err != nil {
			return out, err
		}
		out.BestFace = best
	}
	return out, nil
}

// Persons implements api.PersonsBackend.
func (a API) Persons(ctx context.Context, q api.PersonQuery) (api.PersonList, error) {
	ps, total, err := a.S.List(ctx, ListQuery{All: q.All, Review: q.Review, Offset: q.Offset, Limit: q.Limit})
	if err != nil {
		return api.PersonList{}, apiError(err)
	}
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	best, err := a.S.BestFaces(ctx, ids...)
	if err != nil {
		return api.PersonList{}, apiError(err)
	}
	out := api.PersonList{Persons: make([]api.Person, 0, len(ps)), Total: total}
	for _, p := range ps {
		ap := APIPerson(p)
		ap.BestFace = best[p.ID]
		out.Persons = append(out.Persons, ap)
	}
	return out, nil
}

// Person implements api.PersonsBackend.
func (a API) Person(ctx context.Context, id int64) (api.Person, error) {
	p, err := a.S.Person(ctx, id)
	if err != nil {
		return api.Person{}, apiError(err)
	}
	ap, err := a.person(ctx, p)
	return ap, apiError(err)
}

// PersonFaces implements api.PersonsBackend.
func (a API) PersonFaces(ctx context.Context, id int64, offset, limit int) (api.FacePage, error) {
	if _, err := a.S.Person(ctx, id); err != nil {
		return api.FacePage{}, apiError(err)
	}
	fs, total, err := a.S.Faces(ctx, id, offset, limit)
	if err != nil {
		return api.FacePage{}, apiError(err)
	}
	out := api.FacePage{Faces: make([]api.Face, 0, len(fs)), Total: total}
	for _, f := range fs {
		out.Faces = append(out.Faces, APIFace(f, f.FrameTime != 0 || f.Frames > 0))
	}
	return out, nil
}

// Face implements api.PersonsBackend.
func (a API) Face(ctx context.Context, id int64) (api.Face, error) {
	f, err := a.S.ix.Face(ctx, id)
	if err != nil {
		return api.Face{}, apiError(err)
	}
	return APIFace(f, f.FrameTime != 0 || f.Frames > 0), nil
}

// Photo implements api.PersonsBackend.
func (a API) Photo(ctx context.Context, id int64) (api.Photo, error) {
	f, err := a.S.ix.FileByID(ctx, id)
	if err != nil {
		return api.Photo{}, apiError(err)
	}
	fs, err := a.S.ix.Faces(ctx, index.FaceQuery{FileID: id, NoFeatures: true})
	if err != nil {
		return api.Photo{}, apiError(err)
	}
	out := api.Photo{ID: f.ID, Path: f.Path, Kind: string(f.Kind), Width: f.Width, Height: f.Height,
		Visibility: string(f.Visibility), Faces: make([]api.Face, 0, len(fs))}
	for _, r := range fs {
		out.Faces = append(out.Faces, APIFace(r, f.Kind == face.KindVideo))
	}
	return out, nil
}

// Thumbnail implements api.PersonsBackend.
func (a API) Thumbnail(ctx context.Context, faceID int64) ([]byte, error) {
	if a.S.thumbs == nil {
		return nil, fmt.Errorf("%w: no thumbnail cache", api.ErrNotFound)
	}
	b, err := a.S.thumbs.Get(ctx, faceID)
	return b, apiError(err)
}

// Edit implements api.PersonsBackend.
func (a API) Edit(ctx context.Context, verb string, id int64, req api.EditRequest) (api.EditResult, error) {
	s := a.S
	show := id
	var err error
	switch verb {
	case "name":
		if req.Name == nil {
			return api.EditResult{}, fmt.Errorf("%w: name: no name given", api.ErrBadRequest)
		}
		err = s.Name(ctx, id, *req.Name)
	case "birth-year":
		if req.BirthYear == nil {
			return api.EditResult{}, fmt.Errorf("%w: birth-year: no year given", api.ErrBadRequest)
		}
		err = s.SetBirthYear(ctx, id, *req.BirthYear)
	case "hide":
		h := true
		if req.Hidden != nil {
			h = *req.Hidden
		}
		err = s.Hide(ctx, id, h)
	case "forget":
		err = s.Forget(ctx, id)
	case "merge":
		err = s.Merge(ctx, id, req.Other)
	case "split":
		show, err = s.Split(ctx, id, req.Faces)
	case "not":
		err = s.NotPerson(ctx, id, req.Faces)
	case "different":
		err = s.Different(ctx, id, req.Other)
	case "move":
		show, err = s.Move(ctx, req.Faces, req.To)
	default:
		return api.EditResult{}, fmt.Errorf("%w: unknown verb %q", api.ErrBadRequest, verb)
	}
	if err != nil {
		return api.EditResult{}, apiError(err)
	}
	p, err := a.Person(ctx, show)
	return api.EditResult{Person: p}, err
}
