package exporters

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/faced/faced/exporters/xmp"
	"github.com/faced/faced/face"
)

// Namespace URIs faced reads and writes. Where tools disagree on a URI, the
// aliases are read as the same vocabulary and the existing spelling is kept.
const (
	NSFaced   = "http://ns.faced.dev/faced/1.0/"
	nsMWGRS   = "http://www.metadataworkinggroup.com/schemas/regions/"
	nsStArea  = "http://ns.adobe.com/xmp/sType/Area#"
	nsStDim   = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
	nsMP      = "http://ns.microsoft.com/photo/1.2/"
	nsMPRI    = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
	nsMPReg   = "http://ns.microsoft.com/photo/1.2/t/Region#"
	nsDigiKam = "http://www.digikam.org/ns/1.0/"
	nsDigiKm4 = "http://www.digikam.org/" // digiKam 4 spelling, read by Exiv2 as digiKam
	nsLR      = "http://ns.adobe.com/lightroom/1.0/"
	nsDC      = "http://purl.org/dc/elements/1.1/"
	nsMSPhoto = "http://ns.microsoft.com/photo/1.0/"
	nsMSPhot2 = "http://ns.microsoft.com/photo/1.0" // spelling without the slash (ExifTool accepts both)
	nsMedPro  = "http://ns.iview-multimedia.com/mediapro/1.0/"
)

// Matching thresholds: an existing faced region is the same face when the
// IoU reaches ownIoU; a region written by another tool or the user is the
// same face from foreignIoU (hand-drawn boxes are looser than a detector's;
// digiKam itself uses 0.25 for confirmed faces).
const (
	ownIoU     = 0.5
	foreignIoU = 0.3
)

// mergeInput is what merge needs beyond the document.
type mergeInput struct {
	photo   Photo
	opts    Options
	sidecar string
	// stop, when set, ends the long loops early once its context ends;
	// the caller then discards the half-merged document.
	stop *stopper
}

// stopper checks a context every few thousand steps of a loop.
type stopper struct {
	ctx context.Context
	n   int
}

// stopped reports whether the context has ended (checked every 4096
// calls). A nil stopper never stops.
func (s *stopper) stopped() bool {
	if s == nil {
		return false
	}
	s.n++
	return s.n&4095 == 0 && s.ctx.Err() != nil
}

// want is one region as faced wants it written.
type want struct {
	r    Region
	box  face.Box // normalised on stored pixels, top-left form
	name string   // name to write ("" = none)
	// deleted: the user deleted this face's region; faced keeps it out.
	deleted bool
	// shown is the name another tool or the user gives this face on this
	// photo when it differs from the index's ("" = none): the photo keeps
	// it, and faced writes no other name for the face there.
	shown string
}

// exRegion is a region found in the document.
type exRegion struct {
	arr, li, res *xmp.Elem
	box          face.Box
	hasBox       bool
	name         string
	hasName      bool
	typ          string
	faceID       int64
	ours         bool
	assigned     string
	used         bool
}

func (x *exRegion) userEdited(desired string) bool {
	return x.hasName && x.name != "" && x.name != x.assigned && x.name != desired
}

// Coordinates are written with at most coordDecimals decimals: the box's
// corner and size are on a 1e-6 grid (quantBox), so the MWG centre (corner +
// size/2) needs 7 and the Microsoft corner form is the same box, digit for
// digit (digiKam imports both lists and de-duplicates only equal integer
// rectangles). Full float64 precision gave 17-18 decimals, which exiftool's
// JSON output (exiftool 13.x, the one exiftool-vendored 38.3 bundles, as
// Immich reads regions) emits as strings: Immich then added strings and
// imported NaN boxes.
const (
	coordQuantum  = 1e6
	coordDecimals = 7
)

