package analyzer

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/internal/clock"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/cluster"
	"github.com/faced/faced/face"
)

// CAP_PROP_ORIENTATION_META: the rotation (degrees) the container asks for;
// OpenCV 4.6's FFmpeg backend already applies it to every frame
// (CAP_PROP_ORIENTATION_AUTO defaults to on), so frames are never rotated
// again here.
const capPropOrientationMeta gocv.VideoCaptureProperties = 48

// frameFace is one face seen in one analysed frame.
type frameFace struct {
	f     face.Face
	raw   []float32 // raw (unnormalised) features
	frame int       // analysed-frame ordinal
	t     float64   // seconds
}

func (a *Analyzer) analyzeVideo(ctx context.Context, path string) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	f, err := a.open(path)
	if err != nil {
		return nil, tm, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, tm, err
	}
	if st.Size() == 0 {
		return nil, tm, fileErr(path, ErrCorrupt, nil, "empty file")
	}
	bmff, hasVideo := probeBMFF(f, st.Size())
	if bmff && !hasVideo {
		return nil, tm, fileErr(path, ErrNoVideoStream, nil, "the container has no video track")
	}
	// OpenCV opens the file itself: it gets the file opened (and checked)
	// above, by its descriptor's name, so a link swapped meanwhile does
	// not lead it elsewhere.
	opened, real := openedNames(f, path)
	vc, err := openCapture(opened)
	if err != nil {
		if bmff {
			return nil, tm, fileErr(path, ErrCorrupt, err, "cannot open the video stream")
		}
		return nil, tm, fileErr(path, ErrNoVideoStream, err, "no decodable video stream")
	}
	defer vc.Close()
	fps := vc.Get(gocv.VideoCaptureFPS)
	if fps <= 0 || math.IsNaN(fps) || fps > 1000 {
		fps = 25
	}
	nFrames := int(vc.Get(gocv.VideoCaptureFrameCount))
	rot := int(vc.Get(capPropOrientationMeta))
	orientation := 1
	switch ((rot % 360) + 360) % 360 {
	case 90:
		orientation = 6
	case 180:
		orientation = 3
	case 270:
		orientation = 8
	}

	res := &face.Result{File: path, Kind: face.KindVideo, Orientation: orientation, Faces: []face.Face{},
		CaptureTime: a.dates.captureTime(real)}
	frame := gocv.NewMat()
	defer frame.Close()
	var seen []frameFace
	analysed := 0
	cur := 0 // index of the next frame the capture will deliver

	// analyse handles the frame just read at index idx.
	analyse := func(idx int) (int, error) {
		tm.Decode += clock.Since(t0)
		if res.Width == 0 {
			res.Width, res.Height = frame.Cols(), frame.Rows()
			res.StoredWidth, res.StoredHeight = res.Width, res.Height
			if imgmeta.Swaps(orientation) {
				res.StoredWidth, res.StoredHeight = res.Height, res.Width
			}
		}
		faces, raws, ft, err := a.analyzeFrame(ctx, frame)
		tm.Add(ft)
		t0 = clock.Now()
		if err != nil {
			return 0, err
		}
		ts := float64(idx) / fps
		for i := range faces {
			seen = append(seen, frameFace{f: faces[i], raw: raws[i], frame: analysed, t: ts})
		}
		analysed++
		return len(faces), nil
	}

	if a.opt.SeedVideoSampling {
		// The seed: counter 1,2,3,… over grabbed frames; analyse when
		// counter % d == 0; d = 3 after a frame with a face, else 5.
		d := 5
		for counter := 1; analysed < a.opt.MaxVideoFrames; counter++ {
			if err := ctx.Err(); err != nil {
				return nil, tm, err
			}
			if nFrames > 0 && counter > nFrames {
				break
			}
			if counter%d != 0 {
				vc.Grab(1)
				cur++
				continue
			}
			if !vc.Read(&frame) || frame.Empty() {
				break
			}
			cur++
			n, err := analyse(cur - 1)
			if err != nil {
				return nil, tm, fmt.Errorf("%s: %w", path, err)
			}
			d = 5
			if n > 0 {
				d = 3
			}
		}
	} else {
		for k := 0; analysed < a.opt.MaxVideoFrames; k++ {
			if err := ctx.Err(); err != nil {
				return nil, tm, err
			}
			target := int(math.Round(float64(k) * fps / a.opt.VideoFPS))
			if target < cur {
				continue
			}
			if nFrames > 0 && target >= nFrames {
				break
			}
			if target > cur {
				vc.Grab(target - cur)
				cur = target
			}
			if !vc.Read(&frame) || frame.Empty() {
				break
			}
			cur++
			if _, err := analyse(target); err != nil {
				return nil, tm, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	tm.Decode += clock.Since(t0)
	tm.Frames = analysed
	if analysed == 0 {
		return nil, tm, fileErr(path, ErrNoVideoStream, nil, "no video frame could be decoded")
	}
	res.Faces = groupVideoFaces(seen, st.ModTime(), a.opt.VideoDistanceThreshold, a.opt.MinNoFrames)
	for i := range res.Faces {
		res.Faces[i].StoredBox = imgmeta.BoxToStored(orientation, res.Width, res.Height, res.Faces[i].Box)
	}
	return res, tm, nil
}

// analyzeFrame detects and describes the faces of one upright BGR frame (no
// rotation retry: the seed does none on video frames). It returns the faces
// in the frame's pixels and their raw features.
func (a *Analyzer) analyzeFrame(ctx context.Context, frame gocv.Mat) ([]face.Face, [][]float32, Timings, error) {
	var tm Timings
	det := frame
	minSize := a.opt.MinSize
	w, h := frame.Cols(), frame.Rows()
	if !a.opt.Exact {
		if long := max(w, h); long > a.opt.DetectMaxSide {
			s := float64(a.opt.DetectMaxSide) / float64(long)
			det = gocv.NewMat()
			defer det.Close()
			gocv.Resize(frame, &det, image.Pt(max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))), 0, 0, gocv.InterpolationArea)
		}
		k := float64(det.Cols()) / float64(w)
		minSize = max(a.opt.MinDetectSize, int(math.Round(float64(a.opt.MinSize)*k)))
	}
	faces, dt, err := a.detectWithRetry(ctx, det, minSize, false, nil)
	tm.Add(dt)
	if err != nil || len(faces) == 0 {
		return nil, nil, tm, err
	}
	sx, sy := float64(w)/float64(det.Cols()), float64(h)/float64(det.Rows())
	for i := range faces {
		scaleFace(&faces[i], sx, sy)
	}
	raws, err := a.describeRaw(ctx, frame, w, h, faces, &tm)
	if err != nil {
		return nil, nil, tm, err
	}
	// Faces the crop skipped (empty boxes) have no features: drop them.
	var fs []face.Face
	var rs [][]float32
	for i := range faces {
		if raws[i] != nil {
			fs = append(fs, faces[i])
			rs = append(rs, raws[i])
		}
	}
	return fs, rs, tm, nil
}

