package persons

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/faced/faced/cluster"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

// ClustererOptions configure a Clusterer.
type ClustererOptions struct {
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

// faceState is what Persons keeps of a face: no features (those stay in
// the index and the engine).
type faceState struct {
	file      int64
	person    int64
	source    index.Source
	forgotten int64
	box       face.Box
	capture   time.Time
	birth     float64
	age       float64
	mtimeOnly bool // the capture time is only the file's mtime
	male      float64
	sum       uint64 // fingerprint of the analysis (see analysisSum)
}

// personState is what Persons keeps of an index person.
type personState struct {
	merged int64
	optOut bool
}

// Clusterer keeps an incremental cluster engine in step with the index.
//
// It follows the index's change feed (index.FaceChanges from the last
// revision), so each Update costs reads in proportion to what changed: new
// faces (their vectors loaded in one LoadFaceSet of just their ids), deleted
// faces, re-analysed faces (the analysis fingerprint changed: re-linked with
// their new vectors) and assignment changes. Assignment changes it did not
// write itself are user edits (facedctl persons name|merge|split|forget,
// names adopted from sidecars) and reach the engine: a merged person's
// engine cluster is merged (cluster.Engine.Merge), user assignments become
// engine assignments (Assign), "not this person" and "not this face"
// constraints become cannot-links (NotPerson, CannotLink), and an opted-out
// person's cluster keeps recognising their faces but leaves them unassigned.
// Then it writes the automatic assignments, the persons' birth year and
// gender and the visibility of the files whose faces changed; the index
// bumps the export revision of each file whose sidecar content changed.
//
// In memory it keeps a few dozen bytes per face (no features); the engine
// holds the vectors.
type Clusterer struct {
	svc *Service
	ix  *index.Index
	opt ClustererOptions
	log *slog.Logger
	eng *cluster.Engine

	mu   sync.Mutex
	done map[int64]bool // files analysed since the last Update (NoteDone)

	started bool
	rev     int64 // change-feed revision read up to
	faces   map[int64]*faceState
	byFile  map[int64][]int64
	e2i     map[int64]int64 // engine person -> index person
	i2e     map[int64]int64 // index person -> engine person
	pst     map[int64]personState
	// pending are the automatic assignments written by the last apply
	// (face -> person, 0 removed): their echo in the change feed is not a
	// user edit.
	pending  map[int64]int64
	clFaces  map[[2]int64]bool // cannot-links known to the engine
	clPerson map[[2]int64]bool
	attrs    map[int64][3]int // birth year, gender, birth-year confidence (per mille)
	dirty    map[int64]bool   // files whose visibility must be recomputed
	saved    time.Time

	// Stats of the last Update (tests and logs).
	last UpdateStats
}

// UpdateStats count what one Update read and did.
type UpdateStats struct {
	Changed, Deleted int // faces in the change feed
	Vectors          int // feature vectors loaded
	Reanalysed       int // faces re-linked because their analysis changed
	UserEdits        int // assignment changes made by someone else
	Assigned         int // automatic assignment changes written
}

// NewClusterer returns the clusterer of s's index. Its Update and s's
// verbs never run at the same time (they share s's lock).
func NewClusterer(s *Service, opt ClustererOptions) *Clusterer {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Clusterer{svc: s, ix: s.ix, opt: opt, log: opt.Logger, eng: cluster.NewEngine(opt.Cluster),
		done: map[int64]bool{}, faces: map[int64]*faceState{}, byFile: map[int64][]int64{},
		e2i: map[int64]int64{}, i2e: map[int64]int64{}, pst: map[int64]personState{}, pending: map[int64]int64{},
		clFaces: map[[2]int64]bool{}, clPerson: map[[2]int64]bool{}, attrs: map[int64][3]int{}, dirty: map[int64]bool{}}
}

// NoteDone tells the clusterer that a file was analysed (its visibility must be
// decided even when it has no face). Safe for concurrent use.
func (p *Clusterer) NoteDone(fileID int64) {
	p.mu.Lock()
	p.done[fileID] = true
	p.mu.Unlock()
}

// LastUpdate returns the counts of the last Update.
func (p *Clusterer) LastUpdate() UpdateStats { return p.last }

func captureYear(t time.Time) int { return t.UTC().Year() }

// analysisSum fingerprints what an analysis wrote for a face. A re-analysis
// that keeps the face's id (overlapping box) but changes it (another model,
// another crop) changes the sum; identical analyses give identical
// features, so an equal sum means nothing to re-link.
func analysisSum(r *index.FaceRecord) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		h ^= v
		h *= 1099511628211
		h ^= h >> 29
	}
	for _, f := range []float64{r.Box.X1, r.Box.Y1, r.Box.X2, r.Box.Y2, r.StoredBox.X1, r.StoredBox.Y1,
		r.StoredBox.X2, r.StoredBox.Y2, r.Score, r.Age, r.MaleProb, r.BirthYear, r.FrameTime} {
		mix(math.Float64bits(f))
	}
	mix(uint64(r.FileID))
	mix(uint64(r.CaptureTime.UnixNano()))
	for _, c := range []byte(r.Model) {
		mix(uint64(c))
	}
	return h
}

