package analyzer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/media"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/mtcnn"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/confine"
	"github.com/faced/faced/models"
)

// Options configure an Analyzer. Zero values take the defaults noted.
type Options struct {
	// MinSize is the smallest face side, in pixels of the full-resolution
	// file, that MTCNN looks for (default 32, the seed's demo value).
	MinSize int
	// Variant is the age/gender model precision: "int8" (default) or
	// "float32".
	Variant string
	// Threads is ONNX Runtime's intra-op threads per age/gender network
	// run (0 = ORT default, one per core). For throughput use 1 with as many
	// workers as cores (12 MP test photos, process CPU per photo: 1 thread
	// 121 ms; 2 threads 124 ms, 168 ms with ORT's spinning).
	Threads int
	// MTCNNThreads is the intra-op threads of the three MTCNN networks
	// (default 1).
	MTCNNThreads int
	// Heads replaces the network's own age and gender decoding (nil = the
	// seed's heads, the default); see package heads/hook.
	Heads agegender.Heads
	// ORTSpinning lets ONNX Runtime's pool threads busy-wait for work
	// (ORT's own default; off here: with workers = cores the spinning
	// threads take CPU from the other workers).
	ORTSpinning bool
	// Exact runs the seed's pipeline unchanged: full-resolution decode and
	// detection.
	Exact bool
	// DetectMaxSide (fast mode) caps the longer side of the image MTCNN sees
	// (default 1024).
	DetectMaxSide int
	// MinDetectSize (fast mode) is the smallest MinSize used in the reduced
	// detection image (default 32): MinSize scaled down is raised to this.
	// P-Net's cost grows with (DetectMaxSide/MinDetectSize)²; 1024/32 keeps
	// F1 on dlib_faces (original and upscaled to 12 MP) and makes photos up
	// to 1024 px behave exactly as the seed at MinSize 32.
	MinDetectSize int
	// MinAspect (fast mode) drops detections whose height/width is below it
	// (default 0.9; negative = keep all). O-Net's regressed boxes of real
	// faces are taller than wide (h/w ≥ 1.08 on every face of the test
	// photos); the seed's one false face on dlib's dogs.jpg is 0.78.
	MinAspect float64
	// RetryMinScore (fast mode) is the O-Net score a face found by the
	// rotated retry needs (default 0.999; negative = the seed's 0.9): the
	// retry examines the photo twice more, sideways, and on dlib's dogs.jpg
	// it is where the seed's only false face (0.996) comes from.
	RetryMinScore float64
	// CropMinSide (fast mode) is the smallest side, in pixels, a face's
	// crop for the 224 px age/gender/identity network must have in the
	// image it is cut from (default 112): when the reduced decode used for
	// detection gives a face less, the file is decoded again at the
	// coarsest DCT reduction that gives it this much (full resolution at
	// most). See the package doc for why 112 and not 224.
	CropMinSide int
	// PNetThreshold, RNetThreshold and ONetThreshold (fast mode) replace
	// the seed's 0.6, 0.7 and 0.9 when > 0. PNetThreshold defaults to 0.8
	// in fast mode: it passes a third fewer candidates to R-Net and O-Net
	// and found the same 128 faces as 0.6 on the 49 real test photos,
	// where 0.9 (and R-Net 0.8) lost a real face.
	PNetThreshold, RNetThreshold, ONetThreshold float32
	// SeedPyramid (fast mode) resizes every pyramid level from the
	// detection image as the seed does, instead of from the previous level
	// (several times cheaper: INTER_AREA's cost follows the source size).
	SeedPyramid bool
	// SeedCrops (fast mode) cuts the R-/O-Net inputs as the seed does
	// (float64 zero-padded patches) instead of resizing crops inside the
	// image in 8 bits (several times cheaper; 8-bit rounding).
	SeedCrops bool
	// PyramidFactor (fast mode) replaces the seed's 0.709 when in (0, 1).
	PyramidFactor float64
	// MaxRNetBoxes and MaxONetBoxes (fast mode) cap the candidates P-Net
	// passes to R-Net and R-Net to O-Net, keeping the best-scoring
	// (negative = no cap).
	MaxRNetBoxes, MaxONetBoxes int
	// MaxMegapixels refuses photos whose header claims more pixels
	// (default 100).
	MaxMegapixels float64
	// MaxFileMB refuses larger photo files (default 512).
	MaxFileMB int
	// Open opens a photo or video for reading (default
	// confine.OpenRegular: special files refused without being opened).
	// The daemon passes its library's confinement (confine.Root.Open).
	Open func(path string) (*os.File, error)
	// NoRotationRetry turns off the seed's 90° CW / CCW retry.
	NoRotationRetry bool
	// RetryTagged (fast mode) runs the rotation retry also on files whose
	// EXIF Orientation tag says which way is up (the seed retries on
	// every photo without a face; fast mode by default only on photos
	// without the tag: scans, stripped or edited files). The retry makes
	// a photo without faces cost three detections.
	RetryTagged bool
	// RetryMaxSide (fast mode) caps the longer side of the image the
	// rotated retries detect on (default 512, half of DetectMaxSide's
	// default: a quarter of the cost per pass; negative = DetectMaxSide).
	RetryMaxSide int
	// VideoFPS is the number of video frames analysed per second (default 2).
	VideoFPS float64
	// SeedVideoSampling uses the seed's every-5th/every-3rd-frame rule
	// instead of VideoFPS.
	SeedVideoSampling bool
	// MinNoFrames is the minimum size of a per-video face group
	// (default 2; the seed's config uses MinNoFrames frames at its own rate).
	MinNoFrames int
	// VideoDistanceThreshold groups faces inside a video (default 0.82).
	VideoDistanceThreshold float64
	// MaxVideoFrames bounds the frames analysed per video (default 600).
	MaxVideoFrames int
}

