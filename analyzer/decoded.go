package analyzer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/analyzer/jxl"
	"github.com/faced/faced/analyzer/mtcnn"
	"github.com/faced/faced/face"
	"github.com/faced/faced/media"
)

// readLimited reads the file at path into *into after checking its size
// against MaxFileMB. It opens the file through Options.Open (the daemon's
// confinement) and checks the size of what it opened.
func (a *Analyzer) readLimited(path string, into *[]byte) ([]byte, error) {
	f, size, err := a.openLimited(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readFrom(f, size, into)
}

// readPooled reads the file at path as readLimited does, into a buffer
// taken from fileBufs; release gives the buffer back (call it, deferred,
// whatever err is, once buf is no longer used). analyzeHEIF and analyzeJXL
// share it.
func (a *Analyzer) readPooled(path string) (buf []byte, release func(), err error) {
	fb := fileBufs.Get(0)
	buf, err = a.readLimited(path, &fb)
	return buf, func() { fileBufs.Put(fb) }, err
}

// checkPixels refuses (ErrTooLarge) a photo whose header claims w×h pixels,
// more than MaxMegapixels; readPhoto, analyzeHEIF and analyzeRaw share it.
func (a *Analyzer) checkPixels(path string, w, h int) error {
	if mp := float64(w) * float64(h) / 1e6; mp > a.opt.MaxMegapixels {
		return fileErr(path, ErrTooLarge, nil, "header claims %dx%d (%.0f megapixels), more than the %.0f allowed", w, h, mp, a.opt.MaxMegapixels)
	}
	return nil
}

// analyzeHEIF analyses a HEIC, HEIF or AVIF file: libheif decodes the
// primary image with its transformations applied, at full resolution (HEVC
// and AV1 have no reduced decode); detection then runs on it reduced to
// DetectMaxSide and faces are cut from it at full resolution.
//
// Frame of the stored boxes: readers show a HEIF file with its
// transformations applied and map MWG regions through the Exif Orientation
// (exiftool, and through it Immich and digiKam's region reader). So with an
// Exif Orientation the stored boxes are given in the delivered image turned
// back by it (for a phone's HEIC, whose Orientation tells the same as its
// irot box, that is the coded frame, as for a JPEG from the same phone);
// without one, in the delivered frame with orientation 1.
func (a *Analyzer) analyzeHEIF(ctx context.Context, path string, id media.Identity) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	buf, release, err := a.readPooled(path)
	defer release()
	if err != nil {
		return nil, tm, err
	}
	pr, err := heif.Probe(buf)
	if err != nil {
		return nil, tm, heifErr(path, id, err)
	}
	if err := a.checkPixels(path, pr.Width, pr.Height); err != nil {
		return nil, tm, err
	}
	leave, err := heifGateEnter(ctx, pr.Width, pr.Height)
	if err != nil {
		return nil, tm, err
	}
	pl, in, err := heifDecodePlanes(buf)
	leave()
	if err != nil {
		return nil, tm, heifErr(path, id, err)
	}
	defer pl.Close()
	ex := imgmeta.FromEXIF(in.Exif)
	res := &face.Result{File: path, Kind: face.KindPhoto, Width: in.Width, Height: in.Height, Orientation: 1,
		StoredWidth: in.Width, StoredHeight: in.Height, Faces: []face.Face{}, CaptureTime: ex.CaptureTime}
	if ex.OrientationTagged && ex.Orientation != 1 {
		res.Orientation = ex.Orientation
		res.StoredWidth, res.StoredHeight = imgmeta.UprightSize(ex.Orientation, in.Width, in.Height)
	}
	tm.Decode = clock.Since(t0)
	// Without an Exif Orientation nothing says the transformations were
	// set by a camera: retry sideways as for an untagged JPEG.
	retry := !a.opt.NoRotationRetry && (a.opt.RetryTagged || !ex.OrientationTagged)
	if err := a.analyzePlanes(ctx, pl, res, retry, &tm); err != nil {
		return nil, tm, fmt.Errorf("%s: %w", path, err)
	}
	return res, tm, nil
}