func (p *Clusterer) setFace(r *index.FaceRecord, sum uint64) {
	m := p.faces[r.ID]
	if m == nil {
		m = &faceState{}
		p.faces[r.ID] = m
	} else if m.file != r.FileID {
		p.byFile[m.file] = dropID(p.byFile[m.file], r.ID)
		p.dirty[m.file] = true
	}
	if m.file != r.FileID {
		p.byFile[r.FileID] = append(p.byFile[r.FileID], r.ID)
	}
	*m = faceState{file: r.FileID, person: r.PersonID, source: r.Source, forgotten: r.ForgottenBy, box: r.Box,
		capture: r.CaptureTime, birth: r.BirthYear, age: r.Age, male: r.MaleProb, sum: sum,
		mtimeOnly: r.CaptureSource == "" || r.CaptureSource == "mtime"}
	p.dirty[r.FileID] = true
}

func (p *Clusterer) dropFace(id int64) {
	m := p.faces[id]
	if m == nil {
		return
	}
	p.byFile[m.file] = dropID(p.byFile[m.file], id)
	if len(p.byFile[m.file]) == 0 {
		delete(p.byFile, m.file)
	}
	p.dirty[m.file] = true
	delete(p.faces, id)
}

func dropID(s []int64, id int64) []int64 {
	if i := slices.Index(s, id); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}

func (p *Clusterer) item(id int64, vec []float32) cluster.Item {
	m := p.faces[id]
	return cluster.Item{ID: id, Photo: m.file, Features: vec, BirthYear: m.birth, Year: captureYear(m.capture),
		Age: m.age, When: cluster.DecimalYear(m.capture)}
}

// edit is an assignment change someone else made.
type edit struct {
	face, from, to, forgotten int64
	source                    index.Source
}

// Update implements daemon.Clusterer: it follows what changed in the index
// since the last call. It holds the Service's lock, so a verb never runs
// in the middle of it.
func (p *Clusterer) Update(ctx context.Context) error {
	p.svc.mu.Lock()
	defer p.svc.mu.Unlock()
	return p.update(ctx)
}

