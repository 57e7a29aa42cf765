package wire

import (
	"context"
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
	_, err = e.ex.Export(ctx, ph)
	return err
}
