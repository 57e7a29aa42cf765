package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ImmichDir is the folder holding read.mjs and its pinned exiftool-vendored
// (node_modules, installed by scripts/setup.sh).
func ImmichDir(root string) string { return filepath.Join(root, "exporters", "conformance", "immich") }

// ErrNoImmichReader: node or the installed exiftool-vendored is missing.
var ErrNoImmichReader = errors.New("immich reader not installed (node and exporters/conformance/immich/node_modules; run scripts/setup.sh)")

// ImmichRead is what Immich's metadata service reads for one photo: the
// tags merged from the photo and its sidecar, as exiftool-vendored returns
// them (numbers may arrive as strings: that is the point).
type ImmichRead struct {
	Photo   string         `json:"photo"`
	Sidecar string         `json:"sidecar"`
	Tags    map[string]any `json:"tags"`
	Error   string         `json:"error"`
}

// ReadImmich runs read.mjs (the real exiftool-vendored with Immich's
// options) over photos.
func ReadImmich(ctx context.Context, root string, photos ...string) ([]ImmichRead, error) {
	dir := ImmichDir(root)
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoImmichReader, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "exiftool-vendored", "package.json")); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoImmichReader, err)
	}
	// exiftool-vendored 38 declares node >= 22; it runs on node 20 (checked
	// here), older ones are not tried.
	if v, err := exec.CommandContext(ctx, "node", "--version").Output(); err != nil {
		return nil, fmt.Errorf("%w: node --version: %v", ErrNoImmichReader, err)
	} else if major, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(v)), ".", 2)[0], "v")); major < 20 {
		return nil, fmt.Errorf("%w: node %s is older than 20", ErrNoImmichReader, strings.TrimSpace(string(v)))
	}
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, "read.mjs")}, photos...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("immich reader: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("immich reader: %w", err)
	}
	var rs []ImmichRead
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("immich reader output: %w", err)
	}
	return rs, nil
}

// ImmichFace is a face Immich imports from a region: its person name and
// integer box on the displayed (oriented) image, with the image size Immich
// records.
type ImmichFace struct {
	Name           string
	X1, Y1, X2, Y2 float64 // NaN when Immich's arithmetic fails
	ImageW, ImageH float64
}

// Finite reports whether every coordinate is a number.
func (f ImmichFace) Finite() bool {
	for _, v := range []float64{f.X1, f.Y1, f.X2, f.Y2, f.ImageW, f.ImageH} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// InImage reports whether the box lies in the image and is not empty.
func (f ImmichFace) InImage() bool {
	return f.Finite() && f.X1 >= 0 && f.Y1 >= 0 && f.X2 <= f.ImageW && f.Y2 <= f.ImageH && f.X1 < f.X2 && f.Y1 < f.Y2
}

// jsVal is a JavaScript value as exiftool-vendored hands it over: a number
// or a string (exiftool's JSON writer quotes numbers it does not print
// plainly, e.g. more than 16 decimals).
type jsVal struct {
	s     string
	n     float64
	isStr bool
}

func toJS(v any) jsVal {
	switch x := v.(type) {
	case float64:
		return jsVal{n: x}
	case string:
		return jsVal{s: x, isStr: true}
	case nil:
		return jsVal{n: math.NaN()} // undefined in arithmetic
	}
	return jsVal{n: math.NaN()}
}

// num is JavaScript's Number(v) for the operands of -, *, /.
func (v jsVal) num() float64 {
	if !v.isStr {
		return v.n
	}
	s := strings.TrimSpace(v.s)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// plus is JavaScript's a + b: string concatenation when either is a string.
func plus(a, b jsVal) jsVal {
	if a.isStr || b.isStr {
		return jsVal{s: a.str() + b.str(), isStr: true}
	}
	return jsVal{n: a.n + b.n}
}

func (v jsVal) str() string {
	if v.isStr {
		return v.s
	}
	return strconv.FormatFloat(v.n, 'g', -1, 64)
}

func num(n float64) jsVal { return jsVal{n: n} }

func minus(a, b jsVal) jsVal { return num(a.num() - b.num()) }
func div(a, b jsVal) jsVal   { return num(a.num() / b.num()) }
func mul(a, b jsVal) jsVal   { return num(a.num() * b.num()) }

// ImmichFaces applies Immich's face import to the tags of one photo.
// Source: immich-app/immich server/src/services/metadata.service.ts
// @0090492a (hasTaggedFaces, orientRegionInfo, applyTaggedFaces):
//   - nothing is imported unless RegionInfo has AppliedToDimensions and a
//     non-empty RegionList;
//   - a region without Name is skipped; Type and Area.Unit are not looked at;
//   - with an Orientation other than 1 the normalised centre is mapped to
//     the displayed frame and W/H (and AppliedToDimensions W/H) swapped for
//     the sideways orientations 5-8;
//   - box = floor((X ∓ W/2) · imageW), floor((Y ∓ H/2) · imageH), computed
//     with JavaScript's operators on what exiftool-vendored returned, so a
//     value that arrives as a string concatenates in "X + W/2" (NaN).
func ImmichFaces(tags map[string]any) []ImmichFace {
	ri, ok := tags["RegionInfo"].(map[string]any)
	if !ok {
		return nil
	}
	dim, ok := ri["AppliedToDimensions"].(map[string]any)
	if !ok || dim == nil {
		return nil
	}
	list, _ := ri["RegionList"].([]any)
	if len(list) == 0 {
		return nil
	}
	orient := 0
	if o, ok := tags["Orientation"].(float64); ok {
		orient = int(o)
	}
	sideways := orient >= 5 && orient <= 8
	imgW, imgH := toJS(dim["W"]), toJS(dim["H"])
	if sideways {
		imgW, imgH = imgH, imgW
	}
	var out []ImmichFace
	for _, r := range list {
		reg, _ := r.(map[string]any)
		name, _ := reg["Name"].(string)
		if name == "" {
			continue // "if (!region.Name) continue"
		}
		area, _ := reg["Area"].(map[string]any)
		X, Y, W, H := toJS(area["X"]), toJS(area["Y"]), toJS(area["W"]), toJS(area["H"])
		one := num(1)
		switch orient {
		case 2:
			X = minus(one, X)
		case 3:
			X, Y = minus(one, X), minus(one, Y)
		case 4:
			Y = minus(one, Y)
		case 5:
			X, Y = Y, X
		case 6:
			X, Y = minus(one, Y), X
		case 7:
			X, Y = minus(one, Y), minus(one, X)
		case 8:
			X, Y = Y, minus(one, X)
		}
		if sideways {
			W, H = H, W
		}
		two := num(2)
		f := ImmichFace{Name: name, ImageW: imgW.num(), ImageH: imgH.num(),
			X1: math.Floor(mul(minus(X, div(W, two)), imgW).num()),
			Y1: math.Floor(mul(minus(Y, div(H, two)), imgH).num()),
			X2: math.Floor(mul(plus(X, div(W, two)), imgW).num()),
			Y2: math.Floor(mul(plus(Y, div(H, two)), imgH).num()),
		}
		out = append(out, f)
	}
	return out
}
