package analyzer

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
	"syscall"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/libraw"
	"github.com/faced/faced/analyzer/rawpreview"
	"github.com/faced/faced/face"
	"github.com/faced/faced/media"
)

// UprightImage decodes the image faces' upright boxes (face.Face.Box) are
// given in: the photo at path turned upright, through the same decoder
// Analyze uses (JPEG, PNG, ..., HEIC/AVIF through libheif, JPEG XL, a raw's
// embedded preview), or, for a video, its frame at frameTime seconds. The
// file is opened through opt.Open (the daemon's confinement) within
// MaxFileMB and MaxMegapixels, as Analyze does; no network is loaded. The
// review page crops face thumbnails from it.
func UprightImage(ctx context.Context, opt Options, path string, frameTime float64) (image.Image, error) {
	opt.defaults()
	a := &Analyzer{opt: opt}
	id, err := a.identifyFile(path)
	if err != nil {
		return nil, err
	}
	if id.Decoder == media.DecRawPreview {
		return a.rawUpright(path, id)
	}
	m, err := a.upright(ctx, path, id, frameTime)
	if err != nil {
		return nil, err
	}
	return matImage(path, m)
}

// matImage converts m (closed) to an image.Image.
func matImage(path string, m gocv.Mat) (image.Image, error) {
	defer m.Close()
	img, err := m.ToImage()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

func (a *Analyzer) upright(ctx context.Context, path string, id media.Identity, frameTime float64) (gocv.Mat, error) {
	switch id.Decoder {
	case media.DecVideo:
		return a.videoFrame(ctx, path, frameTime)
	case media.DecOpenCV:
		fb := fileBufs.Get(0)
		defer func() { fileBufs.Put(fb) }()
		buf, info, err := a.readPhoto(path, &fb)
		if err != nil {
			return gocv.Mat{}, err
		}
		m, ok := decodeUpright(buf, 1, info.Orientation)
		return decoded(path, m, ok)
	case media.DecHEIF:
		buf, release, err := a.readPooled(path)
		defer release()
		if err != nil {
			return gocv.Mat{}, err
		}
		pr, err := heif.Probe(buf)
		if err != nil {
			return gocv.Mat{}, heifErr(path, id, err)
		}
		if err := a.checkPixels(path, pr.Width, pr.Height); err != nil {
			return gocv.Mat{}, err
		}
		// libheif delivers the image with its transformations applied:
		// the frame analyzeHEIF finds faces in.
		m, _, err := heif.Decode(buf)
		if err != nil {
			return gocv.Mat{}, heifErr(path, id, err)
		}
		return m, nil
	case media.DecJXL:
		buf, release, err := a.readPooled(path)
		defer release()
		if err != nil {
			return gocv.Mat{}, err
		}
		m, _, err := a.jxlUpright(path, buf)
		return m, err
	}
	return gocv.Mat{}, fileErr(path, ErrUnsupported, nil, "%s files are not supported yet", strings.ToUpper(string(id.Format)))
}

func decoded(path string, m gocv.Mat, ok bool) (gocv.Mat, error) {
	if !ok {
		m.Close()
		return gocv.Mat{}, fileErr(path, ErrCorrupt, nil, "cannot decode the image")
	}
	return m, nil
}

// rawUpright returns a raw in the frame analyzeRaw gives its faces in:
// the largest embedded preview upright, placed on the raw's visible area
// when it shows a crop of it (mapPreviewToSensor), or, without a usable
// preview, LibRaw's half-size decode turned upright (analyzeRawSensor).
func (a *Analyzer) rawUpright(path string, id media.Identity) (image.Image, error) {
	f, size, err := a.openLimited(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size < 16 {
		return nil, fileErr(path, ErrCorrupt, nil, "%s file of %d bytes", id.Format, size)
	}
	file, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fileErr(path, ErrCorrupt, err, "cannot map the file: %v", err)
	}
	defer syscall.Munmap(file)
	p, err := rawpreview.Largest(file)
	if err != nil || max(p.Width, p.Height) < MinRawPreviewSide {
		stored, in, err := libraw.Decode(file, int(math.Ceil(a.opt.MaxMegapixels)))
		if err != nil {
			return nil, fileErr(path, ErrUnsupported, err, "%s file: no usable preview and the sensor data cannot be decoded (%v)", id.Format, err)
		}
		img := stored
		if in.Orientation != 1 {
			img = orientMat(stored, in.Orientation)
			stored.Close()
		}
		return matImage(path, img)
	}
	buf := p.Bytes(file)
	info, err := imgmeta.Read(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		return nil, fileErr(path, ErrCorrupt, err, "embedded preview: %v", err)
	}
	if !info.OrientationTagged {
		info.Orientation, _ = rawpreview.Orientation(file)
	}
	if err := a.checkPixels(path, info.Width, info.Height); err != nil {
		return nil, err
	}
	m, ok := decodeUpright(buf, 1, info.Orientation)
	m, err = decoded(path, m, ok)
	if err != nil {
		return nil, err
	}
	img, err := matImage(path, m)
	if err != nil {
		return nil, err
	}
	vw, vh, cx, cy, cw, ch, s, crop := previewCrop(info.Width, info.Height, file)
	if !crop {
		return img, nil
	}
	uw, uh := imgmeta.UprightSize(info.Orientation, vw, vh)
	at := imgmeta.BoxToUpright(info.Orientation, vw, vh, face.Box{X1: cx, Y1: cy, X2: cx + cw, Y2: cy + ch})
	return &placedImage{src: img, w: uw, h: uh, x: at.X1, y: at.Y1, s: s}, nil
}

// placedImage is src scaled by s and placed at (x, y) on a black w×h
// canvas, read lazily (a thumbnail reads a few thousand pixels of it).
type placedImage struct {
	src     image.Image
	w, h    int
	x, y, s float64
}

func (p *placedImage) ColorModel() color.Model { return p.src.ColorModel() }
func (p *placedImage) Bounds() image.Rectangle { return image.Rect(0, 0, p.w, p.h) }
func (p *placedImage) At(x, y int) color.Color {
	sx, sy := (float64(x)-p.x)/p.s, (float64(y)-p.y)/p.s
	b := p.src.Bounds()
	pt := image.Pt(b.Min.X+int(math.Floor(sx)), b.Min.Y+int(math.Floor(sy)))
	if sx < 0 || sy < 0 || !pt.In(b) {
		return color.Black
	}
	return p.src.At(pt.X, pt.Y)
}

// videoFrame reads the frame of the video at path shown at frameTime
// seconds (the frame index analyzeVideo gave it: time times the frame
// rate), as OpenCV delivers it (the frame faces were found in).
func (a *Analyzer) videoFrame(ctx context.Context, path string, frameTime float64) (gocv.Mat, error) {
	f, err := a.open(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	defer f.Close()
	opened, _ := openedNames(f, path)
	vc, err := openCapture(opened)
	if err != nil {
		return gocv.Mat{}, fileErr(path, ErrNoVideoStream, err, "cannot open the video stream")
	}
	defer vc.Close()
	fps := vc.Get(gocv.VideoCaptureFPS)
	if fps <= 0 || math.IsNaN(fps) || fps > 1000 {
		fps = 25
	}
	// Grabbed from the start, as the analysis read them: seeking is not
	// frame-exact in every container.
	if target := int(math.Round(frameTime * fps)); target > 0 {
		vc.Grab(target)
	}
	if err := ctx.Err(); err != nil {
		return gocv.Mat{}, err
	}
	frame := gocv.NewMat()
	if !vc.Read(&frame) || frame.Empty() {
		frame.Close()
		return gocv.Mat{}, fileErr(path, ErrCorrupt, nil, "no frame at %.2f s", frameTime)
	}
	return frame, nil
}
