package wire

import (
	"context"
	"fmt"

	"github.com/faced/faced/daemon"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
	"github.com/faced/faced/media"
	"github.com/faced/faced/persons"
)

// Exporter writes a file's sidecar from what the index holds about it.
type Exporter struct {
	ix *index.Index
	ps *persons.Service
	ex *exporters.Exporter
}

var (
	_ daemon.Exporter   = (*Exporter)(nil)
	_ daemon.Withdrawer = (*Exporter)(nil)
)

// NewExporter returns the daemon's exporter of ps's index through ex; names
// read back from sidecars go through ps (Service.AdoptNames).
func NewExporter(ps *persons.Service, ex *exporters.Exporter) *Exporter {
	return &Exporter{ix: ps.Index(), ps: ps, ex: ex}
}

// Photo builds the exporters.Photo of path from the index.
func (e *Exporter) Photo(ctx context.Context, path string) (exporters.Photo, error) {
	return persons.SidecarPhoto(ctx, e.ix, path)
}

// Export implements daemon.Exporter. When the sidecar gave one of the
// photo's persons its name (persons.Service.AdoptNames), the photo is built and merged
// again at once, so one export pass leaves it as the next would: a second
// pass writes nothing.
func (e *Exporter) Export(ctx context.Context, path string) error {
	ph, err := e.Photo(ctx, path)
	if err != nil {
		return err
	}
	res, err := e.ex.Export(ctx, ph)
	if err != nil {
		return err
	}
	if err := e.exportCompanions(ctx, ph); err != nil {
		return err
	}
	changed, err := e.ps.AdoptNames(ctx, res.UserNames)
	if err != nil || !changed {
		return err
	}
	if ph, err = e.Photo(ctx, path); err != nil {
		return err
	}
	if _, err = e.ex.Export(ctx, ph); err != nil {
		return err
	}
	return e.exportCompanions(ctx, ph)
}

// Withdraw implements daemon.Withdrawer: faced's part of path's sidecars
// is taken back (exporters.Exporter.Withdraw), those of its RAW+JPEG
// companions too.
func (e *Exporter) Withdraw(ctx context.Context, path string) (removed, rewritten []string, err error) {
	for _, p := range append([]string{path}, media.Companions(path)...) {
		rm, rw, err := e.ex.Withdraw(ctx, p)
		removed, rewritten = append(removed, rm...), append(rewritten, rw...)
		if err != nil {
			return removed, rewritten, err
		}
	}
	return removed, rewritten, nil
}

// exportCompanions writes the still ph's faces into the sidecars of its
// RAW+JPEG raw files (media.Companions), which are not analysed on their
// own. With SidecarNaming = base the pair shares one sidecar and this
// export finds it current.
func (e *Exporter) exportCompanions(ctx context.Context, ph exporters.Photo) error {
	for _, c := range media.Companions(ph.Path) {
		cp := ph
		cp.Path = c
		if _, err := e.ex.Export(ctx, cp); err != nil {
			return fmt.Errorf("companion %s: %w", c, err)
		}
	}
	return nil
}