func (o *Options) defaults() {
	if o.MinSize <= 0 {
		o.MinSize = 32
	}
	if o.Variant == "" {
		o.Variant = "int8"
	}
	if o.MTCNNThreads <= 0 {
		o.MTCNNThreads = 1
	}
	if o.DetectMaxSide <= 0 {
		o.DetectMaxSide = 1024
	}
	if o.MinDetectSize <= 0 {
		o.MinDetectSize = 32
	}
	if o.MinAspect == 0 {
		o.MinAspect = 0.9
	}
	if o.Exact || o.MinAspect < 0 {
		o.MinAspect = 0
	}
	if o.RetryMinScore == 0 {
		o.RetryMinScore = 0.999
	}
	if o.Exact || o.RetryMinScore < 0 {
		o.RetryMinScore = 0
	}
	if o.CropMinSide <= 0 {
		o.CropMinSide = 112
	}
	if o.RetryMaxSide == 0 {
		o.RetryMaxSide = 512
	}
	if o.Exact || o.RetryMaxSide < 0 || o.RetryMaxSide > o.DetectMaxSide {
		o.RetryMaxSide = o.DetectMaxSide
	}
	if o.Exact {
		o.RetryTagged = true
	}
	if o.PNetThreshold <= 0 {
		o.PNetThreshold = 0.8
	}
	if o.Exact {
		o.PNetThreshold, o.RNetThreshold, o.ONetThreshold, o.PyramidFactor = 0, 0, 0, 0
		o.MaxRNetBoxes, o.MaxONetBoxes = -1, -1
	}
	if o.MaxMegapixels <= 0 {
		o.MaxMegapixels = 100
	}
	if o.MaxFileMB <= 0 {
		o.MaxFileMB = 512
	}
	if o.Open == nil {
		o.Open = confine.OpenRegular
	}
	if o.VideoFPS <= 0 {
		o.VideoFPS = 2
	}
	if o.MinNoFrames <= 0 {
		o.MinNoFrames = 2
	}
	if o.VideoDistanceThreshold <= 0 {
		o.VideoDistanceThreshold = 0.82
	}
	if o.MaxVideoFrames <= 0 {
		o.MaxVideoFrames = 600
	}
}

// Analyzer analyses files. It is safe for concurrent use.
type Analyzer struct {
	opt              Options
	pnet, rnet, onet *models.Session
	ag               *agegender.Net
	dates            videoDates
	closeOnce        sync.Once
}

