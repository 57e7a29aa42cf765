package wire

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/google/renameio/v2"

	"github.com/faced/faced/cluster"
	"github.com/faced/faced/daemon"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

// PersonsOptions configure Persons.
type PersonsOptions struct {
	// Cluster are the engine's options (Eps, MinSize, ...).
	Cluster cluster.Options
	// Rule is the seed's person rule (MinNoPhotos, MinDays).
	Rule cluster.PersonRule
	// MinFaceWidthPercent is the seed's "private" face width.
	MinFaceWidthPercent float64
	// SnapshotPath, when set, is where the engine's state is saved (at
	// most every SnapshotEvery) so that a restart restores it in linear
	// time instead of re-linking every face.
	SnapshotPath  string
	SnapshotEvery time.Duration
	Logger        *slog.Logger
}

// Persons keeps an incremental cluster engine in step with the index: after
// each batch it adds the new faces, drops the deleted ones, writes the
// automatic assignments, the persons' birth year and gender, and every
// file's visibility. The index bumps the export revision of each file whose
// sidecar content changed.
type Persons struct {
	ix       *index.Index
	opt      PersonsOptions
	log      *slog.Logger
	eng      *cluster.Engine
	inEngine map[int64]bool
	e2i      map[int64]int64 // engine person -> index person
	attrs    map[int64][2]int
	started  bool
	saved    time.Time
}

var _ daemon.Clusterer = (*Persons)(nil)

// NewPersons returns the clusterer of ix.
func NewPersons(ix *index.Index, opt PersonsOptions) *Persons {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Persons{ix: ix, opt: opt, log: opt.Logger, eng: cluster.NewEngine(opt.Cluster),
		inEngine: map[int64]bool{}, e2i: map[int64]int64{}, attrs: map[int64][2]int{}}
}

func captureYear(t time.Time) int { return t.UTC().Year() }