// groupVideoFaces groups the faces of a video per SPEC §3.7: the seed's
// distance and clustering with the frame as the "photo" (two faces of one
// frame never share a group), groups smaller than minFrames dropped; per
// group the median gender sigmoid, the age from the median birth year, the
// mean of the raw features (then L2-normalised), and the box and time of
// the group's first face as the representative frame.
func groupVideoFaces(seen []frameFace, mtime time.Time, threshold float64, minFrames int) []face.Face {
	if len(seen) == 0 {
		return []face.Face{}
	}
	year := mtime.UTC().Year()
	items := make([]cluster.Item, len(seen))
	for i, s := range seen {
		items[i] = cluster.Item{ID: int64(i), Photo: int64(s.frame), Features: s.f.Features,
			BirthYear: cluster.FaceBirthYear(mtime, s.f.Age), Year: year}
	}
	groups := cluster.SeedCluster(items, threshold, minFrames)
	out := make([]face.Face, 0, len(groups))
	vt := mtime.UTC()
	videoYear := float64(vt.Year()) + float64(int(vt.Month())-1)/12
	for _, g := range groups {
		first := g[0]
		for _, i := range g {
			if seen[i].frame < seen[first].frame {
				first = i
			}
		}
		var births, males []float64
		mean := make([]float64, len(seen[g[0]].raw))
		for _, i := range g {
			births = append(births, items[i].BirthYear)
			males = append(males, seen[i].f.MaleProb)
			for k, v := range seen[i].raw {
				if k < len(mean) {
					mean[k] += float64(v)
				}
			}
		}
		feat := make([]float32, len(mean))
		for k := range mean {
			feat[k] = float32(mean[k] / float64(len(g)))
		}
		f := seen[first].f
		f.Age = videoYear - (cluster.Median(births) - 0.5)
		f.MaleProb = cluster.Median(males)
		f.Features = normalize(feat)
		f.FrameTime = seen[first].t
		f.Frames = len(g)
		out = append(out, f)
	}
	return out
}

