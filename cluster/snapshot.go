package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// An Engine's links cost a comparison of every new face with the faces held,
// so rebuilding an Engine from the index at start-up (AddBatch of n faces)
// is quadratic in n. A snapshot saves what those comparisons found — the
// links (face pairs and distances), every face's person, the user's
// assignments and cannot-links, the names, the next person id and the
// pruning sketches — and RestoreEngine rebuilds the Engine from it in time
// linear in the number of faces and links. The snapshot holds no identity
// features (they stay in the index, RestoreEngine takes them from the
// items), only a checksum per face that detects faces changed since.

// ErrBadSnapshot is returned (wrapped) by RestoreEngine for data that is not
// a snapshot of this version.
var ErrBadSnapshot = errors.New("cluster: bad engine snapshot")

const (
	snapMagic   = "FCSN"
	snapVersion = 3
)

// RestoreInfo tells what RestoreEngine did.
type RestoreInfo struct {
	// Restored is the number of faces taken over from the snapshot with
	// their links and persons.
	Restored int
	// Added is the number of faces linked afresh: new since the snapshot,
	// or changed (features, photo, birth year or year differ).
	Added int
	// Dropped is the number of snapshot faces absent from the items (or
	// changed, then also counted in Added).
	Dropped int
	// Relinked is true when the snapshot's Eps, AgeWeight or AgeLink differ from
	// the options asked for: its links were useless and every face was
	// linked afresh (quadratic, like AddBatch).
	Relinked bool
	// Reclustered is true when MinPts, Link or MinSize differ: the links
	// were kept but every region was re-clustered (person ids kept by
	// overlap).
	Reclustered bool
}

// itemSum is the checksum that ties a snapshot face to its item: a 64-bit
// multiply-xor hash over the photo, birth year, year and feature bits (it
// detects changed faces; it is not meant to resist forgery).
func itemSum(it *Item) uint64 {
	const prime = 0x100000001b3
	h := uint64(0xcbf29ce484222325)
	mix := func(v uint64) {
		h ^= v
		h *= prime
		h ^= h >> 29
	}
	mix(uint64(it.Photo))
	mix(math.Float64bits(it.BirthYear))
	mix(uint64(int64(it.Year)))
	mix(math.Float64bits(it.Age))
	mix(math.Float64bits(it.When))
	mix(uint64(len(it.Features)))
	f := it.Features
	i := 0
	for ; i+2 <= len(f); i += 2 {
		mix(uint64(math.Float32bits(f[i])) | uint64(math.Float32bits(f[i+1]))<<32)
	}
	if i < len(f) {
		mix(uint64(math.Float32bits(f[i])))
	}
	return h
}

func (e *Engine) nodeItem(i int32) Item {
	n := &e.nodes[i]
	return Item{ID: n.id, Photo: n.photo, Features: e.vec(i), BirthYear: n.birth, Year: n.year, Age: n.age, When: n.when}
}