// New opens the networks of reg. models.InitRuntime must have been called.
func New(reg *models.Registry, opt Options) (*Analyzer, error) {
	opt.defaults()
	so := models.SessionOptions{IntraOpThreads: opt.Threads, AllowSpinning: opt.ORTSpinning}
	// The MTCNN networks are small: ORT's intra-op pool spends more time
	// spinning than computing on them (measured: most CPU time in idle
	// pool threads), so they run single-threaded unless MTCNNThreads says
	// otherwise; parallelism comes from the workers.
	mso := models.SessionOptions{IntraOpThreads: opt.MTCNNThreads, AllowSpinning: opt.ORTSpinning}
	a := &Analyzer{opt: opt}
	var err error
	if a.pnet, err = reg.NewSession("pnet", mso); err == nil {
		if a.rnet, err = reg.NewSession("rnet", mso); err == nil {
			if a.onet, err = reg.NewSession("onet", mso); err == nil {
				if a.ag, err = agegender.Open(reg, opt.Variant, so); err == nil && opt.Heads != nil {
					a.ag.SetHeads(opt.Heads)
				}
			}
		}
	}
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("analyzer: %w", err)
	}
	return a, nil
}

// Options returns the effective options (defaults filled in).
func (a *Analyzer) Options() Options { return a.opt }

// Close releases the networks.
func (a *Analyzer) Close() error {
	var errs []error
	a.closeOnce.Do(func() {
		for _, s := range []*models.Session{a.pnet, a.rnet, a.onet} {
			if s != nil {
				errs = append(errs, s.Close())
			}
		}
		if a.ag != nil {
			errs = append(errs, a.ag.Close())
		}
		errs = append(errs, a.dates.close())
	})
	return errors.Join(errs...)
}

func (a *Analyzer) nets() mtcnn.Nets { return mtcnn.Nets{P: a.pnet, R: a.rnet, O: a.onet} }

// Timings are the time spent per stage on one file.
type Timings struct {
	Decode, PNet, RNet, ONet, Crop, AgeGender, Total time.Duration
	// Frames is the number of video frames analysed (videos only).
	Frames int
	// RNetBoxes and ONetBoxes count the candidates P-Net passed to R-Net
	// and R-Net passed to O-Net (the cascade's work).
	RNetBoxes, ONetBoxes int
}

// Add accumulates t2 into t.
func (t *Timings) Add(t2 Timings) {
	t.Decode += t2.Decode
	t.PNet += t2.PNet
	t.RNet += t2.RNet
	t.ONet += t2.ONet
	t.Crop += t2.Crop
	t.AgeGender += t2.AgeGender
	t.Total += t2.Total
	t.Frames += t2.Frames
	t.RNetBoxes += t2.RNetBoxes
	t.ONetBoxes += t2.ONetBoxes
}

// Analyze analyses one photo or video.
func (a *Analyzer) Analyze(ctx context.Context, path string) (*face.Result, error) {
	r, _, err := a.AnalyzeTimed(ctx, path)
	return r, err
}

// AnalyzeTimed is Analyze that also reports the time per stage.
func (a *Analyzer) AnalyzeTimed(ctx context.Context, path string) (*face.Result, Timings, error) {
	t0 := clock.Now()
	var (
		res *face.Result
		tm  Timings
	)
	id, err := a.identifyFile(path)
	if err != nil {
		return nil, tm, err
	}
	switch id.Decoder {
	case media.DecVideo:
		res, tm, err = a.analyzeVideo(ctx, path)
	case media.DecOpenCV:
		res, tm, err = a.analyzePhoto(ctx, path)
	case media.DecHEIF:
		res, tm, err = a.analyzeHEIF(ctx, path, id)
	case media.DecRawPreview:
		res, tm, err = a.analyzeRaw(ctx, path, id)
	case media.DecJXL:
		res, tm, err = a.analyzeJXL(ctx, path)
	default:
		return nil, tm, fileErr(path, ErrUnsupported, nil, "%s files are not supported yet", strings.ToUpper(string(id.Format)))
	}
	tm.Total = clock.Since(t0)
	if res != nil {
		res.Model = "mtcnn+seed-" + a.opt.Variant
		res.Format = string(id.Format)
		res.Media = string(a.mediaKind(path, id))
		if n := id.MismatchNote(); n != "" {
			res.Note = joinNote(res.Note, n)
		}
	}
	return res, tm, err
}