// probeBMFF reports whether the file is an ISO base media file (MP4, MOV,
// M4V) and, if so, whether it has a video track ('vide' handler).
func probeBMFF(f io.ReaderAt, size int64) (isBMFF, hasVideo bool) {
	var walk func(off, end int64, depth int) bool
	sawBox := false
	walk = func(off, end int64, depth int) bool {
		hdr := make([]byte, 16)
		for off+8 <= end {
			if _, err := f.ReadAt(hdr[:8], off); err != nil {
				return false
			}
			size := int64(binary.BigEndian.Uint32(hdr[:4]))
			typ := string(hdr[4:8])
			hl := int64(8)
			if size == 1 {
				if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
					return false
				}
				size = int64(binary.BigEndian.Uint64(hdr[8:16]))
				hl = 16
			} else if size == 0 {
				size = end - off
			}
			if size < hl || off+size > end {
				return false
			}
			if depth == 0 && !sawBox {
				if typ != "ftyp" && typ != "moov" && typ != "mdat" && typ != "wide" && typ != "free" && typ != "skip" {
					return false
				}
				sawBox = true
				isBMFF = true
			}
			switch typ {
			case "moov", "trak", "mdia":
				if depth < 4 && walk(off+hl, off+size, depth+1) {
					return true
				}
			case "hdlr":
				b := make([]byte, 12)
				if _, err := f.ReadAt(b, off+hl); err == nil || err == io.EOF {
					if string(b[8:12]) == "vide" {
						return true
					}
				}
			}
			off += size
		}
		return false
	}
	hasVideo = walk(0, size, 0)
	return isBMFF, hasVideo
}

// openedNames returns names of the open file f (opened as path) for
// libraries that open files by name: /proc/self/fd/N, the descriptor
// itself, for in-process code, and the real path it resolves to for child
// processes (exiftool). Without /proc both are path.
func openedNames(f *os.File, path string) (inProcess, real string) {
	fd := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	r, err := os.Readlink(fd)
	if err != nil || !filepath.IsAbs(r) {
		return path, path
	}
	return fd, r
}

// openCapture opens the video file name with OpenCV's FFmpeg backend, then
// its GStreamer one. OpenCV's other backends are no use for a file and one
// is harmful: V4L2 opens any path it is given read-write, as a camera.
func openCapture(name string) (*gocv.VideoCapture, error) {
	var first error
	for _, api := range []gocv.VideoCaptureAPI{gocv.VideoCaptureFFmpeg, gocv.VideoCaptureGstreamer} {
		vc, err := gocv.VideoCaptureFileWithAPI(name, api)
		if err == nil && vc.IsOpened() {
			return vc, nil
		}
		vc.Close()
		if err == nil {
			err = fmt.Errorf("cannot open %s", name)
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}