// fmtCoord formats a normalised coordinate.
func fmtCoord(v float64) string {
	p := math.Pow(10, coordDecimals)
	r := math.Round(v*p) / p
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func q6(v float64) float64 { return math.Round(v*coordQuantum) / coordQuantum }

// quantBox puts a normalised box's corner and size on the 1e-6 grid.
func quantBox(b face.Box) face.Box {
	x, y, w, h := q6(b.X1), q6(b.Y1), q6(b.W()), q6(b.H())
	return face.Box{X1: x, Y1: y, X2: x + w, Y2: y + h}
}

func fmtRound(v float64, dec int) string {
	p := math.Pow(10, float64(dec))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}

// SanitizeName makes a person name safe for region names and keyword
// paths: "/" and "|" are hierarchy separators, so both become "\" (what
// digiKam does with "/" on import).
func SanitizeName(s string) string {
	s = strings.TrimSpace(s)
	return strings.NewReplacer("/", `\`, "|", `\`).Replace(s)
}

// regionName is the name faced writes for r.
func regionName(r Region, o Options) string {
	if n := SanitizeName(r.Name); n != "" {
		return n
	}
	return UnnamedName(o.UnnamedLabel, r.PersonID)
}

// UnnamedName is the name sidecars carry for person id nobody named, made
// from the UnnamedPersonLabel setting ("Person" gives "Person 7", a label
// with a verb such as "P%03d" is formatted); "" when label is empty.
func UnnamedName(label string, id int64) string {
	if label == "" || id <= 0 {
		return ""
	}
	if strings.Contains(label, "%") {
		return SanitizeName(fmt.Sprintf(label, id))
	}
	return SanitizeName(fmt.Sprintf("%s %d", label, id))
}

// edgeMargin keeps normalised boxes this far inside the frame. Immich
// (metadata.service.ts @0090492a, orientRegionInfo) maps a rotated or
// mirrored photo's regions with 1 - X in float64 and floors the pixel
// corner: a face touching the right edge (X + W/2 = 1) comes out at
// floor(-5e-15 · width) = -1, outside the image. One millionth of the frame
// is far below a pixel and keeps that corner at 0.
const edgeMargin = 1e-6

// normBox clamps b to the stored frame and normalises it.
func normBox(b face.Box, w, h int) face.Box {
	fw, fh := float64(w), float64(h)
	lo, hi := edgeMargin, 1-edgeMargin
	return quantBox(face.Box{X1: clamp(b.X1/fw, lo, hi), Y1: clamp(b.Y1/fh, lo, hi), X2: clamp(b.X2/fw, lo, hi), Y2: clamp(b.Y2/fh, lo, hi)})
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func parseF(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v, err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
}

func parseID(s string) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// readMWG lists the MWG regions of regions resource rs.
func readMWG(rs *xmp.Elem) (arr *xmp.Elem, out []*exRegion) {
	f, ok := xmp.FindField(rs, "RegionList", nsMWGRS)
	if !ok || f.El == nil {
		return nil, nil
	}
	arr = xmp.ArrayOf(f.El)
	for _, li := range xmp.Items(arr) {
		res := xmp.Resource(li)
		x := &exRegion{arr: arr, li: li, res: res}
		x.name, x.hasName = xmp.Value(res, "Name", nsMWGRS)
		x.typ, _ = xmp.Value(res, "Type", nsMWGRS)
		if af, ok := xmp.FindField(res, "Area", nsMWGRS); ok && af.El != nil {
			a := xmp.Resource(af.El)
			cx, ok1 := xmp.Value(a, "x", nsStArea)
			cy, ok2 := xmp.Value(a, "y", nsStArea)
			w, ok3 := xmp.Value(a, "w", nsStArea)
			h, ok4 := xmp.Value(a, "h", nsStArea)
			unit, _ := xmp.Value(a, "unit", nsStArea)
			fx, o1 := parseF(cx)
			fy, o2 := parseF(cy)
			fw, o3 := parseF(w)
			fh, o4 := parseF(h)
			if ok1 && ok2 && ok3 && ok4 && o1 && o2 && o3 && o4 && (unit == "" || unit == "normalized") {
				x.box = face.Box{X1: fx - fw/2, Y1: fy - fh/2, X2: fx + fw/2, Y2: fy + fh/2}
				x.hasBox = true
			}
		}
		if ef, ok := xmp.FindField(res, "Extensions", nsMWGRS); ok && ef.El != nil {
			ext := xmp.Resource(ef.El)
			if v, ok := xmp.Value(ext, "FaceID", NSFaced); ok {
				x.faceID, x.ours = parseID(v), true
			}
			x.assigned, _ = xmp.Value(ext, "AssignedName", NSFaced)
		}
		out = append(out, x)
	}
	return arr, out
}

// readMP lists the Microsoft regions of RegionInfo resource ri.
func readMP(ri *xmp.Elem) (arr *xmp.Elem, out []*exRegion) {
	f, ok := xmp.FindField(ri, "Regions", nsMPRI)
	if !ok || f.El == nil {
		return nil, nil
	}
	arr = xmp.ArrayOf(f.El)
	for _, li := range xmp.Items(arr) {
		res := xmp.Resource(li)
		x := &exRegion{arr: arr, li: li, res: res}
		x.name, x.hasName = xmp.Value(res, "PersonDisplayName", nsMPReg)
		if rect, ok := xmp.Value(res, "Rectangle", nsMPReg); ok {
			parts := strings.Split(rect, ",")
			if len(parts) == 4 {
				var v [4]float64
				good := true
				for i, p := range parts {
					var ok bool
					if v[i], ok = parseF(p); !ok {
						good = false
					}
				}
				if good {
					x.box = face.Box{X1: v[0], Y1: v[1], X2: v[0] + v[2], Y2: v[1] + v[3]}
					x.hasBox = true
				}
			}
		}
		if v, ok := xmp.Value(res, "FaceID", NSFaced); ok {
			x.faceID, x.ours = parseID(v), true
		}
		x.assigned, _ = xmp.Value(res, "AssignedName", NSFaced)
		out = append(out, x)
	}
	return arr, out
}

// topStruct returns the resource of top-level struct property local,
// creating it in the top rdf:Description when create is set.
func topStruct(d *xmp.Doc, ns, prefix, local string, create bool) *xmp.Elem {
	if f, ok := d.FindTop(local, ns); ok && f.El != nil {
		return xmp.Resource(f.El)
	}
	if !create {
		return nil
	}
	return xmp.AddStruct(d.Top(), ns, prefix, local)
}

// structField returns the resource of struct field local of r, creating it.
func structField(r *xmp.Elem, ns, prefix, local string) *xmp.Elem {
	if f, ok := xmp.FindField(r, local, ns); ok && f.El != nil {
		return xmp.Resource(f.El)
	}
	xmp.RemoveField(r, local, ns) // a simple value where a struct belongs
	return xmp.AddStruct(r, ns, prefix, local)
}

// arrayField returns the array of property local in r, creating it with
// kind when absent and create is set. A property that exists but is not an
// array is left alone (nil).
func arrayField(r *xmp.Elem, ns []string, prefix, local, kind string, create bool) *xmp.Elem {
	if f, ok := xmp.FindField(r, local, ns...); ok {
		if f.El == nil {
			return nil
		}
		return xmp.ArrayOf(f.El)
	}
	if !create {
		return nil
	}
	return xmp.AddArray(r, ns[0], prefix, local, kind)
}

// topArray finds a top-level array property in any rdf:Description.
func topArray(d *xmp.Doc, ns []string, prefix, local, kind string, create bool) *xmp.Elem {
	if f, ok := d.FindTop(local, ns...); ok {
		if f.El == nil {
			return nil
		}
		if a := xmp.ArrayOf(f.El); a != nil {
			return a
		}
		if len(f.El.Elems()) == 0 && xmp.IsBlank(f.El.Text()) {
			// an empty property: give it the array
			rp := f.El.EnsurePrefix(xmp.NSRDF, "rdf")
			a := &xmp.Elem{Prefix: rp, Local: kind}
			f.El.Children = nil
			f.El.AppendChild(a)
			return a
		}
		return nil
	}
	if !create {
		return nil
	}
	return xmp.AddArray(d.Top(), ns[0], prefix, local, kind)
}

// mergeOut is what merge found in the document.
type mergeOut struct {
	// users are the names users gave faced's faces.
	users []UserName
	// deleted are the face ids whose regions the user deleted (in the
	// order of Photo.Regions).
	deleted []int64
}

// writtenBefore returns the face ids listed in faced:Faces with a name (or
// marked RegionDeleted), the record of the faces faced wrote a region for
// last time (an unnamed face gets no region, so a missing region proves
// nothing); ok is false when there is no record (a first export, an older
// faced, or a tool dropped faced's namespace).
func writtenBefore(d *xmp.Doc) (ids map[int64]bool, ok bool) {
	f, found := d.FindTop("Faces", NSFaced)
	if !found || f.El == nil {
		return nil, false
	}
	arr := xmp.ArrayOf(f.El)
	if arr == nil {
		return nil, false
	}
	ids = map[int64]bool{}
	for _, li := range xmp.Items(arr) {
		r := xmp.Resource(li)
		name, _ := xmp.Value(r, "Name", NSFaced)
		del, _ := xmp.Value(r, "RegionDeleted", NSFaced)
		if strings.TrimSpace(name) == "" && !strings.EqualFold(strings.TrimSpace(del), "true") {
			continue
		}
		if v, ok := xmp.Value(r, "FaceID", NSFaced); ok {
			if id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				ids[id] = true
			}
		}
	}
	return ids, true
}

// merge applies photo to the document and reports the names users gave
// faced's faces and the regions they deleted.
func merge(d *xmp.Doc, in mergeInput) mergeOut {
	p, o := in.photo, in.opts
	var wants []*want
	for _, r := range p.Regions {
		b := normBox(r.StoredBox, p.StoredWidth, p.StoredHeight)
		if b.Area() <= 0 {
			continue
		}
		wants = append(wants, &want{r: r, box: b, name: regionName(r, o)})
	}
	before, haveRecord := writtenBefore(d)

	// Existing regions.
	var mwgRes, mpRes *xmp.Elem
	var mwgArr, mpArr *xmp.Elem
	var mwg, mp []*exRegion
	if mwgRes = topStruct(d, nsMWGRS, "mwg-rs", "Regions", false); mwgRes != nil {
		mwgArr, mwg = readMWG(mwgRes)
	}
	if mpRes = topStruct(d, nsMP, "MP", "RegionInfo", false); mpRes != nil {
		mpArr, mp = readMP(mpRes)
	}

	// Match: faced's own regions first (by face id, then IoU), then
	// foreign face regions (IoU).
	ownOf := map[*want]*exRegion{}
	foreignOf := map[*want]*exRegion{}
	for _, w := range wants {
		for _, x := range mwg {
			if x.ours && !x.used && x.faceID == w.r.FaceID {
				ownOf[w], x.used = x, true
				break
			}
		}
	}
	type pair struct {
		w   *want
		x   *exRegion
		iou float64
	}
	greedy := func(cands []*exRegion, thr float64, own bool, into map[*want]*exRegion) {
		var ps []pair
		for _, w := range wants {
			if ownOf[w] != nil || foreignOf[w] != nil {
				continue
			}
			for _, x := range cands {
				if x.used || !x.hasBox || x.ours != own {
					continue
				}
				if !own && x.typ != "" && x.typ != "Face" {
					continue
				}
				if v := face.IoU(w.box, x.box); v >= thr {
					ps = append(ps, pair{w, x, v})
				}
			}
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].iou > ps[j].iou })
		for _, pr := range ps {
			if pr.x.used || ownOf[pr.w] != nil || foreignOf[pr.w] != nil {
				continue
			}
			pr.x.used = true
			into[pr.w] = pr.x
		}
	}
	greedy(mwg, ownIoU, true, ownOf)
	greedy(mwg, foreignIoU, false, foreignOf)
	greedy(mp, foreignIoU, false, foreignOf)

	// A face faced wrote last time (it is in faced:Faces) that no region
	// matches any more was deleted by the user: it is not written again.
	var out mergeOut
	if haveRecord {
		for _, w := range wants {
			if before[w.r.FaceID] && ownOf[w] == nil && foreignOf[w] == nil {
				w.deleted = true
				out.deleted = append(out.deleted, w.r.FaceID)
			}
		}
	}

	var users []UserName
	mpByID := map[int64]*exRegion{}
	for _, x := range mp {
		if x.ours {
			if _, dup := mpByID[x.faceID]; !dup {
				mpByID[x.faceID] = x
			}
		}
	}
	keepMP := map[*exRegion]bool{}

	// Regions to (re)write.
	for _, w := range wants {
		if w.deleted {
			continue
		}
		if f := foreignOf[w]; f != nil {
			if f.hasName && f.name != "" && f.name != w.name {
				users = append(users, UserName{FaceID: w.r.FaceID, PersonID: w.r.PersonID, Name: f.name, Sidecar: in.sidecar, Source: SourceForeignRegion})
				w.shown = f.name
			}
			continue
		}
		name, assigned := w.name, w.name
		x := ownOf[w]
		if x != nil && x.userEdited(w.name) {
			name, assigned = x.name, x.assigned
			users = append(users, UserName{FaceID: w.r.FaceID, PersonID: w.r.PersonID, Name: x.name, Sidecar: in.sidecar,
				Source: SourceRenamedRegion, Replaces: x.assigned})
			w.shown = x.name
		}
		if name == "" {
			// No region without a name. PhotoPrism (build 260728,
			// internal/meta json_exiftool faces) pairs exiftool's RegionName
			// list with the area lists by position, and exiftool leaves an
			// unnamed region out of RegionName: every later name lands on
			// the wrong face. digiKam 8 imports it as "Unknown", Immich skips
			// it. The face stays in faced:Faces.
			if x != nil {
				x.arr.RemoveChild(x.li)
			}
			continue
		}
		// MWG.
		if mwgRes == nil {
			mwgRes = topStruct(d, nsMWGRS, "mwg-rs", "Regions", true)
		}
		// AppliedToDimensions is added only to a region list faced owns
		// alone: Immich (metadata.service.ts @0090492a) imports a list only
		// when it has one, and scales every region by it, so adding faced's
		// to another tool's list that had none made Immich import that
		// tool's regions (in pixel or odd units) as boxes of -5120..5120.
		if _, ok := xmp.FindField(mwgRes, "AppliedToDimensions", nsMWGRS); !ok && !hasForeign(mwg) {
			dim := xmp.AddStruct(mwgRes, nsMWGRS, "mwg-rs", "AppliedToDimensions")
			xmp.SetValue(dim, nsStDim, "stDim", "w", strconv.Itoa(p.StoredWidth))
			xmp.SetValue(dim, nsStDim, "stDim", "h", strconv.Itoa(p.StoredHeight))
			xmp.SetValue(dim, nsStDim, "stDim", "unit", "pixel")
		}
		if mwgArr == nil {
			mwgArr = arrayField(mwgRes, []string{nsMWGRS}, "mwg-rs", "RegionList", "Bag", true)
		}
		var res *xmp.Elem
		if x != nil {
			res = x.res
		} else if mwgArr != nil {
			res = xmp.AddItem(mwgArr, "", true)
		}
		if res != nil {
			writeMWGRegion(res, w, name, assigned)
		}
		// Microsoft.
		if mpRes == nil {
			mpRes = topStruct(d, nsMP, "MP", "RegionInfo", true)
		}
		if mpArr == nil {
			mpArr = arrayField(mpRes, []string{nsMPRI}, "MPRI", "Regions", "Bag", true)
		}
		mx := mpByID[w.r.FaceID]
		if x != nil && mx == nil {
			mx = mpByID[x.faceID]
		}
		if mx == nil && x != nil {
			// A tool that rewrote the Microsoft regions may have dropped
			// faced:FaceID from faced's: an untagged region on the face
			// that carries the name faced wrote (or none) is faced's; one
			// the user named otherwise stays theirs, and no second region
			// is added.
			if m := untaggedMP(mp, w.box); m != nil {
				m.used = true
				if !m.hasName || m.name == "" || m.name == name || m.name == assigned || m.name == x.assigned {
					mx = m
				} else {
					continue
				}
			}
		}
		var mres *xmp.Elem
		if mx != nil {
			mres = mx.res
			keepMP[mx] = true
		} else if mpArr != nil {
			mres = xmp.AddItem(mpArr, "", true)
		}
		if mres != nil {
			writeMPRegion(mres, w, name)
		}
	}

	// faced's regions that no longer match a face go, unless the user named
	// them (then they are the user's).
	for _, x := range mwg {
		if x.ours && !x.used && !x.userEdited("") {
			x.arr.RemoveChild(x.li)
		}
	}
	// A Microsoft region carries no faced:AssignedName: the name faced last
	// wrote for that face is the one on its MWG region.
	mwgAssigned := map[int64]string{}
	for _, x := range mwg {
		if x.ours {
			mwgAssigned[x.faceID] = x.assigned
		}
	}
	for _, x := range mp {
		if x.ours && !keepMP[x] {
			if x.assigned == "" {
				x.assigned = mwgAssigned[x.faceID]
			}
			if !x.userEdited("") {
				x.arr.RemoveChild(x.li)
			}
		}
	}

	writeFacedFaces(d, wants, p.StoredWidth, p.StoredHeight)
	if p.Visibility != "" {
		top := d.Top()
		if f, ok := d.FindTop("Visibility", NSFaced); ok {
			top = f.Res
		}
		xmp.SetValue(top, NSFaced, "faced", "Visibility", p.Visibility)
	}
	mergeKeywords(d, wantedKeywords(p, o, wants), in.stop)
	out.users = users
	return out
}

// hasForeign reports whether a region list holds a region faced did not
// write.
func hasForeign(rs []*exRegion) bool {
	for _, x := range rs {
		if !x.ours {
			return true
		}
	}
	return false
}

// untaggedMP returns the unused Microsoft region without faced:FaceID that
// overlaps box best, at IoU >= ownIoU (nil if none).
func untaggedMP(mp []*exRegion, box face.Box) *exRegion {
	var best *exRegion
	bestIoU := ownIoU
	for _, m := range mp {
		if m.ours || m.used || !m.hasBox {
			continue
		}
		if v := face.IoU(box, m.box); v >= bestIoU {
			best, bestIoU = m, v
		}
	}
	return best
}

func writeMWGRegion(res *xmp.Elem, w *want, name, assigned string) {
	if name != "" {
		xmp.SetValue(res, nsMWGRS, "mwg-rs", "Name", name)
	} else {
		xmp.RemoveField(res, "Name", nsMWGRS)
	}
	xmp.SetValue(res, nsMWGRS, "mwg-rs", "Type", "Face")
	a := structField(res, nsMWGRS, "mwg-rs", "Area")
	writeArea(a, w.box)
	ext := structField(res, nsMWGRS, "mwg-rs", "Extensions")
	xmp.SetValue(ext, NSFaced, "faced", "FaceID", strconv.FormatInt(w.r.FaceID, 10))
	xmp.SetValue(ext, NSFaced, "faced", "PersonID", strconv.FormatInt(w.r.PersonID, 10))
	xmp.SetValue(ext, NSFaced, "faced", "AssignedName", assigned)
}

func writeArea(a *xmp.Elem, b face.Box) {
	w, h := b.W(), b.H()
	xmp.SetValue(a, nsStArea, "stArea", "x", fmtCoord(b.X1+w/2))
	xmp.SetValue(a, nsStArea, "stArea", "y", fmtCoord(b.Y1+h/2))
	xmp.SetValue(a, nsStArea, "stArea", "w", fmtCoord(w))
	xmp.SetValue(a, nsStArea, "stArea", "h", fmtCoord(h))
	xmp.SetValue(a, nsStArea, "stArea", "unit", "normalized")
}

func writeMPRegion(res *xmp.Elem, w *want, name string) {
	if name != "" {
		xmp.SetValue(res, nsMPReg, "MPReg", "PersonDisplayName", name)
	} else {
		xmp.RemoveField(res, "PersonDisplayName", nsMPReg)
	}
	b := w.box
	rect := fmt.Sprintf("%s, %s, %s, %s", fmtCoord(b.X1), fmtCoord(b.Y1), fmtCoord(b.W()), fmtCoord(b.H()))
	xmp.SetValue(res, nsMPReg, "MPReg", "Rectangle", rect)
	xmp.SetValue(res, NSFaced, "faced", "FaceID", strconv.FormatInt(w.r.FaceID, 10))
}

// writeFacedFaces rewrites faced:Faces, the authoritative per-face record
// (digiKam drops region extensions when it rewrites regions).
func writeFacedFaces(d *xmp.Doc, wants []*want, sw, sh int) {
	var arr *xmp.Elem
	if f, ok := d.FindTop("Faces", NSFaced); ok {
		if len(wants) == 0 {
			xmp.RemoveField(f.Res, "Faces", NSFaced)
			return
		}
		if f.El == nil {
			xmp.RemoveField(f.Res, "Faces", NSFaced)
		} else {
			arr = xmp.ArrayOf(f.El)
			if arr != nil {
				arr.Children = nil
			} else {
				xmp.RemoveField(f.Res, "Faces", NSFaced)
			}
		}
	}
	if len(wants) == 0 {
		return
	}
	if arr == nil {
		arr = xmp.AddArray(d.Top(), NSFaced, "faced", "Faces", "Bag")
	}
	for _, w := range wants {
		li := xmp.AddItem(arr, "", true)
		xmp.SetValue(li, NSFaced, "faced", "FaceID", strconv.FormatInt(w.r.FaceID, 10))
		xmp.SetValue(li, NSFaced, "faced", "PersonID", strconv.FormatInt(w.r.PersonID, 10))
		if n := w.photoName(); n != "" {
			xmp.SetValue(li, NSFaced, "faced", "Name", n)
		}
		xmp.SetValue(li, NSFaced, "faced", "Age", fmtRound(w.r.Age, 1))
		xmp.SetValue(li, NSFaced, "faced", "MaleProb", fmtRound(w.r.MaleProb, 4))
		if w.r.PersonBirthYear != 0 {
			xmp.SetValue(li, NSFaced, "faced", "PersonBirthYear", strconv.Itoa(w.r.PersonBirthYear))
			if c := w.r.PersonBirthYearConfidence; c > 0 {
				xmp.SetValue(li, NSFaced, "faced", "PersonBirthYearConfidence", fmtRound(c, 1))
			}
		}
		xmp.SetValue(li, NSFaced, "faced", "Score", fmtRound(w.r.Score, 4))
		if w.r.Model != "" {
			xmp.SetValue(li, NSFaced, "faced", "Model", w.r.Model)
		}
		a := xmp.AddStruct(li, NSFaced, "faced", "Area")
		writeArea(a, w.box)
		if w.deleted {
			xmp.SetValue(li, NSFaced, "faced", "RegionDeleted", "True")
		}
	}
}

// --- keywords ---------------------------------------------------------------

// photoName is the name the photo gives w's face: the user's or another
// tool's when they named it otherwise, else faced's.
func (w *want) photoName() string {
	if w.shown != "" {
		return w.shown
	}
	return w.name
}

// wantedKeywords returns the keyword paths ("/"-separated) faced wants on
// the photo: People/<name> per person, and the visibility keyword. A
// person's name is left out when none of its faces on the photo shows it:
// every region of the person's faces was deleted by the user or names the
// face otherwise (another tool's region, a region the user renamed). So a
// photo where a tool says "Anna" never gets the "Bob" that another photo of
// the same cluster gave the person (the name policy in README.md).
func wantedKeywords(p Photo, o Options, wants []*want) []string {
	shows, denies := map[string]bool{}, map[string]bool{}
	for _, w := range wants {
		n := SanitizeName(w.r.Name)
		if n == "" {
			continue
		}
		if w.deleted || w.shown != "" {
			denies[n] = true
		} else {
			shows[n] = true
		}
	}
	gone := map[string]bool{}
	for n := range denies {
		if !shows[n] {
			gone[n] = true
		}
	}
	var out []string
	for _, k := range p.Keywords {
		if n := SanitizeName(k); n != "" && !gone[n] {
			out = append(out, "People/"+n)
		}
	}
	if root := strings.Trim(strings.ReplaceAll(o.VisibilityKeywordRoot, "|", "/"), "/ "); root != "" && p.Visibility != "" {
		out = append(out, root+"/"+p.Visibility)
	}
	return out
}

type kwField struct {
	local, prefix, kind string
	ns                  []string
	sep                 string // "" = flat (leaf names)
	create              bool
	// alsoNS are other spellings of the field: when present they get the
	// union too, but faced never creates them (the digiKam 4 URI: Exiv2,
	// and so digiKam, still reads it as Xmp.digiKam.TagsList, ExifTool does
	// not).
	alsoNS []string
}

var kwFields = []kwField{
	{"TagsList", "digiKam", "Seq", []string{nsDigiKam}, "/", true, []string{nsDigiKm4}},
	{"LastKeywordXMP", "MicrosoftPhoto", "Bag", []string{nsMSPhoto, nsMSPhot2}, "/", false, nil},
	{"hierarchicalSubject", "lr", "Bag", []string{nsLR}, "|", true, nil},
	{"CatalogSets", "mediapro", "Bag", []string{nsMedPro}, "|", false, nil},
	{"subject", "dc", "Bag", []string{nsDC}, "", true, nil},
}

func leaf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// form returns how path is written in field f.
func (f kwField) form(path string) string {
	switch f.sep {
	case "":
		return leaf(path)
	case "|":
		return strings.ReplaceAll(path, "/", "|")
	}
	return path
}

// toPath reads value v of field f as a "/" path (digiKam's rule: a "/"
// inside a "|" keyword becomes "\").
func (f kwField) toPath(v string) string {
	if f.sep == "|" {
		return strings.ReplaceAll(strings.ReplaceAll(v, "/", `\`), "|", "/")
	}
	return v
}

// mergeKeywords writes the union of every keyword family plus wanted into
// each family, and takes back the keywords faced added earlier that are no
// longer wanted (faced:AddedKeywords).
func mergeKeywords(d *xmp.Doc, wanted []string, st *stopper) {
	arrs := make([]*xmp.Elem, len(kwFields))
	also := make([]*xmp.Elem, len(kwFields))
	var union []string
	seen := map[string]bool{}
	addU := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			union = append(union, p)
		}
	}
	for i, f := range kwFields {
		arrs[i] = topArray(d, f.ns, f.prefix, f.local, f.kind, false)
		if f.sep != "" {
			vals := xmp.ItemValues(arrs[i])
			if len(f.alsoNS) > 0 {
				also[i] = topArray(d, f.alsoNS, f.prefix, f.local, f.kind, false)
				vals = append(vals, xmp.ItemValues(also[i])...)
			}
			for _, v := range vals {
				addU(f.toPath(strings.TrimSpace(v)))
			}
		}
	}
	leaves := map[string]bool{}
	for _, p := range union {
		leaves[leaf(p)] = true
	}
	for i, f := range kwFields {
		if f.sep == "" {
			for _, v := range xmp.ItemValues(arrs[i]) {
				v = strings.TrimSpace(v)
				if !leaves[v] {
					addU(v)
					leaves[v] = true
				}
			}
		}
	}
	present := map[string]bool{}
	for _, p := range union {
		present[p] = true
	}
	var prev []string
	if a := topArray(d, []string{NSFaced}, "faced", "AddedKeywords", "Bag", false); a != nil {
		prev = xmp.ItemValues(a)
	}
	wantSet := map[string]bool{}
	for _, w := range wanted {
		wantSet[w] = true
	}
	removed := map[string]bool{}
	var added []string
	for _, p := range prev {
		if wantSet[p] {
			added = append(added, p)
		} else {
			removed[p] = true
		}
	}
	for _, w := range wanted {
		if !present[w] && !slices.Contains(added, w) {
			added = append(added, w)
		}
		addU(w)
	}
	var final []string
	finalLeaves := map[string]bool{}
	for _, p := range union {
		if !removed[p] {
			final = append(final, p)
			finalLeaves[leaf(p)] = true
		}
	}
	for i, f := range kwFields {
		arr := arrs[i]
		if arr == nil && f.create && len(final) > 0 {
			arr = topArray(d, f.ns, f.prefix, f.local, f.kind, true)
		}
		for _, a := range []*xmp.Elem{arr, also[i]} {
			if a != nil {
				if writeKeywords(a, f, final, finalLeaves, removed, st) {
					return
				}
			}
		}
	}
	// Record what faced added.
	setTopBag(d, NSFaced, "faced", "AddedKeywords", added)
}

// writeKeywords makes keyword array arr of field f hold every path of
// final (in f's form), dropping the values of removed paths.
// It reports whether st stopped it (the document is then half-written).
func writeKeywords(arr *xmp.Elem, f kwField, final []string, finalLeaves, removed map[string]bool, st *stopper) bool {
	have := map[string]bool{}
	for _, li := range xmp.Items(arr) {
		if st.stopped() {
			return true
		}
		v := strings.TrimSpace(li.Text())
		drop := removed[f.toPath(v)]
		if f.sep == "" {
			drop = false
			for r := range removed {
				if leaf(r) == v && !finalLeaves[v] {
					drop = true
				}
			}
		}
		if drop {
			arr.RemoveChild(li)
			continue
		}
		have[v] = true
	}
	for _, p := range final {
		if st.stopped() {
			return true
		}
		v := f.form(p)
		if !have[v] {
			xmp.AddItem(arr, v, false)
			have[v] = true
		}
	}
	return false
}

// setTopBag makes top-level Bag local hold exactly values (removing it when
// values is empty), rewriting it in place so its position stays put.
func setTopBag(d *xmp.Doc, ns, prefix, local string, values []string) {
	f, ok := d.FindTop(local, ns)
	if ok && len(values) == 0 {
		xmp.RemoveField(f.Res, local, ns)
		return
	}
	if len(values) == 0 {
		return
	}
	var arr *xmp.Elem
	if ok && f.El != nil {
		arr = xmp.ArrayOf(f.El)
	}
	if arr == nil {
		if ok {
			xmp.RemoveField(f.Res, local, ns)
		}
		arr = xmp.AddArray(d.Top(), ns, prefix, local, "Bag")
	}
	if slices.Equal(xmp.ItemValues(arr), values) {
		return
	}
	arr.Children = nil
	for _, v := range values {
		xmp.AddItem(arr, v, false)
	}
}