// identifyFile names the format of the file at path by its first bytes
// (the extension when the bytes are not recognised). The file is opened
// through Options.Open: a FIFO or a device is refused without being
// opened, and the daemon's confinement keeps links leading out unread.
func (a *Analyzer) identifyFile(path string) (media.Identity, error) {
	if !media.IsMedia(path) {
		// Only names the media table lists are media files (as for the
		// watcher): a photo renamed .txt is left alone.
		return media.Identity{}, fileErr(path, ErrUnsupported, nil, "unsupported file type %q", extOf(path))
	}
	f, err := a.open(path)
	if err != nil {
		return media.Identity{}, err
	}
	defer f.Close()
	head := make([]byte, media.HeadSize)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return media.Identity{}, err
	}
	if n == 0 {
		return media.Identity{}, fileErr(path, ErrCorrupt, nil, "empty file")
	}
	id, ok := media.Identify(path, head[:n])
	if !ok {
		return id, fileErr(path, ErrUnsupported, nil, "unsupported file type %q", extOf(path))
	}
	return id, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// photo is a decoded photo at some reduction.
type photo struct {
	buf         []byte
	info        imgmeta.Info
	w, h        int // upright full-resolution size
	reduction   int // DCT reduction of img (1 for non-JPEG)
	img         gocv.Mat
	orientation int
}

