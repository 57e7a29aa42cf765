package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PhotoPrismSidecarLimit is the largest XMP sidecar PhotoPrism reads
// (internal/meta xmp.go, build 260728: bigger sidecars are skipped as
// suspicious); the photo's embedded metadata is used instead.
const PhotoPrismSidecarLimit = 1 << 20

// PhotoPrismFace is a face marker PhotoPrism creates from a region:
// top-left normalised box on the displayed frame.
type PhotoPrismFace struct {
	Name       string
	X, Y, W, H float64
}

// PhotoPrismRead is what PhotoPrism takes from a photo and its sidecar.
type PhotoPrismRead struct {
	Faces       []PhotoPrismFace
	Orientation int
	Subject     []string // dc:subject, into PhotoPrism's Subject field
	// SidecarSkipped: the sidecar was over PhotoPrismSidecarLimit.
	SidecarSkipped bool
}

// ReadPhotoPrism reads photo (and photo.ext.xmp or photo.xmp) the way
// PhotoPrism's indexer does, reproduced from photoprism/photoprism
// (build 260728, the XMP face import of #5713):
//   - metadata comes from `exiftool -n -m -api LargeFileSupport -j`
//     (internal/meta testdata/faces/README.md names these arguments);
//   - a related sidecar (photo.xmp or photo.ext.xmp) is a field's only
//     source when it has the field (docs.photoprism.app library/metadata):
//     regions, Orientation (tiff:Orientation in the sidecar overrides the
//     photo's) and Subject; a sidecar over 1 MiB is not read;
//   - MWG regions: RegionName, RegionType and RegionArea{X,Y,W,H} are
//     exiftool's flattened lists, paired by position; a region counts only
//     when its Type is Face (case-insensitive; xmp_regions.go Valid);
//     exiftool leaves an unnamed region out of RegionName, so the names after
//     it shift to the wrong boxes;
//   - the centre form is turned into a top-left box, rotated to the displayed
//     frame, clamped to [0,1] and kept when W, H > 0 (xmp_faces.go
//     normalizeRegionMWG, newFace, Valid @0b08089f); Microsoft regions
//     likewise from RegionPersonDisplayName/RegionRectangle (normalizeRegionMP);
//     equal name+box (4 decimals) are kept once (DedupFaces).
func ReadPhotoPrism(ctx context.Context, photos ...string) ([]PhotoPrismRead, error) {
	var files []string
	sides := make([]string, len(photos))
	skipped := make([]bool, len(photos))
	for i, photo := range photos {
		files = append(files, photo)
		if side := relatedSidecar(photo); side != "" {
			fi, err := os.Stat(side)
			if err != nil {
				return nil, err
			}
			if fi.Size() > PhotoPrismSidecarLimit {
				skipped[i] = true
				continue
			}
			sides[i] = side
			files = append(files, side)
		}
	}
	meta, err := exiftoolFlat(ctx, files...)
	if err != nil {
		return nil, err
	}
	out := make([]PhotoPrismRead, len(photos))
	for i, photo := range photos {
		src := meta[photo]
		if sides[i] != "" {
			for k, v := range meta[sides[i]] {
				if k != "SourceFile" {
					src = overlay(src, k, v)
				}
			}
		}
		out[i] = photoPrismFrom(src)
		out[i].SidecarSkipped = skipped[i]
	}
	return out, nil
}

