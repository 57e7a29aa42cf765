package analyzer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/analyzer/libraw"
	"github.com/faced/faced/analyzer/rawpreview"
	"github.com/faced/faced/face"
	"github.com/faced/faced/media"
)

// MinRawPreviewSide is the longer side a raw file's largest embedded JPEG
// must have to be analysed in place of the raw data (faces of 32 px in a
// 6 000 px photo are 5 px in a 1 000 px preview: smaller previews lose
// faces); without one the sensor data is decoded by LibRaw.
const MinRawPreviewSide = 1000

// analyzeRaw analyses a camera raw file through the largest JPEG preview
// embedded in it, as the JPEG path analyses a JPEG (reduced DCT decode for
// detection, face regions decoded again at full preview resolution), with
// the orientation of the preview's own EXIF or, when it has none, the raw
// container's. Boxes are in the preview's pixels: for the full-size
// previews cameras embed (JpgFromRaw, CR3's first track, Canon's
// PreviewImage) that is the developed image's default crop, the frame
// photo managers show a raw in; see exporters/README.md for the sidecars.
//
// The file is mapped, not read: raw files are 20-80 MB and only the
// preview's pages are touched.
func (a *Analyzer) analyzeRaw(ctx context.Context, path string, id media.Identity) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	f, size, err := a.openLimited(path)
	if err != nil {
		return nil, tm, err
	}
	defer f.Close()
	if size < 16 {
		return nil, tm, fileErr(path, ErrCorrupt, nil, "%s file of %d bytes", id.Format, size)
	}
	file, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, tm, fileErr(path, ErrCorrupt, err, "cannot map the file: %v", err)
	}
	defer syscall.Munmap(file)
	p, err := rawpreview.Largest(file)
	if err != nil || max(p.Width, p.Height) < MinRawPreviewSide {
		why := "it has none"
		if err == nil {
			why = fmt.Sprintf("the largest is %dx%d", p.Width, p.Height)
		}
		return a.analyzeRawSensor(ctx, path, id, file, why, t0)
	}
	buf := p.Bytes(file)
	info, err := imgmeta.Read(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		kind := ErrCorrupt
		if errors.Is(err, ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, tm, fileErr(path, kind, err, "embedded preview: %v", err)
	}
	if !info.OrientationTagged {
		// Previews usually carry no EXIF of their own: the raw's IFD0
		// (CR3: CMT1) says which way is up.
		info.Orientation, info.OrientationTagged = rawpreview.Orientation(file)
	}
	if info.CaptureTime.IsZero() {
		if x := rawMeta(file); !x.CaptureTime.IsZero() {
			info.CaptureTime = x.CaptureTime
		}
	}
	if err := a.checkPixels(path, info.Width, info.Height); err != nil {
		return nil, tm, err
	}
	if !imgmeta.JPEGComplete(buf) {
		return nil, tm, fileErr(path, ErrCorrupt, nil, "truncated embedded JPEG preview")
	}
	read := clock.Since(t0)
	res, tm, err := a.analyzeBuf(ctx, path, buf, info)
	tm.Decode += read
	if err == nil {
		mapPreviewToSensor(res, file)
	}
	return res, tm, err
}

// mapPreviewToSensor takes res's faces from the preview's frame to the
// image LibRaw develops from the raw (its visible area: what digiKam and
// darktable show) when the preview does not cover that image: an in-camera
// aspect ratio (16:9 or 1:1 on a 4:3 or 3:2 sensor: Olympus, Panasonic,
// Fujifilm, Sony) crops the preview but not the sensor data. The preview
// is then taken as the centred crop of the visible area with its aspect
// ratio, at one scale (what those cameras do), and the result's frame
// becomes the visible area's. Previews of the same aspect ratio (within 1 %,
// the usual case) are left as they are; so are previews whose aspect is
// the visible area's turned (stored upright), and raws LibRaw cannot read.
func mapPreviewToSensor(res *face.Result, file []byte) {
	vw, vh, cx, cy, cw, ch, s, ok := previewCrop(res.StoredWidth, res.StoredHeight, file)
	if !ok {
		return
	}
	uw, uh := imgmeta.UprightSize(res.Orientation, vw, vh)
	for i := range res.Faces {
		b := res.Faces[i].StoredBox
		sb := face.Box{X1: cx + b.X1*s, Y1: cy + b.Y1*s, X2: cx + b.X2*s, Y2: cy + b.Y2*s}
		// The stored box derives from the upright one, as everywhere.
		res.Faces[i].Box = imgmeta.BoxToUpright(res.Orientation, vw, vh, sb)
		res.Faces[i].StoredBox = imgmeta.BoxToStored(res.Orientation, uw, uh, res.Faces[i].Box)
	}
	res.Note = joinNote(res.Note, fmt.Sprintf("the embedded preview (%dx%d) shows a %.0fx%.0f crop of the raw's %dx%d image: faces placed on the whole image",
		res.StoredWidth, res.StoredHeight, cw, ch, vw, vh))
	res.StoredWidth, res.StoredHeight = vw, vh
	res.Width, res.Height = uw, uh
}