func (p *Clusterer) update(ctx context.Context) error {
	if !p.started {
		return p.start(ctx)
	}
	p.last = UpdateStats{}
	changed, deleted, rev, err := p.ix.FaceChanges(ctx, p.rev, index.FaceQuery{NoFeatures: true})
	if err != nil {
		return err
	}
	p.mu.Lock()
	for f := range p.done {
		p.dirty[f] = true
	}
	clear(p.done)
	p.mu.Unlock()
	p.last.Changed, p.last.Deleted = len(changed), len(deleted)
	if len(changed) == 0 && len(deleted) == 0 && len(p.dirty) == 0 {
		p.rev = max(p.rev, rev)
		return nil
	}
	for _, id := range deleted {
		if p.faces[id] == nil {
			continue
		}
		if _, err := p.eng.Remove(id); err != nil && !errors.Is(err, cluster.ErrUnknownFace) {
			p.log.Warn("cluster: remove face", "face", id, "err", err)
		}
		p.dropFace(id)
	}
	var need []int64
	var edits []edit
	for i := range changed {
		r := &changed[i]
		m := p.faces[r.ID]
		sum := analysisSum(r)
		switch {
		case r.ForgottenBy != 0:
			// Forgotten: the index erased its features; the engine lets
			// go of its vector too.
			if m != nil {
				if _, err := p.eng.Remove(r.ID); err != nil && !errors.Is(err, cluster.ErrUnknownFace) {
					p.log.Warn("cluster: remove face", "face", r.ID, "err", err)
				}
				if m.forgotten != r.ForgottenBy {
					edits = append(edits, edit{face: r.ID, from: m.person, forgotten: r.ForgottenBy, source: r.Source})
				}
			}
		case m == nil:
			need = append(need, r.ID)
			if r.Source == index.SourceUser {
				edits = append(edits, edit{face: r.ID, to: r.PersonID, source: r.Source})
			}
		default:
			if m.sum != sum {
				// Re-analysed: re-link with the new vector.
				if _, err := p.eng.Remove(r.ID); err != nil && !errors.Is(err, cluster.ErrUnknownFace) {
					p.log.Warn("cluster: remove face", "face", r.ID, "err", err)
				}
				need = append(need, r.ID)
				p.last.Reanalysed++
			}
			if m.person != r.PersonID || m.source != r.Source || m.forgotten != r.ForgottenBy {
				w, ours := p.pending[r.ID]
				if !ours || w != r.PersonID || r.Source == index.SourceUser || r.ForgottenBy != m.forgotten {
					edits = append(edits, edit{face: r.ID, from: m.person, to: r.PersonID, forgotten: r.ForgottenBy, source: r.Source})
				}
			} else if m.sum != sum && r.Source == index.SourceUser {
				edits = append(edits, edit{face: r.ID, to: r.PersonID, source: r.Source}) // re-label after re-link
			}
		}
		p.setFace(r, sum)
	}
	clear(p.pending)
	p.rev = rev
	if err := p.addVectors(ctx, need); err != nil {
		return err
	}
	if len(edits) > 0 {
		p.last.UserEdits = len(edits)
		if err := p.userEdits(ctx, edits); err != nil {
			return err
		}
	}
	if err := p.apply(ctx, nil); err != nil {
		return err
	}
	if p.opt.SnapshotPath != "" && time.Since(p.saved) >= p.opt.SnapshotEvery {
		p.save()
	}
	return nil
}