// readPhoto checks the file at path (size, format, header dimensions,
// JPEG completeness) and reads it into *into (grown when needed). The file
// is opened once, through Options.Open, and checked from fstat.
func (a *Analyzer) readPhoto(path string, into *[]byte) ([]byte, imgmeta.Info, error) {
	f, size, err := a.openLimited(path)
	if err != nil {
		return nil, imgmeta.Info{}, err
	}
	defer f.Close()
	info, err := imgmeta.Read(f, size)
	if err != nil {
		kind := ErrCorrupt
		if errors.Is(err, ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, info, fileErr(path, kind, err, "%v", err)
	}
	if err := a.checkPixels(path, info.Width, info.Height); err != nil {
		return nil, info, err
	}
	buf, err := readFrom(f, size, into)
	if err != nil {
		return nil, info, err
	}
	if info.Format == imgmeta.JPEG && !imgmeta.JPEGComplete(buf) {
		return nil, info, fileErr(path, ErrCorrupt, nil, "truncated JPEG (no end-of-image marker)")
	}
	return buf, info, nil
}

// open opens the file at path through Options.Open; a special file (FIFO,
// device, folder), refused without being opened, is an ErrUnsupported
// FileError.
func (a *Analyzer) open(path string) (*os.File, error) {
	f, err := a.opt.Open(path)
	if err != nil && errors.Is(err, confine.ErrNotRegular) {
		return nil, fileErr(path, ErrUnsupported, err, "%v", unwrapPath(err))
	}
	return f, err
}

// openLimited opens the file at path through open and checks the size of
// what it opened (fstat) against MaxFileMB; it returns the open file, which
// the caller closes, and its size. readPhoto, readLimited (HEIF, JPEG XL)
// and analyzeRaw share it.
func (a *Analyzer) openLimited(path string) (*os.File, int64, error) {
	f, err := a.open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.Size() > int64(a.opt.MaxFileMB)<<20 {
		f.Close()
		return nil, 0, fileErr(path, ErrTooLarge, nil, "file is %d MB, more than the %d MB allowed", st.Size()>>20, a.opt.MaxFileMB)
	}
	return f, st.Size(), nil
}

// MaxFileSize is the largest file size opt lets the analyzer read for
// path: MaxFileMB for photos, 0 (no limit) for videos. The daemon checks it
// from stat before hashing a file.
func MaxFileSize(opt Options, path string) int64 {
	if kind, ok := MediaKind(path); ok && kind == face.KindVideo {
		return 0
	}
	opt.defaults()
	return int64(opt.MaxFileMB) << 20
}

// unwrapPath drops the *fs.PathError wrapper (the path is named already).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileBufs keeps the buffers photo files are read into (2-5 MB for a 12 MP
// JPEG) for the next photo (models.FreeList). Nothing keeps a reference to
// the bytes after the analysis.
var fileBufs models.FreeList[byte]

// readFrom reads the open file f (size bytes at its stat) into *b, grown
// when needed, and returns the bytes read.
func readFrom(f *os.File, size int64, b *[]byte) ([]byte, error) {
	// One byte more than the size: reaching EOF with room to spare shows
	// the whole file was read.
	buf := (*b)[:0]
	if need := int(size) + 1; cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	for {
		if len(buf) == cap(buf) { // the file grew since the stat
			buf = slices.Grow(buf, cap(buf))
		}
		k, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			*b = buf
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// decodeWhole decodes the whole photo at DCT reduction r and turns it
// upright: in fast mode JPEGs go through the region decoder (libjpeg
// directly, ~10 % less CPU than OpenCV's imdecode, same pixels), OpenCV
// otherwise and when that fails.
//
// ck (may be nil) receives the JPEG entropy decoder's checkpoints, for a
// later decodeCropRegion of the same file.
func (a *Analyzer) decodeWhole(buf []byte, info imgmeta.Info, r int, ck *jpegCheckpoints) (gocv.Mat, bool) {
	if !a.opt.Exact && info.Format == imgmeta.JPEG {
		if m, _, _, err := decodeJPEGRegionCk(buf, r, image.Rect(0, 0, 1<<30, 1<<30), ck, ck != nil); err == nil {
			if info.Orientation == 1 {
				return m, true
			}
			u := orientMat(m, info.Orientation)
			m.Close()
			return u, true
		}
	}
	return decodeUpright(buf, r, info.Orientation)
}

// detectReduction picks the DCT reduction for detection and the extra
// resize factor so that the longer side fits DetectMaxSide.
func (a *Analyzer) detectReduction(info imgmeta.Info) int {
	if a.opt.Exact || info.Format != imgmeta.JPEG {
		return 1
	}
	long := max(info.Width, info.Height)
	// The coarsest reduction whose image still has ≥ 90 % of DetectMaxSide
	// (what is left above DetectMaxSide is resized away with INTER_AREA).
	r := 1
	for r < 8 && float64((long+2*r-1)/(2*r)) >= 0.9*float64(a.opt.DetectMaxSide) {
		r *= 2
	}
	return r
}

func (a *Analyzer) analyzePhoto(ctx context.Context, path string) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	fb := fileBufs.Get(0)
	defer func() { fileBufs.Put(fb) }()
	buf, info, err := a.readPhoto(path, &fb)
	if err != nil {
		return nil, tm, err
	}
	read := clock.Since(t0)
	res, tm, err := a.analyzeBuf(ctx, path, buf, info)
	tm.Decode += read
	return res, tm, err
}

// analyzeBuf analyses the photo whose bytes (checked by readPhoto or a
// caller doing the same) are buf, with header info.
func (a *Analyzer) analyzeBuf(ctx context.Context, path string, buf []byte, info imgmeta.Info) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	res := &face.Result{File: path, Kind: face.KindPhoto, StoredWidth: info.Width, StoredHeight: info.Height, Orientation: info.Orientation, Faces: []face.Face{},
		CaptureTime: info.CaptureTime}
	res.Width, res.Height = imgmeta.UprightSize(info.Orientation, info.Width, info.Height)

	r := a.detectReduction(info)
	// The checkpoints are only worth recording when faces may be cut
	// from a finer scale later.
	var ck *jpegCheckpoints
	if r > 1 {
		ck = &jpegCheckpoints{}
		defer ck.Close()
	}
	img, ok := a.decodeWhole(buf, info, r, ck)
	if !ok {
		return nil, tm, fileErr(path, ErrCorrupt, nil, "cannot decode the %s data", info.Format)
	}
	defer img.Close()
	if r == 1 && (img.Cols() != res.Width || img.Rows() != res.Height) {
		// The decoder disagrees with the header: trust the pixels.
		res.Width, res.Height = img.Cols(), img.Rows()
		res.StoredWidth, res.StoredHeight = imgmeta.UprightSize(info.Orientation, res.Width, res.Height)
	}
	det, minSize, owned := a.detectionImage(img, res.Width)
	if owned {
		defer det.Close()
	}
	tm.Decode = clock.Since(t0)

	retry := !a.opt.NoRotationRetry && (a.opt.RetryTagged || !info.OrientationTagged)
	faces, dt, err := a.detectWithRetry(ctx, det, minSize, retry, a.retryImage(det, res.Width))
	tm.Add(dt)
	if err != nil {
		return nil, tm, fmt.Errorf("%s: %w", path, err)
	}
	if len(faces) == 0 {
		return res, tm, nil
	}
	// Scale detection boxes to upright full-resolution pixels.
	sx, sy := float64(res.Width)/float64(det.Cols()), float64(res.Height)/float64(det.Rows())
	for i := range faces {
		scaleFace(&faces[i], sx, sy)
	}

	// Crop from a resolution where faces have ≥ CropMinSide px when the
	// file has it: only the rectangle holding the faces' crops is decoded
	// again (jpegregion.go), the whole image when that fails.
	t0 = clock.Now()
	cs := cropSource{img: img, sx: float64(img.Cols()) / float64(res.Width), sy: float64(img.Rows()) / float64(res.Height)}
	if r > 1 {
		need := r
		for need > 1 && minCropSide(faces, res.Width, res.Height)/float64(need) < float64(a.opt.CropMinSide) {
			need /= 2
		}
		if need < r {
			rs, err := decodeCropRegion(buf, need, info.Orientation, res.Width, res.Height, faces, ck)
			if err != nil {
				m, ok := decodeUpright(buf, need, info.Orientation)
				if !ok {
					return nil, tm, fileErr(path, ErrCorrupt, nil, "cannot decode the %s data at 1/%d", info.Format, need)
				}
				rs = cropSource{img: m, sx: float64(m.Cols()) / float64(res.Width), sy: float64(m.Rows()) / float64(res.Height)}
			}
			defer rs.img.Close()
			cs = rs
		}
	}
	tm.Decode += clock.Since(t0)
	if _, err := a.describeFrom(ctx, cs, res.Width, res.Height, faces, &tm); err != nil {
		return nil, tm, fmt.Errorf("%s: %w", path, err)
	}
	for i := range faces {
		faces[i].StoredBox = imgmeta.BoxToStored(info.Orientation, res.Width, res.Height, faces[i].Box)
	}
	res.Faces = faces
	return res, tm, nil
}

func scaleFace(f *face.Face, sx, sy float64) {
	f.Box = face.Box{X1: f.Box.X1 * sx, Y1: f.Box.Y1 * sy, X2: f.Box.X2 * sx, Y2: f.Box.Y2 * sy}
	for k := 0; k < 5; k++ {
		f.Landmarks[k] *= sx
		f.Landmarks[k+5] *= sy
	}
}

// minCropSide is the smallest side of the seed crops of faces, in
// full-resolution pixels.
func minCropSide(faces []face.Face, w, h int) float64 {
	m := math.Inf(1)
	for _, f := range faces {
		if r, ok := cropRect(f.Box, 10, w, h); ok {
			m = min(m, float64(min(r.Dx(), r.Dy())))
		}
	}
	return m
}

// detectWithRetry runs MTCNN on det, then (seed §3.3) on det rotated 90°
// clockwise and then counter-clockwise when nothing was found. Faces come
// back in det's upright pixels.
func (a *Analyzer) detectWithRetry(ctx context.Context, det gocv.Mat, minSize int, retry bool, small retryFunc) ([]face.Face, Timings, error) {
	var tm Timings
	p := mtcnn.SeedParams(minSize)
	for i, v := range []float32{a.opt.PNetThreshold, a.opt.RNetThreshold, a.opt.ONetThreshold} {
		if v > 0 {
			p.Thresholds[i] = v
		}
	}
	if f := a.opt.PyramidFactor; f > 0 && f < 1 {
		p.Factor = f
	}
	p.MaxRNet, p.MaxONet = max(0, a.opt.MaxRNetBoxes), max(0, a.opt.MaxONetBoxes)
	p.ChainPyramid = !a.opt.Exact && !a.opt.SeedPyramid
	p.Uint8Crops = !a.opt.Exact && !a.opt.SeedCrops
	// run returns the plausible faces and whether MTCNN found anything at
	// all: as in the seed, the rotated retries only run when the upright
	// pass found nothing (not when the aspect filter dropped what it found).
	var found bool
	run := func(m gocv.Mat) ([]face.Face, error) {
		fs, st, err := mtcnn.Detect(ctx, a.nets(), m, p)
		found = len(fs) > 0
		tm.PNet += st.PNet
		tm.RNet += st.RNet
		tm.ONet += st.ONet
		tm.RNetBoxes += st.AfterPNet
		tm.ONetBoxes += st.AfterRNet
		if err != nil {
			return nil, err
		}
		out := make([]face.Face, 0, len(fs))
		for _, f := range fs {
			if w, h := f.X2-f.X1, f.Y2-f.Y1; w <= 0 || h < a.opt.MinAspect*w {
				continue
			}
			out = append(out, face.Face{Box: face.Box{X1: f.X1, Y1: f.Y1, X2: f.X2, Y2: f.Y2}, Score: f.Score, Landmarks: f.Landmarks})
		}
		return out, nil
	}
	faces, err := run(det)
	if err != nil || found || !retry {
		return faces, tm, err
	}
	// The retries may run on a smaller copy of det (RetryMaxSide).
	src, reduced := det, false
	if small != nil {
		t0 := clock.Now()
		if m, rmin, ok := small(); ok {
			defer m.Close()
			src, reduced, p.MinSize = m, true, rmin
		}
		tm.Decode += clock.Since(t0)
	}
	k := float64(det.Cols()) / float64(src.Cols())
	for _, rot := range []int{6, 8} { // 90° clockwise, then counter-clockwise
		m := orientMat(src, rot)
		faces, err = run(m)
		rw, rh := m.Cols(), m.Rows()
		m.Close()
		if err != nil {
			return nil, tm, err
		}
		if found {
			kept := faces[:0]
			for _, f := range faces {
				if f.Score >= a.opt.RetryMinScore {
					f = mapBack(f, rot, rw, rh)
					if reduced {
						scaleFace(&f, k, float64(det.Rows())/float64(src.Rows()))
					}
					kept = append(kept, f)
				}
			}
			return kept, tm, nil
		}
	}
	return nil, tm, nil
}

// retryFunc makes the image the rotated retries run on and its MTCNN
// minimum size; ok is false when det itself is to be used.
type retryFunc func() (img gocv.Mat, minSize int, ok bool)

// retryImage returns the retryFunc for det, the detection image of a photo
// w pixels wide (upright, full resolution): det reduced to RetryMaxSide.
func (a *Analyzer) retryImage(det gocv.Mat, w int) retryFunc {
	if a.opt.Exact {
		return nil
	}
	return func() (gocv.Mat, int, bool) {
		long := max(det.Cols(), det.Rows())
		if long <= a.opt.RetryMaxSide {
			return gocv.Mat{}, 0, false
		}
		s := float64(a.opt.RetryMaxSide) / float64(long)
		m := gocv.NewMat()
		mtcnn.ResizeArea(det, &m, max(1, int(math.Round(float64(det.Cols())*s))), max(1, int(math.Round(float64(det.Rows())*s))))
		k := float64(m.Cols()) / float64(w)
		return m, max(a.opt.MinDetectSize, int(math.Round(float64(a.opt.MinSize)*k))), true
	}
}

// describe crops every face (boxes in w×h upright full-resolution pixels)
// out of src (the same image at some resolution) with the seed's margin and
// runs the age/gender/identity network on all of them in one batch.
func (a *Analyzer) describe(ctx context.Context, src gocv.Mat, w, h int, faces []face.Face, tm *Timings) error {
	_, err := a.describeRaw(ctx, src, w, h, faces, tm)
	return err
}

// describeRaw is describe that also returns each face's raw features (nil
// for a face whose box was empty and was not described).
func (a *Analyzer) describeRaw(ctx context.Context, src gocv.Mat, w, h int, faces []face.Face, tm *Timings) ([][]float32, error) {
	return a.describeFrom(ctx, cropSource{img: src, sx: float64(src.Cols()) / float64(w), sy: float64(src.Rows()) / float64(h)}, w, h, faces, tm)
}

// cropSource is an image the faces are cut from: img shows the upright
// full-resolution image scaled by (sx, sy), from pixel off on.
type cropSource struct {
	img    gocv.Mat
	off    image.Point
	sx, sy float64
}

// decodeCropRegion decodes, at DCT reduction r, the part of the JPEG buf
// (EXIF orientation o, upright full-resolution size w×h) holding the seed
// crops of faces, and turns it upright.
//
// ck (may be nil): checkpoints of an earlier whole decode of buf; rows
// above the region are then not entropy-decoded again (same pixels). When
// resuming fails the region is decoded from the start.
func decodeCropRegion(buf []byte, r, o, w, h int, faces []face.Face, ck *jpegCheckpoints) (cropSource, error) {
	// stored is the rectangle of the JPEG at 1/r holding the upright
	// full-resolution rectangle c; one pixel more on every side absorbs
	// the rounding of the scales.
	stored := func(c image.Rectangle) image.Rectangle {
		sb := imgmeta.BoxToStored(o, w, h, face.Box{X1: float64(c.Min.X), Y1: float64(c.Min.Y), X2: float64(c.Max.X), Y2: float64(c.Max.Y)})
		return image.Rect(int(math.Floor(sb.X1/float64(r)))-1, int(math.Floor(sb.Y1/float64(r)))-1, int(math.Ceil(sb.X2/float64(r)))+1, int(math.Ceil(sb.Y2/float64(r)))+1)
	}
	var u image.Rectangle
	var rows [][2]int
	for _, f := range faces {
		if c, ok := cropRect(f.Box, 10, w, h); ok {
			u = u.Union(c)
			s := stored(c)
			rows = append(rows, [2]int{s.Min.Y, s.Max.Y})
		}
	}
	if u.Empty() {
		return cropSource{}, errors.New("no crop")
	}
	sr := stored(u)
	var (
		m    gocv.Mat
		got  image.Rectangle
		size image.Point
		err  error = errors.New("one band")
	)
	if bands := rowBands(rows, bandGap); len(bands) > 1 && ck.usable() {
		// Rows between faces far apart vertically are not decoded.
		m, got, size, err = decodeJPEGBands(buf, r, sr, bands, ck)
	}
	if err != nil {
		m, got, size, err = decodeJPEGRegionCk(buf, r, sr, ck, false)
	}
	if err != nil && ck.usable() {
		m, got, size, err = decodeJPEGRegion(buf, r, sr)
	}
	if err != nil {
		return cropSource{}, err
	}
	ub := imgmeta.BoxToUpright(o, size.X, size.Y, face.Box{X1: float64(got.Min.X), Y1: float64(got.Min.Y), X2: float64(got.Max.X), Y2: float64(got.Max.Y)})
	uw, uh := imgmeta.UprightSize(o, size.X, size.Y)
	cs := cropSource{img: m, off: image.Pt(int(math.Round(ub.X1)), int(math.Round(ub.Y1))), sx: float64(uw) / float64(w), sy: float64(uh) / float64(h)}
	if o != 1 {
		cs.img = orientMat(m, o)
		m.Close()
	}
	return cs, nil
}

// bandGap is the fewest rows between two faces' crops (in the decoded
// scale) left undecoded: a band of its own costs a decoder set-up and an
// iMCU row of context decoded again.
const bandGap = 48

// rowBands merges the row ranges rs into sorted disjoint bands, joining
// ranges less than gap rows apart.
func rowBands(rs [][2]int, gap int) [][2]int {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] < out[n-1][1]+gap {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// describeFrom is describeRaw cutting the faces out of cs.
func (a *Analyzer) describeFrom(ctx context.Context, cs cropSource, w, h int, faces []face.Face, tm *Timings) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t0 := clock.Now()
	src, sx, sy := cs.img, cs.sx, cs.sy
	var crops []gocv.Mat
	var idx []int
	defer func() {
		for _, c := range crops {
			c.Close()
		}
	}()
	for i, f := range faces {
		r, ok := cropRect(f.Box, 10, w, h)
		if !ok {
			continue
		}
		if sx != 1 || sy != 1 || cs.off != (image.Point{}) {
			r = image.Rect(int(math.Floor(float64(r.Min.X)*sx)), int(math.Floor(float64(r.Min.Y)*sy)),
				int(math.Ceil(float64(r.Max.X)*sx)), int(math.Ceil(float64(r.Max.Y)*sy))).Sub(cs.off).Intersect(image.Rect(0, 0, src.Cols(), src.Rows()))
			if r.Empty() {
				continue
			}
		}
		crops = append(crops, src.Region(r))
		idx = append(idx, i)
	}
	tm.Crop += clock.Since(t0)
	raws := make([][]float32, len(faces))
	if len(crops) == 0 {
		return raws, nil
	}
	t0 = clock.Now()
	preds, err := a.ag.Predict(crops)
	tm.AgeGender += clock.Since(t0)
	if err != nil {
		return nil, err
	}
	if len(preds) != len(crops) {
		return nil, fmt.Errorf("age/gender network returned %d predictions for %d crops", len(preds), len(crops))
	}
	for k, i := range idx {
		p := preds[k]
		faces[i].Age = p.Age
		faces[i].MaleProb = p.MaleProb
		faces[i].Features = normalize(p.Features)
		raws[i] = p.Features
	}
	return raws, nil
}

// normalize returns v / ‖v‖₂ (a copy; v unchanged when its norm is 0).
func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	n := math.Sqrt(s)
	for i, x := range v {
		if n > 0 {
			out[i] = float32(float64(x) / n)
		} else {
			out[i] = x
		}
	}
	return out
}

func extOf(path string) string {
	for i := len(path) - 1; i >= 0 && path[i] != '/' && path[i] != os.PathSeparator; i-- {
		if path[i] == '.' {
			return path[i:]
		}
	}
	return ""
}