// heifGate bounds how many large HEIF images decode at once in the process
// (nil: no bound; SetLargeHEIFDecodes). A 12 MP HEIC decode holds the HEVC
// decoder's frames and libheif's buffers besides the planes it returns: two
// workers decoding at once put the daemon's peak RSS over its 400 MiB budget
// (BENCHMARKS.md, daemon memory), at the price of HEIC throughput. The gate
// covers the decode only; the other worker runs its networks meanwhile.
var heifGate atomic.Pointer[chan struct{}]

// heifGatePixels: images at or below it decode without the gate.
const heifGatePixels = 4 << 20

// SetLargeHEIFDecodes lets at most n HEIF images larger than 4 MP decode at
// once in this process (n <= 0: no bound, the default). The daemon sets it
// from its memory mode.
func SetLargeHEIFDecodes(n int) {
	if n <= 0 {
		heifGate.Store(nil)
		return
	}
	g := make(chan struct{}, n)
	heifGate.Store(&g)
}

// heifGateEnter waits for the gate when a w×h image needs it and returns
// the function that leaves it.
func heifGateEnter(ctx context.Context, w, h int) (func(), error) {
	g := heifGate.Load()
	if g == nil || w*h <= heifGatePixels {
		return func() {}, nil
	}
	select {
	case *g <- struct{}{}:
		return func() { <-*g }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// heifDecodePlanes is heif.DecodePlanes (a test counts the decodes in flight).
var heifDecodePlanes = heif.DecodePlanes

func heifErr(path string, id media.Identity, err error) error {
	name := string(id.Format)
	if errors.Is(err, heif.ErrNoDecoder) {
		return fileErr(path, ErrUnsupported, err, "unsupported format: no %s decoder: %v", name, err)
	}
	return fileErr(path, ErrCorrupt, err, "cannot decode the %s data: %v", name, err)
}

// detectionImage returns the image detection runs on for img, an upright
// image whose full-resolution width is fullWidth, and the minimum face size
// (pixels of that image) to detect: img itself and MinSize in exact mode or
// when its long side is within DetectMaxSide; otherwise img reduced to
// DetectMaxSide (area interpolation) and MinSize scaled to it, no smaller
// than MinDetectSize. owned tells that det is a new Mat the caller closes.
// analyzeBuf (JPEG, PNG, ...) and analyzeUpright (HEIF, JPEG XL) share it.
func (a *Analyzer) detectionImage(img gocv.Mat, fullWidth int) (det gocv.Mat, minSize int, owned bool) {
	det = img
	if w, h, ok := a.detectionSize(img.Cols(), img.Rows()); ok {
		det = gocv.NewMat()
		owned = true
		mtcnn.ResizeArea(img, &det, w, h)
	}
	return det, a.detectionMinSize(det.Cols(), fullWidth), owned
}

// detectionSize is the size detection reduces a w×h image to, and whether
// it reduces it (fast mode, long side above DetectMaxSide).
func (a *Analyzer) detectionSize(w, h int) (dw, dh int, ok bool) {
	long := max(w, h)
	if a.opt.Exact || long <= a.opt.DetectMaxSide {
		return w, h, false
	}
	s := float64(a.opt.DetectMaxSide) / float64(long)
	return max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s))), true
}

// detectionMinSize is the minimum face size to detect on a detection
// image detWidth pixels wide of a photo fullWidth pixels wide: MinSize
// scaled to it, no smaller than MinDetectSize (MinSize in exact mode).
func (a *Analyzer) detectionMinSize(detWidth, fullWidth int) int {
	if a.opt.Exact {
		return a.opt.MinSize
	}
	k := float64(detWidth) / float64(fullWidth)
	return max(a.opt.MinDetectSize, int(math.Round(float64(a.opt.MinSize)*k)))
}

// analyzeUpright finds and describes the faces of img, the whole upright
// image at full resolution (res.Width × res.Height), into res: detection on
// img reduced to DetectMaxSide (fast mode), crops from img itself. This is
// analyzePhoto's path for a photo decoded at full resolution, for decoders
// without a reduced decode.
func (a *Analyzer) analyzeUpright(ctx context.Context, img gocv.Mat, res *face.Result, retry bool, tm *Timings) error {
	t0 := clock.Now()
	det, minSize, owned := a.detectionImage(img, res.Width)
	if owned {
		defer det.Close()
	}
	tm.Decode += clock.Since(t0)
	return a.analyzeDetection(ctx, det, minSize, res, retry, tm, func([]face.Face) (cropSource, error) {
		return cropSource{img: img, sx: float64(img.Cols()) / float64(res.Width), sy: float64(img.Rows()) / float64(res.Height)}, nil
	})
}