// addVectors loads the vectors of faces ids in one read and adds them to
// the engine.
func (p *Clusterer) addVectors(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	set, err := p.ix.LoadFaceSet(ctx, index.FaceQuery{IDs: ids}, index.Float32)
	if err != nil {
		return err
	}
	p.last.Vectors += len(set.Faces)
	items := make([]cluster.Item, 0, len(set.Faces))
	for i, m := range set.Faces {
		if p.faces[m.ID] == nil {
			continue // deleted since: its tombstone comes next time
		}
		items = append(items, p.item(m.ID, set.Features.Row(i, nil)))
	}
	if _, err := p.eng.AddBatch(items); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// start builds the engine: from the saved snapshot when there is one
// (linear time), else by linking every face; then replays the user's
// decisions stored in the index (a snapshot older than them, or none, does
// not have them) and applies the result.
func (p *Clusterer) start(ctx context.Context) error {
	p.last = UpdateStats{}
	all, _, rev, err := p.ix.FaceChanges(ctx, 0, index.FaceQuery{NoFeatures: true})
	if err != nil {
		return err
	}
	for i := range all {
		p.setFace(&all[i], analysisSum(&all[i]))
	}
	clear(p.dirty) // visibility of every file is checked below
	p.rev = rev
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
	p.last.Changed, p.last.Vectors = len(all), len(set.Faces)
	items := make([]cluster.Item, 0, len(set.Faces))
	for i, m := range set.Faces {
		if p.faces[m.ID] == nil {
			continue // arrived between the two reads: the next Update adds it
		}
		items = append(items, p.item(m.ID, set.Features.Row(i, nil)))
	}
	begin := time.Now()
	eng, info, err := cluster.RestoreEngine(p.opt.Cluster, items, snap)
	if errors.Is(err, cluster.ErrBadSnapshot) {
		p.log.Warn("cluster snapshot corrupt; re-linking every face", "file", p.opt.SnapshotPath, "err", err)
		eng, info, err = cluster.RestoreEngine(p.opt.Cluster, items, nil)
	}
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	p.eng = eng
	// Faces not in the set (deleted between the reads) leave the mirror.
	if len(items) != len(p.faces) {
		in := make(map[int64]bool, len(items))
		for _, it := range items {
			in[it.ID] = true
		}
		for id := range p.faces {
			if !in[id] {
				p.dropFace(id)
			}
		}
	}
	p.log.Info("clusters restored", "faces", len(items), "from_snapshot", info.Restored, "linked", info.Added,
		"dropped", info.Dropped, "took", time.Since(begin).Round(time.Millisecond))
	ps, err := p.ix.Persons(ctx, index.PersonQuery{Inactive: true})
	if err != nil {
		return err
	}
	for _, ip := range ps {
		p.pst[ip.ID] = personState{merged: ip.MergedInto, optOut: ip.OptOut}
	}
	p.started = true
	p.replayMerges()
	files, err := p.ix.Files(ctx, index.StatusDone)
	if err != nil {
		return err
	}
	// Map engine persons to index persons, then replay the user's
	// assignments and constraints, then write the result.
	if err := p.apply(ctx, files); err != nil {
		return err
	}
	var edits []edit
	for id, m := range p.faces {
		if m.source == index.SourceUser {
			edits = append(edits, edit{face: id, to: m.person, source: m.source})
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return int(a.face - b.face) })
	if err := p.userEdits(ctx, edits); err != nil {
		return err
	}
	p.last.UserEdits = len(edits)
	return p.apply(ctx, nil)
}

// replayMerges merges engine clusters whose faces the index assigns to one
// person that the user merged others into (the engine of a snapshot older
// than the merge, or re-linked from scratch, has them apart, and the merge
// in the index keeps no face-level trace but the faces' new person).
func (p *Clusterer) replayMerges() {
	target := map[int64]bool{}
	for _, st := range p.pst {
		if st.merged != 0 {
			target[st.merged] = true
		}
	}
	if len(target) == 0 {
		return
	}
	groups := map[int64][]int64{}
	for _, ep := range p.eng.Persons() {
		if ip := p.vote(ep.Faces, nil); ip != 0 && target[ip] {
			groups[ip] = append(groups[ip], ep.ID)
		}
	}
	for ip, eps := range groups {
		for _, e := range eps[1:] {
			if _, err := p.eng.Merge(eps[0], e); err != nil {
				p.log.Warn("cluster: replay merge", "person", ip, "err", err)
			}
		}
	}
}

// userEdits brings the engine in line with assignment changes made outside
// this clusterer: merges, user assignments, cannot-links.
func (p *Clusterer) userEdits(ctx context.Context, edits []edit) error {
	touched := map[int64]bool{}
	for _, e := range edits {
		for _, id := range []int64{e.from, e.to, e.forgotten} {
			if id != 0 {
				touched[id] = true
			}
		}
	}
	ids := slices.Sorted(func(yield func(int64) bool) {
		for id := range touched {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		ip, err := p.ix.Person(ctx, id)
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		p.pst[id] = personState{merged: ip.MergedInto, optOut: ip.OptOut}
	}
	for _, id := range ids {
		if p.pst[id].merged == 0 {
			continue
		}
		into, err := p.ix.ResolvePerson(ctx, id)
		if err != nil {
			return err
		}
		p.mergeInto(into, id)
	}
	for _, e := range edits {
		if e.source != index.SourceUser || e.to == 0 || !p.active(e.to) {
			continue
		}
		p.assign(e.face, e.to)
	}
	return p.syncCannotLinks(ctx)
}

func (p *Clusterer) active(ip int64) bool {
	st, ok := p.pst[ip]
	return ok && st.merged == 0 && !st.optOut
}

// link maps engine person ep to index person ip (one to one).
func (p *Clusterer) link(ep, ip int64) {
	if old, ok := p.e2i[ep]; ok && p.i2e[old] == ep {
		delete(p.i2e, old)
	}
	if old, ok := p.i2e[ip]; ok && p.e2i[old] == ip {
		delete(p.e2i, old)
	}
	p.e2i[ep] = ip
	p.i2e[ip] = ep
}

// mergeInto follows a user merge of index person from into into.
func (p *Clusterer) mergeInto(into, from int64) {
	ef, ok := p.i2e[from]
	if !ok {
		return
	}
	delete(p.i2e, from)
	delete(p.e2i, ef)
	ei, ok := p.i2e[into]
	if ok && ei != ef {
		if _, err := p.eng.Merge(ei, ef); err == nil {
			p.log.Info("persons merged by the user", "person", into, "merged", from)
			return
		} else if !errors.Is(err, cluster.ErrUnknownPerson) {
			p.log.Warn("cluster: merge", "into", into, "from", from, "err", err)
			return
		}
	}
	p.link(ef, into)
}

// assign follows a user assignment of face to index person ip.
func (p *Clusterer) assign(faceID, ip int64) {
	if ep, ok := p.i2e[ip]; ok {
		_, _, err := p.eng.Assign(faceID, ep)
		if err == nil {
			return
		}
		if !errors.Is(err, cluster.ErrUnknownPerson) {
			p.log.Warn("cluster: assign", "face", faceID, "person", ip, "err", err)
			return
		}
	}
	ep, _, err := p.eng.Assign(faceID, 0)
	if err != nil {
		p.log.Warn("cluster: assign", "face", faceID, "person", ip, "err", err)
		return
	}
	p.link(ep, ip)
}

// syncCannotLinks gives the engine the index's cannot-links it does not
// have yet.
func (p *Clusterer) syncCannotLinks(ctx context.Context) error {
	cl, err := p.ix.CannotLinks(ctx)
	if err != nil {
		return err
	}
	for _, pair := range cl.Faces {
		if p.clFaces[pair] {
			continue
		}
		if _, err := p.eng.CannotLink(pair[0], pair[1]); err != nil && !errors.Is(err, cluster.ErrUnknownFace) {
			p.log.Warn("cluster: cannot-link", "faces", pair, "err", err)
		}
		p.clFaces[pair] = true
	}
	for _, fp := range cl.FacePersons {
		if p.clPerson[fp] {
			continue
		}
		ep, ok := p.i2e[fp[1]]
		if !ok {
			continue // no cluster for that person: nothing to keep apart yet
		}
		_, err := p.eng.NotPerson(fp[0], ep)
		if err != nil && !errors.Is(err, cluster.ErrUnknownFace) && !errors.Is(err, cluster.ErrUnknownPerson) {
			p.log.Warn("cluster: not person", "face", fp[0], "person", fp[1], "err", err)
		}
		p.clPerson[fp] = true
	}
	return nil
}

// vote picks the index person most of faces belong to (forgotten faces vote
// for the person who opted out), among those not taken; 0 when none.
func (p *Clusterer) vote(faces []int64, taken map[int64]bool) int64 {
	votes := map[int64]int{}
	for _, id := range faces {
		m := p.faces[id]
		if m == nil {
			continue
		}
		switch {
		case m.person != 0 && p.active(m.person) && !taken[m.person]:
			votes[m.person]++
		case m.forgotten != 0 && p.pst[m.forgotten].optOut && !taken[m.forgotten]:
			votes[m.forgotten]++
		}
	}
	var best int64
	n := 0
	for id, v := range votes {
		if v > n || (v == n && id < best) {
			best, n = id, v
		}
	}
	return best
}

// apply writes the engine's persons into the index: assignments, birth
// year and gender, then the visibility of the dirty files (of files, when
// given: start-up).
func (p *Clusterer) apply(ctx context.Context, files []index.File) error {
	want := map[int64]int64{} // face -> index person
	taken := map[int64]bool{}
	members := map[int64][]int64{}
	live := map[int64]bool{}
	for _, ep := range p.eng.Persons() {
		live[ep.ID] = true
		times := make([]time.Time, 0, len(ep.Faces))
		for _, id := range ep.Faces {
			if m := p.faces[id]; m != nil {
				times = append(times, m.capture)
			}
		}
		if !p.opt.Rule.IsPerson(times) {
			continue
		}
		ip, ok := p.e2i[ep.ID]
		if st, known := p.pst[ip]; !ok || !known || st.merged != 0 || taken[ip] {
			ip = p.vote(ep.Faces, taken)
			if ip == 0 {
				var err error
				if ip, err = p.ix.CreatePerson(ctx, index.Person{}); err != nil {
					return err
				}
				p.pst[ip] = personState{}
			}
			p.link(ep.ID, ip)
		}
		taken[ip] = true
		if p.pst[ip].optOut {
			continue // an opted-out person's faces stay unassigned
		}
		for _, id := range ep.Faces {
			want[id] = ip
		}
		members[ip] = ep.Faces
	}
	for ep, ip := range p.e2i {
		if !live[ep] {
			delete(p.e2i, ep)
			if p.i2e[ip] == ep {
				delete(p.i2e, ip)
			}
		}
	}
	change := map[int64]int64{}
	for id, m := range p.faces {
		if m.source == index.SourceUser || m.forgotten != 0 {
			continue
		}
		if w := want[id]; w != m.person {
			change[id] = w
		}
	}
	if len(change) > 0 {
		if _, err := p.ix.AssignFaces(ctx, change, index.SourceAuto); err != nil {
			return err
		}
		p.last.Assigned += len(change)
		for id, w := range change {
			m := p.faces[id]
			p.pending[id] = w
			m.person, m.source = w, index.SourceAuto
			if w == 0 {
				m.source = index.SourceNone
			}
			p.dirty[m.file] = true
		}
	}
	// Persons' attributes: birth year and its confidence (the faces'
	// evidence fused by cluster.EstimateBirth) and gender (Dempster–Shafer
	// over the faces' P(male)).
	for ip, ids := range members {
		var births []cluster.BirthObs
		var males []float64
		for _, id := range ids {
			m := p.faces[id]
			if m == nil {
				continue
			}
			if m.birth != 0 {
				births = append(births, cluster.BirthObs{When: cluster.DecimalYear(m.capture), Age: m.age, MtimeOnly: m.mtimeOnly})
			}
			males = append(males, m.male)
		}
		year, conf := 0, 0.0
		if b, ok := cluster.EstimateBirth(births); ok {
			year, conf = int(math.Floor(b.Year)), b.Confidence
		}
		g, gi := index.GenderFemale, 2
		if cluster.GenderDS(males) {
			g, gi = index.GenderMale, 1
		}
		key := [3]int{year, gi, int(math.Round(conf * 1000))}
		if p.attrs[ip] == key {
			continue
		}
		if _, err := p.ix.SetBirthYear(ctx, ip, year, index.SourceAuto); err != nil {
			p.log.Warn("person birth year", "person", ip, "err", err)
		}
		if err := p.ix.SetBirthYearConfidence(ctx, ip, conf); err != nil {
			p.log.Warn("person birth-year confidence", "person", ip, "err", err)
		}
		if _, err := p.ix.SetGender(ctx, ip, g, index.SourceAuto); err != nil {
			p.log.Warn("person gender", "person", ip, "err", err)
		}
		p.attrs[ip] = key
	}
	return p.visibility(ctx, files)
}

// visibility applies the seed's rule to the given files, or to the dirty
// ones: a file with a face of a person or a large face is private, every
// other analysed file potentially public.
func (p *Clusterer) visibility(ctx context.Context, files []index.File) error {
	if files == nil {
		for id := range p.dirty {
			f, err := p.ix.FileByID(ctx, id)
			if errors.Is(err, index.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if f.Status == index.StatusDone {
				files = append(files, f)
			}
		}
	}
	v := map[int64]index.Visibility{}
	for _, f := range files {
		ids := p.byFile[f.ID]
		boxes := make([]face.Box, len(ids))
		inPerson := make([]bool, len(ids))
		for i, id := range ids {
			m := p.faces[id]
			boxes[i], inPerson[i] = m.box, m.person != 0
		}
		vis := index.VisibilityPublic
		if cluster.Private(boxes, inPerson, f.Width, p.opt.MinFaceWidthPercent) {
			vis = index.VisibilityPrivate
		}
		if f.Visibility != vis {
			v[f.ID] = vis
		}
	}
	if len(v) > 0 {
		if err := p.ix.SetVisibility(ctx, v); err != nil {
			return err // the dirty files stay dirty: the next Update decides them
		}
	}
	clear(p.dirty)
	return nil
}

// Save writes the engine's snapshot now (the daemon calls it when it
// stops).
func (p *Clusterer) Save() {
	p.svc.mu.Lock()
	defer p.svc.mu.Unlock()
	if p.opt.SnapshotPath != "" && p.started {
		p.save()
	}
}

// save writes the engine's snapshot atomically; a failure only costs
// start-up time.
func (p *Clusterer) save() {
	p.saved = time.Now()
	b, err := p.eng.Snapshot()
	if err == nil {
		err = renameio.WriteFile(p.opt.SnapshotPath, b, 0o600, renameio.WithTempDir(filepath.Dir(p.opt.SnapshotPath)))
	}
	if err != nil {
		p.log.Warn("cluster snapshot not saved", "file", p.opt.SnapshotPath, "err", err)
	}
}
