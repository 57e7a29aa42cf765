package wire

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/faced/faced/daemon"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
)

// Exporter writes a file's sidecar from what the index holds about it.
type Exporter struct {
	ix *index.Index
	ex *exporters.Exporter
}

var _ daemon.Exporter = (*Exporter)(nil)

// NewExporter returns the daemon's exporter over ix and ex.
func NewExporter(ix *index.Index, ex *exporters.Exporter) *Exporter {
	return &Exporter{ix: ix, ex: ex}
}

// Photo builds the exporters.Photo of path from the index.
func (e *Exporter) Photo(ctx context.Context, path string) (exporters.Photo, error) {
	f, err := e.ix.FileByPath(ctx, path)
	if err != nil {
		return exporters.Photo{}, err
	}
	faces, err := e.ix.Faces(ctx, index.FaceQuery{FileID: f.ID, NoFeatures: true})
	if err != nil {
		return exporters.Photo{}, err
	}
	ph := exporters.Photo{Path: f.Path, Kind: f.Kind, StoredWidth: f.StoredWidth, StoredHeight: f.StoredHeight,
		Visibility: string(f.Visibility)}
	names := map[int64]string{}
	for _, r := range faces {
		reg := exporters.Region{FaceID: r.ID, PersonID: r.PersonID, StoredBox: r.StoredBox, Age: r.Age,
			MaleProb: r.MaleProb, Score: r.Score, Model: r.Model}
		if r.PersonID != 0 {
			name, ok := names[r.PersonID]
			if !ok {
				if p, err := e.ix.Person(ctx, r.PersonID); err == nil {
					name = p.Name
				}
				names[r.PersonID] = name
			}
			reg.Name = name
			if name != "" && !slices.Contains(ph.Keywords, name) {
				ph.Keywords = append(ph.Keywords, name)
			}
		}
		ph.Regions = append(ph.Regions, reg)
	}
	return ph, nil
}

// Export implements daemon.Exporter.
func (e *Exporter) Export(ctx context.Context, path string) error {
	ph, err := e.Photo(ctx, path)
	if err != nil {
		return err
	}
	res, err := e.ex.Export(ctx, ph)
	if err != nil {
		return err
	}
	return AdoptNames(ctx, e.ix, res.UserNames)
}

// AdoptNames offers names users gave faced's faces in their photo manager
// (read back from the sidecar by the exporter) to the index: the face's
// person takes the name with source "sidecar", so a name the user set with
// facedctl is never replaced, and an unassigned face becomes a new person of
// that name (a user statement, so assigned with source "user"). The index
// bumps the export revision of the person's files, and the daemon rewrites
// their sidecars with the name.
func AdoptNames(ctx context.Context, ix *index.Index, names []exporters.UserName) error {
	var errs []error
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
			if _, err := ix.SetName(ctx, f.PersonID, un.Name, index.SourceSidecar); err != nil && !errors.Is(err, index.ErrPersonInactive) {
				errs = append(errs, fmt.Errorf("name %q from %s: %w", un.Name, un.Sidecar, err))
			}
			continue
		}
		id, err := ix.CreatePerson(ctx, index.Person{Name: un.Name, NameSource: index.SourceSidecar})
		if err == nil {
			_, err = ix.AssignFaces(ctx, map[int64]int64{un.FaceID: id}, index.SourceUser)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("name %q from %s: %w", un.Name, un.Sidecar, err))
		}
	}
	return errors.Join(errs...)
}
