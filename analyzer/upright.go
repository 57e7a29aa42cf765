package analyzer

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"strings"
	"syscall"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/rawpreview"
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
	m, err := a.upright(ctx, path, frameTime)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	img, err := m.ToImage()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

func (a *Analyzer) upright(ctx context.Context, path string, frameTime float64) (gocv.Mat, error) {
	id, err := a.identifyFile(path)
	if err != nil {
		return gocv.Mat{}, err
	}
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
	case media.DecRawPreview:
		return a.rawPreviewUpright(path, id)
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

// rawPreviewUpright decodes a raw's largest embedded preview upright, as
// analyzeRaw finds faces in it.
func (a *Analyzer) rawPreviewUpright(path string, id media.Identity) (gocv.Mat, error) {
	f, size, err := a.openLimited(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	defer f.Close()
	if size < 16 {
		return gocv.Mat{}, fileErr(path, ErrCorrupt, nil, "%s file of %d bytes", id.Format, size)
	}
	file, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return gocv.Mat{}, fileErr(path, ErrCorrupt, err, "cannot map the file: %v", err)
	}
	defer syscall.Munmap(file)
	p, err := rawpreview.Largest(file)
	if err != nil {
		return gocv.Mat{}, fileErr(path, ErrUnsupported, err, "%s file without an embedded preview", id.Format)
	}
	buf := p.Bytes(file)
	info, err := imgmeta.Read(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		return gocv.Mat{}, fileErr(path, ErrCorrupt, err, "embedded preview: %v", err)
	}
	if !info.OrientationTagged {
		info.Orientation, _ = rawpreview.Orientation(file)
	}
	if err := a.checkPixels(path, info.Width, info.Height); err != nil {
		return gocv.Mat{}, err
	}
	m, ok := decodeUpright(buf, 1, info.Orientation)
	return decoded(path, m, ok)
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