// photoPrismFrom applies PhotoPrism's rules to one photo's merged tags.
func photoPrismFrom(src map[string]any) PhotoPrismRead {
	var r PhotoPrismRead
	r.Orientation = int(numOf(src["Orientation"]))
	if r.Orientation == 0 {
		r.Orientation = 1
	}
	r.Subject = strList(src["Subject"])
	names := strList(src["RegionName"])
	types := strList(src["RegionType"])
	xs, ys, ws, hs := numList(src["RegionAreaX"]), numList(src["RegionAreaY"]), numList(src["RegionAreaW"]), numList(src["RegionAreaH"])
	for i := range xs {
		if i >= len(ys) || i >= len(ws) || i >= len(hs) {
			break
		}
		if i >= len(types) || !strings.EqualFold(types[i], "face") {
			continue
		}
		name := ""
		if i < len(names) {
			name = names[i]
		}
		if f, ok := ppFace(name, xs[i]-ws[i]/2, ys[i]-hs[i]/2, ws[i], hs[i], r.Orientation); ok {
			r.Faces = append(r.Faces, f)
		}
	}
	mpNames, rects := strList(src["RegionPersonDisplayName"]), strList(src["RegionRectangle"])
	for i, rect := range rects {
		parts := strings.Split(rect, ",")
		if len(parts) != 4 {
			continue
		}
		var v [4]float64
		ok := true
		for j, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			v[j], ok = f, ok && err == nil
		}
		name := ""
		if i < len(mpNames) {
			name = mpNames[i]
		}
		if f, good := ppFace(name, v[0], v[1], v[2], v[3], r.Orientation); ok && good {
			r.Faces = append(r.Faces, f)
		}
	}
	r.Faces = ppDedup(r.Faces)
	return r
}

// overlay sets k in a copy-on-write view of m.
func overlay(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func ppFace(name string, x, y, w, h float64, o int) (PhotoPrismFace, bool) {
	if w <= 0 || h <= 0 {
		return PhotoPrismFace{}, false
	}
	switch o {
	case 2:
		x = 1 - x - w
	case 3:
		x, y = 1-x-w, 1-y-h
	case 4:
		y = 1 - y - h
	case 5:
		x, y, w, h = y, x, h, w
	case 6:
		x, y, w, h = 1-y-h, x, h, w
	case 7:
		x, y, w, h = 1-y-h, 1-x-w, h, w
	case 8:
		x, y, w, h = y, 1-x-w, h, w
	}
	c := func(v float64) float64 { return math.Max(0, math.Min(1, v)) }
	l, t, rr, b := c(x), c(y), c(x+w), c(y+h)
	f := PhotoPrismFace{Name: strings.TrimSpace(name), X: l, Y: t, W: rr - l, H: b - t}
	return f, f.W > 0 && f.H > 0 && f.X+f.W <= 1.0001 && f.Y+f.H <= 1.0001
}

func ppDedup(fs []PhotoPrismFace) []PhotoPrismFace {
	seen := map[string]bool{}
	var out []PhotoPrismFace
	r := func(v float64) int { return int(math.Round(v * 10000)) }
	for _, f := range fs {
		k := fmt.Sprintf("%s|%d|%d|%d|%d", strings.ToLower(f.Name), r(f.X), r(f.Y), r(f.W), r(f.H))
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// relatedSidecar is the sidecar PhotoPrism relates to photo.
func relatedSidecar(photo string) string {
	for _, c := range []string{photo + ".xmp", strings.TrimSuffix(photo, filepath.Ext(photo)) + ".xmp"} {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// exiftoolFlat runs exiftool with PhotoPrism's arguments over files (one
// process) and returns each file's tags by path.
func exiftoolFlat(ctx context.Context, files ...string) (map[string]map[string]any, error) {
	args := append([]string{"-n", "-m", "-api", "LargeFileSupport", "-j"}, files...)
	out, err := exec.CommandContext(ctx, "exiftool", args...).Output()
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("exiftool: %w", err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("exiftool: %w", err)
	}
	m := map[string]map[string]any{}
	for _, e := range v {
		if f, ok := e["SourceFile"].(string); ok {
			m[f] = e
		}
	}
	return m, nil
}

func strList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	default:
		return []string{fmt.Sprint(x)}
	}
}

func numList(v any) []float64 {
	var out []float64
	for _, s := range strList(v) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			f = 0
		}
		out = append(out, f)
	}
	return out
}

func numOf(v any) float64 {
	l := numList(v)
	if len(l) == 0 {
		return 0
	}
	return l[0]
}
