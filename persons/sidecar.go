package persons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
)

// SidecarPhoto builds what path's sidecar shows from the index: every face
// as a region, with its person's name and the names as keywords; a
// forgotten person's faces and a hidden person's are left out, so their
// regions and keywords leave the sidecar.
func SidecarPhoto(ctx context.Context, ix *index.Index, path string) (exporters.Photo, error) {
	f, err := ix.FileByPath(ctx, path)
	if err != nil {
		return exporters.Photo{}, err
	}
	faces, err := ix.Faces(ctx, index.FaceQuery{FileID: f.ID, NoFeatures: true})
	if err != nil {
		return exporters.Photo{}, err
	}
	ph := exporters.Photo{Path: f.Path, Kind: f.Kind, StoredWidth: f.StoredWidth, StoredHeight: f.StoredHeight,
		Visibility: string(f.Visibility)}
	names := map[int64]string{}
	hidden := map[int64]bool{}
	births := map[int64][2]float64{} // person -> birth year, confidence
	for _, r := range faces {
		if r.ForgottenBy != 0 {
			continue // a forgotten person's faces leave the sidecar
		}
		if r.PersonID != 0 {
			h, ok := hidden[r.PersonID]
			if !ok {
				p, err := ix.Person(ctx, r.PersonID)
				h = err == nil && p.Hidden
				hidden[r.PersonID] = h
			}
			if h {
				continue // hidden persons are never exported
			}
		}
		reg := exporters.Region{FaceID: r.ID, PersonID: r.PersonID, StoredBox: r.StoredBox, Age: r.Age,
			MaleProb: r.MaleProb, Score: r.Score, Model: r.Model}
		if r.PersonID != 0 {
			name, ok := names[r.PersonID]
			if !ok {
				if p, err := ix.Person(ctx, r.PersonID); err == nil {
					name = p.Name
					births[r.PersonID] = [2]float64{float64(p.BirthYear), p.BirthYearConfidence}
				}
				names[r.PersonID] = name
			}
			reg.Name = name
			reg.PersonBirthYear, reg.PersonBirthYearConfidence = int(births[r.PersonID][0]), births[r.PersonID][1]
			if name != "" && !slices.Contains(ph.Keywords, name) {
				ph.Keywords = append(ph.Keywords, name)
			}
		}
		ph.Regions = append(ph.Regions, reg)
	}
	return ph, nil
}

// AdoptNames offers names users gave faced's faces in their photo manager
// (read back from the sidecar by the exporter) to the index, under the name
// policy of exporters/README.md:
//   - a name set with facedctl (source "user") is never replaced;
//   - a tool's name names a person that has none (or only an automatic
//     one), with source "sidecar";
//   - a person already named from a sidecar keeps its name when another
//     tool (or another photo) calls one of its faces differently: that is a
//     conflict, logged, left for the user to settle (facedctl persons
//     name/split); the photo keeps its tool's name for that face and faced
//     writes no other name there. The one exception is a region faced wrote
//     that the user renamed from the person's current name
//     (UserName.Replaces): that renames the person;
//   - an unassigned face named in a sidecar becomes a new person of that
//     name (a user statement, assigned with source "user").
//
// A sidecar name that loses never changes the index, so exports cannot
// ping-pong between two names. It reports whether a person was named
// (their files need export again; the index bumped them). It runs under
// the Service's lock, as the verbs and the clusterer's Update do: two
// sidecars exported at once that name one unnamed person differently never
// both see it unnamed, and a user's verb never interleaves with it.
func (s *Service) AdoptNames(ctx context.Context, names []exporters.UserName) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.ix
	var errs []error
	changed := false
	for _, un := range names {
		if un.FaceID == 0 || un.Name == "" {
			continue
		}
		f, err := ix.Face(ctx, un.FaceID)
		if errors.Is(err, index.ErrNotFound) {
			continue // the face left the index since the sidecar was written
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.PersonID != 0 {
			p, err := ix.Person(ctx, f.PersonID)
			if err != nil {
				if !errors.Is(err, index.ErrNotFound) && !errors.Is(err, index.ErrPersonInactive) {
					errs = append(errs, err)
				}
				continue
			}
			switch {
			case p.NameSource == index.SourceUser || p.Name == un.Name:
				continue
			case p.NameSource == index.SourceSidecar && p.Name != "" &&
				!(un.Source == exporters.SourceRenamedRegion && un.Replaces == p.Name):
				slog.Info("name conflict: the person keeps its name; the photo keeps its own for this face",
					"person", p.ID, "name", p.Name, "other_name", un.Name, "sidecar", un.Sidecar, "face", un.FaceID)
				continue
			}
			ok, err := ix.SetName(ctx, f.PersonID, un.Name, index.SourceSidecar)
			if err != nil && !errors.Is(err, index.ErrPersonInactive) {
				errs = append(errs, fmt.Errorf("name %q from %s: %w", un.Name, un.Sidecar, err))
			}
			changed = changed || ok
			continue
		}
		id, err := ix.CreatePerson(ctx, index.Person{Name: un.Name, NameSource: index.SourceSidecar})
		if err == nil {
			_, err = ix.AssignFaces(ctx, map[int64]int64{un.FaceID: id}, index.SourceUser)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("name %q from %s: %w", un.Name, un.Sidecar, err))
			continue
		}
		changed = true
	}
	return changed, errors.Join(errs...)
}