// Snapshot encodes the Engine's state (see RestoreEngine). Its size is
// about 30 bytes per face plus 8 per link, plus 4·SketchDims per face once
// the sketches exist.
func (e *Engine) Snapshot() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// live nodes in node order, compacted
	pos := make([]int32, len(e.nodes))
	var live []int32
	for i := range e.nodes {
		pos[i] = -1
		if !e.nodes[i].deleted {
			pos[i] = int32(len(live))
			live = append(live, int32(i))
		}
	}
	b := []byte(snapMagic)
	b = binary.AppendUvarint(b, snapVersion)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.opt.Eps))
	b = binary.AppendVarint(b, int64(e.opt.MinPts))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.opt.AgeWeight))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.opt.Link))
	b = binary.AppendVarint(b, int64(e.opt.MinSize))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.opt.AgeLink))
	b = binary.AppendUvarint(b, uint64(e.dim))
	b = binary.AppendVarint(b, e.nextID)
	b = binary.AppendUvarint(b, uint64(len(live)))
	for _, x := range live {
		n := &e.nodes[x]
		b = binary.AppendVarint(b, n.id)
		b = binary.AppendVarint(b, n.person)
		b = binary.AppendVarint(b, n.label)
		b = binary.LittleEndian.AppendUint64(b, n.sum)
	}
	// every face's link count and the links it keeps (see maxLinks: one
	// end may keep a link the other does not), then its cannot-links to
	// earlier faces (each pair once)
	for k, x := range live {
		var ls []edge
		for _, ed := range e.nodes[x].adj {
			if q := pos[ed.to]; q >= 0 {
				ls = append(ls, edge{q, ed.d})
			}
		}
		b = binary.AppendUvarint(b, uint64(e.nodes[x].nb))
		b = binary.AppendUvarint(b, uint64(len(ls)))
		for _, l := range ls {
			b = binary.AppendVarint(b, int64(int32(k)-l.to))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(l.d))
		}
		var cs []int32
		for _, c := range e.nodes[x].cannot {
			if q := pos[c]; q >= 0 && q < int32(k) {
				cs = append(cs, q)
			}
		}
		b = binary.AppendUvarint(b, uint64(len(cs)))
		for _, c := range cs {
			b = binary.AppendUvarint(b, uint64(int32(k)-c))
		}
	}
	names := make([]int64, 0, len(e.names))
	for p := range e.names {
		names = append(names, p)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, p := range names {
		b = binary.AppendVarint(b, p)
		b = binary.AppendUvarint(b, uint64(len(e.names[p])))
		b = append(b, e.names[p]...)
	}
	if e.sk == nil {
		b = binary.AppendUvarint(b, 0)
		return b, nil
	}
	b = binary.AppendUvarint(b, uint64(e.sk.k))
	for _, v := range e.sk.basis {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, x := range live {
		for _, v := range e.sketch[int(x)*e.sk.k : int(x+1)*e.sk.k] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return e.appendLists(b, live), nil
}

// appendLists appends the inverted lists (see ivf.go): their centroids and
// every face's list, binary code and residual norm, so that a restart
// needs no re-training and no code computation (at 1 000 000 faces those
// took 28 s on the first Add). The codes are one bit per residual
// coordinate's sign, derived from the features like the sketches: a
// snapshot stays in the DataDirectory next to the index.
func (e *Engine) appendLists(b []byte, live []int32) []byte {
	ix := e.ix
	if ix == nil || ix.sk != e.sk || e.cd == nil || ix.upto < len(e.nodes) {
		return binary.AppendUvarint(b, 0)
	}
	w := e.cd.words
	b = binary.AppendUvarint(b, uint64(ix.nlist))
	b = binary.AppendUvarint(b, uint64(ix.trainedAt))
	b = binary.AppendUvarint(b, uint64(w))
	for _, v := range ix.cent {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	list := make([]int32, len(e.nodes))
	slot := make([]int32, len(e.nodes))
	for c, l := range ix.lists {
		for m, j := range l {
			list[j], slot[j] = int32(c), int32(m)
		}
	}
	code := make([]uint64, w)
	for _, x := range live {
		c := int(list[x])
		ix.code(c, int(slot[x]), w, code)
		b = binary.AppendUvarint(b, uint64(c))
		for _, v := range code {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(ix.lrn[c][slot[x]]))
	}
	return b
}

// readLists restores the inverted lists appendLists wrote (at maps
// snapshot faces to nodes, -1 for faces dropped).
func (e *Engine) readLists(r *snapReader, at []int32) error {
	nl := r.count("lists", 1)
	if r.err != nil || nl == 0 {
		return r.err
	}
	trained := int(r.uvarint("lists"))
	w := int(r.uvarint("lists"))
	if e.cd == nil || e.cd.dim != e.dim {
		e.cd = newCoder(e.dim)
	}
	if w != e.cd.words {
		return fmt.Errorf("%w: codes of %d words, want %d", ErrBadSnapshot, w, e.cd.words)
	}
	ix := &ivfIndex{sk: e.sk, nlist: nl, cent: make([]float32, nl*ivfDims), cnorm: make([]float32, nl), lists: make([][]int32, nl),
		lcode: [2][][]uint64{make([][]uint64, nl), make([][]uint64, nl)}, lrn: make([][]float32, nl), trainedAt: trained,
		last: -1, lastCode: make([]uint64, w)}
	for i := range ix.cent {
		ix.cent[i] = r.f32("centroids")
	}
	ix.norms()
	code := make([]uint64, w)
	for _, p := range at {
		c := int(r.uvarint("list"))
		for k := range code {
			code[k] = r.u64("code")
		}
		rn := r.f32("code")
		if r.err != nil || c >= nl {
			r.fail("list")
			return r.err
		}
		if p >= 0 {
			ix.push(e, c, p, code, rn)
		}
	}
	ix.upto = len(e.nodes)
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadSnapshot, len(r.b))
	}
	e.ix = ix
	return nil
}

type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or corrupt at %s", ErrBadSnapshot, what)
	}
}