// analyzeDetection finds the faces of det, the detection image of the
// upright photo res (res.Width × res.Height at full resolution; minSize
// in det's pixels), and describes them from the crop source crops makes
// for them (whoever passes crops closes what it makes).
func (a *Analyzer) analyzeDetection(ctx context.Context, det gocv.Mat, minSize int, res *face.Result, retry bool, tm *Timings,
	crops func([]face.Face) (cropSource, error)) error {
	faces, dt, err := a.detectWithRetry(ctx, det, minSize, retry, a.retryImage(det, res.Width))
	tm.Add(dt)
	if err != nil || len(faces) == 0 {
		return err
	}
	sx, sy := float64(res.Width)/float64(det.Cols()), float64(res.Height)/float64(det.Rows())
	for i := range faces {
		scaleFace(&faces[i], sx, sy)
	}
	t0 := clock.Now()
	cs, err := crops(faces)
	tm.Decode += clock.Since(t0)
	if err != nil {
		return err
	}
	if _, err := a.describeFrom(ctx, cs, res.Width, res.Height, faces, tm); err != nil {
		return err
	}
	for i := range faces {
		faces[i].StoredBox = imgmeta.BoxToStored(res.Orientation, res.Width, res.Height, faces[i].Box)
	}
	res.Faces = faces
	return nil
}

// analyzeJXL analyses a JPEG XL file: libjxl decodes the stored pixels at
// full resolution, turned upright here by the codestream's orientation (what
// cjxl takes from a JPEG's EXIF); the stored boxes are in the frame
// jxlStoredFrame names (readers see the Exif box, not the codestream).
func (a *Analyzer) analyzeJXL(ctx context.Context, path string) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	buf, release, err := a.readPooled(path)
	defer release()
	if err != nil {
		return nil, tm, err
	}
	read := clock.Since(t0)
	if res, jt, ok, err := a.analyzeJXLJPEG(ctx, path, buf); ok {
		jt.Decode += read
		return res, jt, err
	}
	img, in, err := a.jxlUpright(path, buf)
	if err != nil {
		return nil, tm, err
	}
	defer img.Close()
	res := &face.Result{File: path, Kind: face.KindPhoto, Width: img.Cols(), Height: img.Rows(), Faces: []face.Face{}}
	var ex imgmeta.Info
	res.Orientation, res.StoredWidth, res.StoredHeight, ex = jxlStoredFrame(buf, res.Width, res.Height)
	res.CaptureTime = ex.CaptureTime
	tm.Decode = clock.Since(t0)
	// The codestream always has an orientation field: retry sideways only
	// where it is the default, as for an untagged JPEG.
	retry := !a.opt.NoRotationRetry && (a.opt.RetryTagged || in.Orientation == 1)
	if err := a.analyzeUpright(ctx, img, res, retry, &tm); err != nil {
		return nil, tm, fmt.Errorf("%s: %w", path, err)
	}
	return res, tm, nil
}

// jxlUpright decodes a JPEG XL file's bytes and turns the image upright by
// the codestream's orientation (analyzeJXL and UprightImage share it).
func (a *Analyzer) jxlUpright(path string, buf []byte) (gocv.Mat, jxl.Info, error) {
	stored, in, err := jxl.Decode(buf, int(math.Ceil(a.opt.MaxMegapixels)))
	switch {
	case errors.Is(err, jxl.ErrTooLarge):
		return gocv.Mat{}, in, fileErr(path, ErrTooLarge, err, "%v, more than the %.0f megapixels allowed", err, a.opt.MaxMegapixels)
	case err != nil:
		return gocv.Mat{}, in, fileErr(path, ErrCorrupt, err, "%v", err)
	}
	if in.Orientation == 1 {
		return stored, in, nil
	}
	img := orientMat(stored, in.Orientation)
	stored.Close()
	return img, in, nil
}