// previewCrop tells where a stored pw×ph preview lies in the raw's
// visible area (vw×vh, stored frame) when it shows a crop of it: at
// (cx, cy), cw×ch, scale s (visible pixels per preview pixel); ok is false
// when the preview covers the whole area (see mapPreviewToSensor).
func previewCrop(pw, ph int, file []byte) (vw, vh int, cx, cy, cw, ch, s float64, ok bool) {
	vw, vh, err := libraw.VisibleSize(file)
	if err != nil || pw <= 0 || ph <= 0 {
		return 0, 0, 0, 0, 0, 0, 0, false
	}
	ra, rv := float64(pw)/float64(ph), float64(vw)/float64(vh)
	if math.Abs(ra/rv-1) <= 0.01 || math.Abs(ra*rv-1) <= 0.01 {
		return 0, 0, 0, 0, 0, 0, 0, false
	}
	cw, ch = float64(vw), float64(vh)
	if ra > rv {
		ch = cw / ra
	} else {
		cw = ch * ra
	}
	return vw, vh, (float64(vw) - cw) / 2, (float64(vh) - ch) / 2, cw, ch, cw / float64(pw), true
}

// analyzeRawSensor analyses a raw without a usable preview through its
// sensor data, decoded by LibRaw at half size (detection needs no more) in
// the stored frame and turned upright by LibRaw's orientation (flip). The
// stored boxes, and the sidecar's AppliedToDimensions, are in that
// half-size frame: normalised areas land on the same faces in the full-size
// developed image (LibRaw's visible area, which is what digiKam shows). A
// raw LibRaw cannot decode is named unsupported with both reasons.
func (a *Analyzer) analyzeRawSensor(ctx context.Context, path string, id media.Identity, file []byte, why string, t0 time.Duration) (*face.Result, Timings, error) {
	var tm Timings
	stored, in, err := libraw.Decode(file, int(math.Ceil(a.opt.MaxMegapixels)))
	switch {
	case errors.Is(err, libraw.ErrTooLarge):
		return nil, tm, fileErr(path, ErrTooLarge, err, "sensor of %dx%d (%.0f megapixels), more than the %.0f allowed",
			in.FullWidth, in.FullHeight, float64(in.FullWidth)*float64(in.FullHeight)/1e6, a.opt.MaxMegapixels)
	case err != nil:
		return nil, tm, fileErr(path, ErrUnsupported, err, "unsupported format: %s file without an embedded JPEG preview of at least %d px (%s), and its sensor data cannot be decoded (%v)",
			id.Format, MinRawPreviewSide, why, err)
	}
	img := stored
	if in.Orientation != 1 {
		img = orientMat(stored, in.Orientation)
		stored.Close()
	}
	defer img.Close()
	res := &face.Result{File: path, Kind: face.KindPhoto, Width: img.Cols(), Height: img.Rows(), Orientation: in.Orientation,
		StoredWidth: in.Width, StoredHeight: in.Height, Faces: []face.Face{}, CaptureTime: rawMeta(file).CaptureTime,
		Note: fmt.Sprintf("no embedded JPEG preview of at least %d px (%s): sensor data decoded at half size", MinRawPreviewSide, why)}
	tm.Decode = clock.Since(t0)
	retry := !a.opt.NoRotationRetry && (a.opt.RetryTagged || in.Orientation == 1)
	if err := a.analyzeUpright(ctx, img, res, retry, &tm); err != nil {
		return nil, tm, fmt.Errorf("%s: %w", path, err)
	}
	return res, tm, nil
}

// rawMeta reads the capture time of a TIFF-based raw's IFD0/EXIF.
func rawMeta(file []byte) imgmeta.Info {
	if bytes.HasPrefix(file, []byte("II*\x00")) || bytes.HasPrefix(file, []byte("MM\x00*")) {
		return imgmeta.FromEXIF(file)
	}
	return imgmeta.Info{}
}
