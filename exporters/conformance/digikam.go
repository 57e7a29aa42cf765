package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// DigiKamSidecar is the one sidecar digiKam 8 reads for photo: photo.ext.xmp,
// or photo.xmp with "Sidecar file names are compatible with commercial
// programs" on (digiKam 8.1 core/libs/metadataengine/engine/
// metaengine_fileio.cpp, MetaEngine::sidecarFilePathForFile).
func DigiKamSidecar(photo string, compatible bool) string {
	if compatible {
		return strings.TrimSuffix(photo, filepath.Ext(photo)) + ".xmp"
	}
	return photo + ".xmp"
}

// DigiKamRegion is a region as digiKam 8 reads it from the Exiv2 keys: a
// normalised top-left rectangle (float32 arithmetic, as digiKam's
// QString::toFloat) and a name with "/" turned into "\".
type DigiKamRegion struct {
	Name       string
	X, Y, W, H float32
	From       string // "MP" or "MWG"
}

// Valid is QRectF::isValid: positive width and height.
func (r DigiKamRegion) Valid() bool { return r.W > 0 && r.H > 0 }

// DigiKamFace is a face digiKam's scanner creates: integer pixels on the
// stored frame (before digiKam turns it by the EXIF orientation), a person
// name ("Unknown" for an unnamed region, as an unconfirmed face).
type DigiKamFace struct {
	Name           string
	X1, Y1, X2, Y2 int // QRect corners (inclusive bottom-right, as Qt)
}

// ReadDigiKam reads the regions digiKam 8 would import for photo, through
// exiv2 (the library digiKam reads XMP with), following digiKam 8.1
// (rajeck1234/digikam 6a229c10):
//   - with its sidecar present (sidecar reading on), only the sidecar is
//     read and the photo's own XMP is ignored (metaengine_p.cpp,
//     loadSidecarData, bug 309058); else the photo's;
//   - dmetadata_faces.cpp getItemFacesMap: Microsoft regions
//     Xmp.MP.RegionInfo/MPRI:Regions[i]/MPReg:{PersonDisplayName,Rectangle}
//     for i = 1.. until both are empty; a rectangle of fewer than four
//     numbers gives a face without area; then MWG regions
//     Xmp.mwg-rs.Regions/mwg-rs:RegionList[i]/mwg-rs:{Name,Area/stArea:x|y|w|h}
//     for i = 1.. until an entry has no name and no valid rectangle (digiKam
//     stops there: later entries are never read); x,y are the centre; the
//     whole frame (0,0,1,1) is skipped; Type, unit and AppliedToDimensions
//     are not looked at; "/" in a name becomes "\".
func ReadDigiKam(ctx context.Context, photo string, compatible bool) ([]DigiKamRegion, error) {
	src := photo
	if side := DigiKamSidecar(photo, compatible); fileExists(side) {
		src = side
	}
	keys, err := exiv2Keys(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []DigiKamRegion
	fix := func(s string) string { return strings.ReplaceAll(s, "/", `\`) }
	for i := 1; ; i++ {
		base := fmt.Sprintf("Xmp.MP.RegionInfo/MPRI:Regions[%d]/", i)
		name, rect := fix(keys[base+"MPReg:PersonDisplayName"]), keys[base+"MPReg:Rectangle"]
		if name == "" && rect == "" {
			break
		}
		parts := strings.Split(rect, ",")
		if len(parts) < 4 {
			out = append(out, DigiKamRegion{Name: name, From: "MP"})
			continue
		}
		out = append(out, DigiKamRegion{Name: name, X: qFloat(parts[0]), Y: qFloat(parts[1]), W: qFloat(parts[2]), H: qFloat(parts[3]), From: "MP"})
	}
	for i := 1; ; i++ {
		base := fmt.Sprintf("Xmp.mwg-rs.Regions/mwg-rs:RegionList[%d]/", i)
		name := fix(keys[base+"mwg-rs:Name"])
		x, y := qFloat(keys[base+"mwg-rs:Area/stArea:x"]), qFloat(keys[base+"mwg-rs:Area/stArea:y"])
		w, h := qFloat(keys[base+"mwg-rs:Area/stArea:w"]), qFloat(keys[base+"mwg-rs:Area/stArea:h"])
		r := DigiKamRegion{Name: name, X: x - w/2, Y: y - h/2, W: w, H: h, From: "MWG"}
		if name == "" && !r.Valid() {
			break
		}
		if r.X == 0 && r.Y == 0 && r.W == 1 && r.H == 1 {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// DigiKamImport turns regions into the faces digiKam's scanner stores for
// a stored frame of w×h pixels (itemscanner_photo.cpp commitFaces,
// tagregion.cpp relativeToAbsolute → QRectF::toRect): regions without area
// are person tags, not faces; an unnamed region is an "Unknown" face; two
// regions whose integer rectangles are equal are one face (MP and MWG copies
// of a face must round to the same pixels, or the face is imported twice).
func DigiKamImport(rs []DigiKamRegion, w, h int) []DigiKamFace {
	var out []DigiKamFace
	seen := map[[4]int]bool{}
	for _, r := range rs {
		if !r.Valid() {
			continue
		}
		xp, yp := float64(r.X)*float64(w), float64(r.Y)*float64(h)
		ww, hh := float64(r.W)*float64(w), float64(r.H)*float64(h)
		q := [4]int{qRound(xp), qRound(yp), qRound(xp+ww) - 1, qRound(yp+hh) - 1}
		if seen[q] {
			continue
		}
		seen[q] = true
		name := r.Name
		if name == "" {
			name = "Unknown"
		}
		out = append(out, DigiKamFace{Name: name, X1: q[0], Y1: q[1], X2: q[2], Y2: q[3]})
	}
	return out
}

// qRound is Qt's qRound for doubles: half away from zero.
func qRound(v float64) int { return int(math.Round(v)) }

// qFloat is QString::toFloat: 0 for anything that is not a number.
func qFloat(s string) float32 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
	if err != nil {
		return 0
	}
	return float32(f)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// exiv2Keys returns the XMP keys of file as exiv2 prints them.
func exiv2Keys(ctx context.Context, file string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "exiv2", "-q", "-PXkv", file).Output()
	if err != nil && len(out) == 0 {
		// exiv2 exits non-zero when a file has no XMP at all.
		return map[string]string{}, nil
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		k, v, _ := strings.Cut(line, " ")
		keys[k] = strings.TrimLeft(v, " ")
	}
	return keys, sc.Err()
}