func (r *snapReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) u64(what string) uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *snapReader) f32(what string) float32 {
	if r.err != nil || len(r.b) < 4 {
		r.fail(what)
		return 0
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

// count reads a length and checks that at least min bytes per element
// remain, so corrupt data cannot make RestoreEngine allocate wildly.
func (r *snapReader) count(what string, min int) int {
	v := r.uvarint(what)
	if r.err == nil && v > uint64(len(r.b)/max(min, 1)+1) {
		r.fail(what)
		return 0
	}
	return int(v)
}

type snapFace struct {
	id, person, label int64
	sum               uint64
}

// RestoreEngine rebuilds an Engine from items (every face the index holds,
// in any order) and a snapshot made by Snapshot. Faces in both, unchanged,
// get their links, persons and user assignments back without any distance
// computation; faces new or changed since the snapshot are linked afresh
// and faces gone are dropped; then only the regions these touch are
// re-clustered. The Engine is then in the state the snapshotted Engine
// would reach by removing the gone faces and adding the new ones: the same
// links and clusters as a fresh Engine fed the items (AddBatch), with the
// snapshot's person ids.
//
// An empty snapshot gives NewEngine(opt) fed AddBatch(items). A snapshot
// made with another Eps or AgeWeight has useless links: every face is
// linked afresh (RestoreInfo.Relinked). Errors: ErrBadSnapshot for corrupt
// data; the errors of AddBatch for bad items.
func RestoreEngine(opt Options, items []Item, snapshot []byte) (*Engine, RestoreInfo, error) {
	return RestoreEngineFunc(opt, len(items), func(i int) Item { return items[i] }, snapshot)
}

// RestoreEngineFunc is RestoreEngine over n items that item returns one at
// a time, so that a caller holding a million faces as int8 rows need not
// decode them all at once (4 GB of float32): an item's Features must stay
// valid only until the next call.
func RestoreEngineFunc(opt Options, n int, item func(i int) Item, snapshot []byte) (*Engine, RestoreInfo, error) {
	var info RestoreInfo
	e := NewEngine(opt)
	all := func() []Item {
		items := make([]Item, n)
		for i := range items {
			items[i] = item(i)
			items[i].Features = slices.Clone(items[i].Features)
		}
		return items
	}
	if len(snapshot) == 0 {
		items := all()
		if _, err := e.AddBatch(items); err != nil {
			return nil, info, err
		}
		info.Added = len(e.byID)
		return e, info, nil
	}
	r := &snapReader{b: snapshot}
	if len(r.b) < len(snapMagic) || string(r.b[:len(snapMagic)]) != snapMagic {
		return nil, info, fmt.Errorf("%w: no snapshot header", ErrBadSnapshot)
	}
	r.b = r.b[len(snapMagic):]
	v := r.uvarint("version")
	if r.err == nil && (v == 1 || v == 2) {
		// version 1 was before age-aware linking, version 2 before int8
		// features and bounded link lists: its links and distances do not
		// fit; every face is linked afresh (the caller's index keeps
		// person ids)
		if _, err := e.AddBatch(all()); err != nil {
			return nil, info, err
		}
		info.Added, info.Relinked = len(e.byID), true
		return e, info, nil
	}
	if r.err == nil && v != snapVersion {
		return nil, info, fmt.Errorf("%w: version %d, want %d", ErrBadSnapshot, v, snapVersion)
	}
	var sopt Options
	sopt.Eps = math.Float64frombits(r.u64("options"))
	sopt.MinPts = int(r.varint("options"))
	sopt.AgeWeight = math.Float64frombits(r.u64("options"))
	sopt.Link = math.Float64frombits(r.u64("options"))
	sopt.MinSize = int(r.varint("options"))
	sopt.AgeLink = math.Float64frombits(r.u64("options"))
	dim := int(r.uvarint("dim"))
	nextID := r.varint("next id")
	nf := r.count("faces", 11)
	if r.err != nil {
		return nil, info, r.err
	}
	faces := make([]snapFace, nf)
	for k := range faces {
		faces[k] = snapFace{id: r.varint("face"), person: r.varint("face"), label: r.varint("face"), sum: r.u64("face")}
	}
	if r.err != nil {
		return nil, info, r.err
	}
	byItem := make(map[int64]int, n)
	for i := 0; i < n; i++ {
		id := item(i).ID
		if _, dup := byItem[id]; dup {
			return nil, info, fmt.Errorf("%w: %d", ErrDuplicateFace, id)
		}
		byItem[id] = i
	}
	// links made at another radius or age weight are useless: the faces
	// are linked afresh, their persons and user state are kept and a full
	// re-cluster keeps person ids by overlap
	info.Relinked = sopt.Eps != opt.Eps || sopt.AgeWeight != opt.AgeWeight || sopt.AgeLink != opt.AgeLink
	// which snapshot faces are kept, and their node index
	at := make([]int32, n) // snapshot face -> node, -1 dropped
	if dim > 0 {
		e.vecs = make([]int8, 0, n*dim)
	}
	e.nodes = make([]node, 0, n)
	e.norms = make([]float64, 0, n)
	e.scale = make([]float32, 0, n)
	e.byID = make(map[int64]int32, n)
	e.nextID = max(e.nextID, nextID)
	for k, f := range faces {
		at[k] = -1
		i, ok := byItem[f.id]
		var it Item
		if ok {
			it = item(i)
		}
		if !ok || (dim != 0 && len(it.Features) != dim) || itemSum(&it) != f.sum {
			info.Dropped++
			continue
		}
		if e.dim == 0 {
			e.dim = len(it.Features)
		}
		p := int32(len(e.nodes))
		at[k] = p
		nd := itemNode(&it)
		nd.sum = f.sum
		e.nodes = append(e.nodes, nd)
		e.setPerson(p, f.person)
		e.store(it.Features)
		e.byID[it.ID] = p
		if f.label != 0 {
			e.setLabel(p, f.label)
		}
		info.Restored++
	}
	// links among kept faces; neighbours of dropped faces need re-clustering
	var seeds []int32
	for k := 0; k < nf; k++ {
		nb := int32(r.uvarint("link count"))
		cnt := r.count("links", 5)
		a := at[k]
		if a >= 0 && !info.Relinked {
			e.nodes[a].nb = nb
			e.nodes[a].adj = make([]edge, 0, cnt)
		}
		for l := 0; l < cnt; l++ {
			delta := int(r.varint("link"))
			d := r.f32("link")
			j := k - delta
			if r.err != nil || delta == 0 || j < 0 || j >= nf {
				r.fail("link")
				return nil, info, r.err
			}
			b := at[j]
			switch {
			case a >= 0 && b >= 0:
				if !info.Relinked {
					e.nodes[a].adj = append(e.nodes[a].adj, edge{b, d})
				}
			case a >= 0:
				// a link to a face gone: no longer counted
				seeds = append(seeds, a)
				if !info.Relinked {
					e.nodes[a].nb--
				}
			}
		}
		cc := r.count("cannot-links", 1)
		for l := 0; l < cc; l++ {
			delta := int(r.uvarint("cannot-link"))
			j := k - delta
			if r.err != nil || delta <= 0 || j < 0 {
				r.fail("cannot-link")
				return nil, info, r.err
			}
			if a, b := at[k], at[j]; a >= 0 && b >= 0 {
				e.cannotLink(a, b)
			}
		}
	}
	nn := r.count("names", 2)
	for l := 0; l < nn; l++ {
		p := r.varint("name")
		sz := r.count("name", 1)
		if r.err != nil || sz > len(r.b) {
			r.fail("name")
			return nil, info, r.err
		}
		e.names[p] = string(r.b[:sz])
		r.b = r.b[sz:]
	}
	k := r.count("sketch", 4)
	if r.err != nil {
		return nil, info, r.err
	}
	if k > 0 {
		if len(r.b) < 4*k*dim+4*k*nf {
			return nil, info, fmt.Errorf("%w: sketch section has %d bytes, want %d", ErrBadSnapshot, len(r.b), 4*k*dim+4*k*nf)
		}
		if e.dim == dim && dim > 0 {
			sk := &sketcher{k: k, basis: make([]float32, k*dim)}
			for i := range sk.basis {
				sk.basis[i] = r.f32("sketch")
			}
			e.sk = sk
			e.sketch = make([]float32, 0, len(e.nodes)*k)
			for f := 0; f < nf; f++ {
				row := r.b[:4*k]
				r.b = r.b[4*k:]
				if at[f] < 0 {
					continue
				}
				for d := 0; d < k; d++ {
					e.sketch = append(e.sketch, math.Float32frombits(binary.LittleEndian.Uint32(row[4*d:])))
				}
			}
			if !info.Relinked && len(e.nodes) == info.Restored {
				if err := e.readLists(r, at); err != nil {
					return nil, info, err
				}
			}
		}
	} else if len(r.b) != 0 {
		return nil, info, fmt.Errorf("%w: %d trailing bytes", ErrBadSnapshot, len(r.b))
	}
	if info.Relinked {
		// links of the kept faces afresh, in node order
		e.sk, e.sketch = nil, nil
		for i := range e.nodes {
			e.maybeSketchAt(int32(i))
			e.link(int32(i), int32(i))
		}
	}
	if e.sk == nil {
		e.sketchAll()
	}
	// faces new or changed since the snapshot
	for i := 0; i < n; i++ {
		it := item(i)
		if _, ok := e.byID[it.ID]; ok {
			continue
		}
		p, err := e.insert(it)
		if err != nil {
			return nil, info, err
		}
		seeds = append(seeds, p)
		info.Added++
	}
	// dropped faces may have been must-linked: their persons' other faces
	// stay labelled and join the re-clustered region through the labels
	if info.Relinked || sopt.MinPts != opt.MinPts || sopt.Link != opt.Link || sopt.MinSize != e.opt.MinSize {
		info.Reclustered = true
		e.reclusterAll()
	} else {
		e.recluster(e.region(seeds))
	}
	return e, info, nil
}

// maybeSketchAt keeps the sketches up to date while nodes [0, i] are
// (re)linked in order: it learns the directions once i+1 reaches
// sketchAfter and projects node i.
func (e *Engine) maybeSketchAt(i int32) {
	switch {
	case e.sk != nil:
		e.projectAll(int(i), int(i)+1)
	case int(i)+1 >= e.sketchFrom() && e.dim > 2*SketchDims:
		e.sk = e.learn(int(i) + 1)
		e.sketch = make([]float32, 0, len(e.nodes)*SketchDims)
		e.projectAll(0, int(i)+1)
	}
}

// sketchAll learns the sketch directions when enough faces are held but
// none were restored.
func (e *Engine) sketchAll() {
	n := len(e.nodes)
	if e.sk != nil || n < e.sketchFrom() || e.dim <= 2*SketchDims {
		return
	}
	e.sk = e.learn(n)
	e.sketch = make([]float32, 0, n*SketchDims)
	e.projectAll(0, n)
}