// Update implements daemon.Clusterer.
func (p *Persons) Update(ctx context.Context) error {
	all, err := p.ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
	if err != nil {
		return err
	}
	byID := make(map[int64]*index.FaceRecord, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	for id := range p.inEngine {
		if byID[id] == nil {
			if _, err := p.eng.Remove(id); err != nil {
				p.log.Warn("cluster: remove face", "face", id, "err", err)
			}
			delete(p.inEngine, id)
		}
	}
	if !p.started {
		if err := p.restore(ctx, byID); err != nil {
			return err
		}
	}
	var items []cluster.Item
	var fresh []*index.FaceRecord
	for i := range all {
		if !p.inEngine[all[i].ID] {
			fresh = append(fresh, &all[i])
		}
	}
	if len(fresh) > 256 {
		// Many new faces (start-up): one snapshot read of every vector.
		set, err := p.ix.LoadFaceSet(ctx, index.FaceQuery{}, index.Float32)
		if err != nil {
			return err
		}
		row := map[int64]int{}
		for i, m := range set.Faces {
			row[m.ID] = i
		}
		for _, r := range fresh {
			if i, ok := row[r.ID]; ok {
				items = append(items, cluster.Item{ID: r.ID, Photo: r.FileID, Features: set.Features.Row(i, nil),
					BirthYear: r.BirthYear, Year: captureYear(r.CaptureTime)})
			}
		}
	} else {
		for _, r := range fresh {
			full, err := p.ix.Face(ctx, r.ID)
			if err != nil {
				return err
			}
			items = append(items, cluster.Item{ID: r.ID, Photo: r.FileID, Features: full.Features,
				BirthYear: r.BirthYear, Year: captureYear(r.CaptureTime)})
		}
	}
	if len(items) > 0 {
		if _, err := p.eng.AddBatch(items); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		for _, it := range items {
			p.inEngine[it.ID] = true
		}
	}
	if err := p.apply(ctx, all, byID); err != nil {
		return err
	}
	if p.opt.SnapshotPath != "" && time.Since(p.saved) >= p.opt.SnapshotEvery {
		p.save()
	}
	return nil
}

// restore builds the engine at start: from the saved snapshot when there is
// one (linear time), else by linking every face.
func (p *Persons) restore(ctx context.Context, byID map[int64]*index.FaceRecord) error {
	p.started = true
	var snap []byte
	if p.opt.SnapshotPath != "" {
		b, err := os.ReadFile(p.opt.SnapshotPath)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			p.log.Warn("cluster snapshot unreadable; re-linking every face", "file", p.opt.SnapshotPath, "err", err)
		}
		snap = b
	}
	set, err := p.ix.LoadFaceSet(ctx, index.FaceQuery{}, index.Float32)
	if err != nil {
		return err
	}
	items := make([]cluster.Item, 0, len(set.Faces))
	for i, m := range set.Faces {
		r := byID[m.ID]
		if r == nil {
			continue // arrived between the two reads: the next Update adds it
		}
		items = append(items, cluster.Item{ID: m.ID, Photo: m.FileID, Features: set.Features.Row(i, nil),
			BirthYear: r.BirthYear, Year: captureYear(r.CaptureTime)})
	}
	start := time.Now()
	eng, info, err := cluster.RestoreEngine(p.opt.Cluster, items, snap)
	if errors.Is(err, cluster.ErrBadSnapshot) {
		p.log.Warn("cluster snapshot corrupt; re-linking every face", "file", p.opt.SnapshotPath, "err", err)
		eng, info, err = cluster.RestoreEngine(p.opt.Cluster, items, nil)
	}
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	p.eng = eng
	for _, it := range items {
		p.inEngine[it.ID] = true
	}
	p.log.Info("clusters restored", "faces", len(items), "from_snapshot", info.Restored, "linked", info.Added,
		"dropped", info.Dropped, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Save writes the engine's snapshot now (the daemon calls it when it
// stops).
func (p *Persons) Save() {
	if p.opt.SnapshotPath != "" && p.started {
		p.save()
	}
}

// save writes the engine's snapshot atomically; a failure only costs
// start-up time.
func (p *Persons) save() {
	p.saved = time.Now()
	b, err := p.eng.Snapshot()
	if err == nil {
		err = renameio.WriteFile(p.opt.SnapshotPath, b, 0o600)
	}
	if err != nil {
		p.log.Warn("cluster snapshot not saved", "file", p.opt.SnapshotPath, "err", err)
	}
}

// apply writes the engine's persons into the index.
func (p *Persons) apply(ctx context.Context, all []index.FaceRecord, byID map[int64]*index.FaceRecord) error {
	active, err := p.ix.Persons(ctx, index.PersonQuery{})
	if err != nil {
		return err
	}
	isActive := map[int64]bool{}
	for _, ap := range active {
		isActive[ap.ID] = true
	}
	want := map[int64]int64{} // face -> index person
	taken := map[int64]bool{}
	members := map[int64][]*index.FaceRecord{}
	for _, ep := range p.eng.Persons() {
		var times []time.Time
		var recs []*index.FaceRecord
		for _, id := range ep.Faces {
			if r := byID[id]; r != nil {
				recs = append(recs, r)
				times = append(times, r.CaptureTime)
			}
		}
		if !p.opt.Rule.IsPerson(times) {
			continue
		}
		ip, ok := p.e2i[ep.ID]
		if !ok || !isActive[ip] || taken[ip] {
			ip = 0
			votes := map[int64]int{}
			for _, r := range recs {
				if r.PersonID != 0 && isActive[r.PersonID] && !taken[r.PersonID] {
					votes[r.PersonID]++
				}
			}
			best := 0
			for id, n := range votes {
				if n > best || (n == best && id < ip) {
					ip, best = id, n
				}
			}
			if ip == 0 {
				if ip, err = p.ix.CreatePerson(ctx, index.Person{}); err != nil {
					return err
				}
				isActive[ip] = true
			}
			p.e2i[ep.ID] = ip
		}
		taken[ip] = true
		for _, r := range recs {
			want[r.ID] = ip
		}
		members[ip] = recs
	}
	change := map[int64]int64{}
	for i := range all {
		r := &all[i]
		if r.Source == index.SourceUser || r.ForgottenBy != 0 {
			continue
		}
		if w := want[r.ID]; w != r.PersonID {
			change[r.ID] = w
		}
	}
	if len(change) > 0 {
		if _, err := p.ix.AssignFaces(ctx, change, index.SourceAuto); err != nil {
			return err
		}
		for id, w := range change {
			byID[id].PersonID = w
		}
	}
	// Persons' attributes: birth year (median of the faces') and gender
	// (Dempster–Shafer over the faces' P(male)).
	for ip, recs := range members {
		var births, males []float64
		for _, r := range recs {
			if r.BirthYear != 0 {
				births = append(births, r.BirthYear)
			}
			males = append(males, r.MaleProb)
		}
		year := 0
		if b := cluster.BirthYear(births...); !math.IsNaN(b) {
			year = int(b)
		}
		g, gi := index.GenderFemale, 2
		if cluster.GenderDS(males) {
			g, gi = index.GenderMale, 1
		}
		if p.attrs[ip] == [2]int{year, gi} {
			continue
		}
		if _, err := p.ix.SetBirthYear(ctx, ip, year, index.SourceAuto); err != nil {
			p.log.Warn("person birth year", "person", ip, "err", err)
		}
		if _, err := p.ix.SetGender(ctx, ip, g, index.SourceAuto); err != nil {
			p.log.Warn("person gender", "person", ip, "err", err)
		}
		p.attrs[ip] = [2]int{year, gi}
	}
	return p.visibility(ctx, all)
}

// visibility applies the seed's rule: a file with a face of a person or a
// large face is private, every other analysed file potentially public.
func (p *Persons) visibility(ctx context.Context, all []index.FaceRecord) error {
	files, err := p.ix.Files(ctx, index.StatusDone)
	if err != nil {
		return err
	}
	boxes := map[int64][]face.Box{}
	inPerson := map[int64][]bool{}
	for i := range all {
		r := &all[i]
		boxes[r.FileID] = append(boxes[r.FileID], r.Box)
		inPerson[r.FileID] = append(inPerson[r.FileID], r.PersonID != 0)
	}
	v := make(map[int64]index.Visibility, len(files))
	for _, f := range files {
		vis := index.VisibilityPublic
		if cluster.Private(boxes[f.ID], inPerson[f.ID], f.Width, p.opt.MinFaceWidthPercent) {
			vis = index.VisibilityPrivate
		}
		if f.Visibility != vis {
			v[f.ID] = vis
		}
	}
	if len(v) == 0 {
		return nil
	}
	return p.ix.SetVisibility(ctx, v)
}
