package mtcnn

import (
	"context"
	"fmt"
	"image"
	"time"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/internal/clock"

	"github.com/faced/faced/models"
)

// Runner runs one network: models.Session satisfies it.
type Runner interface {
	Run(in models.Tensor) ([]models.Tensor, error)
}

// Nets are the three cascade networks. P-Net takes [1,W',H',3] (the
// transposed image) and returns [reg, prob]; R-Net [N,24,24,3] → [reg,
// prob]; O-Net [N,48,48,3] → [reg, landmarks, prob].
type Nets struct {
	P, R, O Runner
}

// Params are the detector settings.
type Params struct {
	// MinSize is the smallest face size in pixels (seed: 32 demo, 112 album).
	MinSize int
	// Thresholds for P-Net (≥), R-Net (>) and O-Net (>).
	Thresholds [3]float32
	// Factor is the pyramid step.
	Factor float64
	// MaxBatch is the R-/O-Net batch size; 0 = RNetBatch for R-Net,
	// ONetBatch for O-Net.
	MaxBatch int
	// MaxRNet and MaxONet (0 = no cap; the seed has none) keep only the
	// best-scoring candidates P-Net passes to R-Net and R-Net passes to
	// O-Net. Both lists are in descending score order after their NMS, so
	// the cap drops the weakest.
	MaxRNet, MaxONet int
	// ChainPyramid resizes each pyramid level from the smallest earlier
	// level at least twice its size instead of from the full image (the
	// seed's way): INTER_AREA's cost grows with the source size, so this
	// makes the pyramid about 4× cheaper, at the price of slightly
	// different pixels (not exact).
	ChainPyramid bool
	// Uint8Crops cuts R-/O-Net crops that lie inside the image straight
	// from the 8-bit image and resizes them in 8 bits (OpenCV's SIMD path)
	// instead of through the seed's float64 zero-padded patch: much
	// cheaper for the large boxes, values differ by the 8-bit rounding
	// (not exact). Boxes that need padding still take the seed's path.
	Uint8Crops bool
}

// SeedParams are the seed's settings for a minimum face size.
func SeedParams(minSize int) Params {
	return Params{MinSize: minSize, Thresholds: [3]float32{0.6, 0.7, 0.9}, Factor: 0.709}
}

// Face is one detection: the float box, O-Net score and five landmarks
// (x1..x5, y1..y5), all in the pixel frame of the image given to Detect.
type Face struct {
	X1, Y1, X2, Y2 float64
	Score          float64
	Landmarks      [10]float64
}

// Stats describe one detection run.
type Stats struct {
	Scales                               []float64
	PNetCandidates, AfterPNet, AfterRNet int
	Final                                int
	PNet, RNet, ONet                     time.Duration
}

// Detect runs the seed's cascade on img, a BGR 8UC3 image (the seed feeds
// RGB; channels are swapped while building the tensors).
func Detect(ctx context.Context, nets Nets, img gocv.Mat, p Params) ([]Face, Stats, error) {
	var st Stats
	if img.Empty() || img.Type() != gocv.MatTypeCV8UC3 {
		return nil, st, fmt.Errorf("mtcnn: need a non-empty BGR 8UC3 image")
	}
	rBatch, oBatch := p.MaxBatch, p.MaxBatch
	if p.MaxBatch <= 0 {
		rBatch, oBatch = RNetBatch, ONetBatch
	}
	h, w := img.Rows(), img.Cols()
	cont := img
	if !img.IsContinuous() {
		cont = img.Clone()
		defer cont.Close()
	}
	pix, err := cont.DataPtrUint8()
	if err != nil {
		return nil, st, fmt.Errorf("mtcnn: image data: %w", err)
	}

	// Stage 1: P-Net over the pyramid.
	t0 := clock.Now()
	st.Scales = Scales(h, w, p.MinSize, p.Factor)
	var total []Candidate
	resized := gocv.NewMat()
	defer resized.Close()
	var levels []gocv.Mat // ChainPyramid: the levels made so far
	defer func() {
		for _, m := range levels {
			m.Close()
		}
	}()
	pbuf := pnetBufs.Get(0)
	defer func() { pnetBufs.Put(pbuf) }()
	crops := cropBufs.Get(0)
	defer func() { cropBufs.Put(crops) }()
	transposed := gocv.NewMat()
	defer transposed.Close()
	for _, s := range st.Scales {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		hs, ws := ScaledSize(h, w, s)
		var level gocv.Mat
		if p.ChainPyramid {
			// Resize from the smallest level made so far that is at
			// least twice the target (else the image): about a 2:1
			// area reduction each time, as in a classic pyramid.
			src := cont
			for i := len(levels) - 1; i >= 0; i-- {
				if levels[i].Cols() >= 2*ws && levels[i].Rows() >= 2*hs {
					src = levels[i]
					break
				}
			}
			level = gocv.NewMat()
			ResizeArea(src, &level, ws, hs)
			levels = append(levels, level)
		} else {
			ResizeArea(cont, &resized, ws, hs)
			level = resized
		}
		in := models.Tensor{Shape: []int64{1, int64(ws), int64(hs), 3}, Data: floats(&pbuf, ws*hs*3)}
		if err := pnetInput(in.Data, level, &transposed); err != nil {
			return nil, st, err
		}
		out, err := nets.P.Run(in)
		if err != nil {
			return nil, st, fmt.Errorf("mtcnn: P-Net at scale %.4f: %w", s, err)
		}
		if len(out) < 2 || len(out[1].Shape) != 4 {
			return nil, st, fmt.Errorf("mtcnn: P-Net returned %d outputs", len(out))
		}
		reg, prob := out[0], out[1]
		wm, hm := int(prob.Shape[1]), int(prob.Shape[2])
		boxes := GenerateBoxes(prob.Data, reg.Data, hm, wm, s, p.Thresholds[0])
		if len(boxes) > 0 {
			total = append(total, Select(boxes, NMS(boxes, 0.5, Union))...)
		}
	}
	st.PNetCandidates = len(total)
	total = narrow(total, p.MaxRNet, func(c *Candidate) {
		ApplyRegNoPlus1(c)
		c.Reg = [4]float64{}
		Rerec(c)
		Fix(c)
	})
	st.AfterPNet = len(total)
	st.PNet = clock.Since(t0)
	if len(total) == 0 {
		return nil, st, nil
	}

	// Stage 2: R-Net on 24×24 crops.
	var hv *halves
	if p.Uint8Crops {
		hv = &halves{}
		defer hv.close()
	}
	t0 = clock.Now()
	total = validPatches(total, w, h)
	crop := func(size int) func([]Candidate) (models.Tensor, error) {
		return func(batch []Candidate) (models.Tensor, error) {
			return cropTensor(cont, pix, w, h, batch, size, p.Uint8Crops, hv, &crops)
		}
	}
	var kept []Candidate
	err = runBatches(ctx, nets.R, "R-Net", 2, total, rBatch, crop(24), func(batch []Candidate, out []models.Tensor) {
		reg, prob := out[0].Data, out[1].Data
		for i, b := range batch {
			if sc := prob[i*2+1]; sc > p.Thresholds[1] {
				b.Score = float64(sc)
				b.Reg = regAt(reg, i)
				kept = append(kept, b)
			}
		}
	})
	if err != nil {
		return nil, st, err
	}
	kept = narrow(kept, p.MaxONet, func(c *Candidate) {
		BBReg(c)
		Rerec(c)
	})
	st.AfterRNet = len(kept)
	st.RNet = clock.Since(t0)
	if len(kept) == 0 {
		return nil, st, nil
	}

	// Stage 3: O-Net on 48×48 crops.
	t0 = clock.Now()
	for i := range kept {
		Fix(&kept[i])
	}
	kept = validPatches(kept, w, h)
	var faces []Candidate
	var marks [][10]float64
	err = runBatches(ctx, nets.O, "O-Net", 3, kept, oBatch, crop(48), func(batch []Candidate, out []models.Tensor) {
		reg, lm, prob := out[0].Data, out[1].Data, out[2].Data
		for i, b := range batch {
			sc := prob[i*2+1]
			if sc <= p.Thresholds[2] {
				continue
			}
			b.Score = float64(sc)
			b.Reg = regAt(reg, i)
			bw, bh := b.X2-b.X1+1, b.Y2-b.Y1+1
			var m [10]float64
			for k := 0; k < 5; k++ {
				m[k] = bw*float64(lm[i*10+k]) + b.X1 - 1
				m[k+5] = bh*float64(lm[i*10+k+5]) + b.Y1 - 1
			}
			faces = append(faces, b)
			marks = append(marks, m)
		}
	})
	if err != nil {
		return nil, st, err
	}
	for i := range faces {
		BBReg(&faces[i])
	}
	pick := NMS(faces, 0.7, Min)
	res := make([]Face, len(pick))
	for k, i := range pick {
		f := faces[i]
		res[k] = Face{X1: f.X1, Y1: f.Y1, X2: f.X2, Y2: f.Y2, Score: f.Score, Landmarks: marks[i]}
	}
	st.Final = len(res)
	st.ONet = clock.Since(t0)
	return res, st, nil
}

// RNetBatch and ONetBatch are the default R-/O-Net batch sizes: ONNX
// Runtime's cost per crop grows with the batch once its activations
// leave the cache (single thread, per crop: O-Net 0.30 ms at 8, 0.40 at
// 64, 0.43 at 128-256; R-Net 0.047 ms at 32, 0.055 at 256), and each
// crop's outputs do not depend on the batch it is in (bit for bit, see
// TestBatchInvariant).
const (
	RNetBatch = 32
	ONetBatch = 8
)

// pnetBufs and cropBufs keep the P-Net inputs (sized by the largest
// pyramid level) and the R-/O-Net crop batches for the next detection.
var pnetBufs, cropBufs models.FreeList[float32]

// patchBufs keeps cropTensor's float64 zero-padded patches (megabytes for
// large boxes at the image's border).
var patchBufs models.FreeList[float64]

// floats returns (*b)[:n], replacing *b by a larger slice when needed. The
// values are whatever the buffer held: callers overwrite all of them.
func floats(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// pnetInput writes P-Net's input for the BGR image level into dst: the
// image transposed ([x][y][RGB]), each value v as (v − 127.5)·0.0078125.
// OpenCV transposes the 8-bit image into tr (a scratch Mat, reused), so
// that the float values are then written in order (writing them
// transposed from Go, one cache line per value, took several times
// longer).
func pnetInput(dst []float32, level gocv.Mat, tr *gocv.Mat) error {
	gocv.Transpose(level, tr)
	px, err := tr.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("mtcnn: P-Net input: %w", err)
	}
	if len(px) != len(dst) {
		return fmt.Errorf("mtcnn: P-Net input: %d bytes for %d values", len(px), len(dst))
	}
	for i := 0; i+2 < len(px); i += 3 {
		dst[i] = (float32(px[i+2]) - 127.5) * 0.0078125
		dst[i+1] = (float32(px[i+1]) - 127.5) * 0.0078125
		dst[i+2] = (float32(px[i]) - 127.5) * 0.0078125
	}
	return nil
}

// narrow ends the P-Net and R-Net stages: it keeps the candidates that
// survive NMS at IoU 0.7 (union), applies the stage's box adjustment
// to each, then keeps the best keep of them (keep ≤ 0: all).
func narrow(cs []Candidate, keep int, adjust func(*Candidate)) []Candidate {
	if len(cs) > 0 {
		cs = Select(cs, NMS(cs, 0.7, Union))
		for i := range cs {
			adjust(&cs[i])
		}
	}
	if keep > 0 && len(cs) > keep {
		cs = cs[:keep]
	}
	return cs
}

// runBatches runs net on the crops of boxes, at most maxBatch at a time,
// and hands each batch with the net's outputs (at least nOut of them) to
// use. It stops at the first error: the context's, the crop's, or the
// net's (then named by name).
func runBatches(ctx context.Context, net Runner, name string, nOut int, boxes []Candidate, maxBatch int,
	crop func([]Candidate) (models.Tensor, error), use func(batch []Candidate, out []models.Tensor)) error {
	for start := 0; start < len(boxes); start += maxBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := boxes[start:min(len(boxes), start+maxBatch)]
		in, err := crop(batch)
		if err != nil {
			return err
		}
		out, err := net.Run(in)
		if err != nil {
			return fmt.Errorf("mtcnn: %s: %w", name, err)
		}
		if len(out) < nOut {
			return fmt.Errorf("mtcnn: %s returned %d outputs", name, len(out))
		}
		use(batch, out)
	}
	return nil
}

// regAt is the i-th box regression [dx1, dy1, dx2, dy2] of an R-/O-Net
// output.
func regAt(reg []float32, i int) [4]float64 {
	return [4]float64{float64(reg[i*4]), float64(reg[i*4+1]), float64(reg[i*4+2]), float64(reg[i*4+3])}
}

// halves is the detection image halved again and again (exact 2:1 area
// reductions, OpenCV's fast path), made on demand: large 8-bit crops are
// cut from the smallest of them where the box still has twice the
// network's input size, instead of area-resizing hundreds of thousands of
// pixels per box.
type halves struct{ m []gocv.Mat }

// at returns the image reduced by 2^l (l ≥ 1).
func (hv *halves) at(img gocv.Mat, l int) gocv.Mat {
	for len(hv.m) < l {
		last := img
		if len(hv.m) > 0 {
			last = hv.m[len(hv.m)-1]
		}
		half := gocv.NewMat()
		gocv.Resize(last, &half, image.Pt(0, 0), 0.5, 0.5, gocv.InterpolationArea)
		hv.m = append(hv.m, half)
	}
	return hv.m[l-1]
}

func (hv *halves) close() {
	for _, m := range hv.m {
		m.Close()
	}
}

// validPatches drops boxes whose padded crop would be empty or inconsistent
// (the seed would raise on them).
func validPatches(bs []Candidate, w, h int) []Candidate {
	out := bs[:0:0]
	for _, b := range bs {
		if Pad(b, w, h).Valid() {
			out = append(out, b)
		}
	}
	return out
}

// cropTensor cuts each box out of the BGR image img (w×h, its bytes pix)
// with zero padding as float64, resizes it to size×size with INTER_AREA
// (float, not rounded), normalises and writes it transposed
// ([n][x][y][RGB]) into a tensor. With u8, boxes inside the image are
// resized from img in 8 bits instead. The tensor's data is *data, grown
// when needed (a new slice when data is nil); every value is written.
func cropTensor(img gocv.Mat, pix []uint8, w, h int, boxes []Candidate, size int, u8 bool, hv *halves, data *[]float32) (models.Tensor, error) {
	n := len(boxes)
	if data == nil {
		data = new([]float32)
	}
	t := models.Tensor{Shape: []int64{int64(n), int64(size), int64(size), 3}, Data: floats(data, n*size*size*3)}
	dst := gocv.NewMat()
	defer dst.Close()
	small := make([]byte, size*size*3)
	buf := patchBufs.Get(0) // one patch buffer for all boxes, kept for the next call
	defer func() { patchBufs.Put(buf) }()
	for k, b := range boxes {
		pt := Pad(b, w, h)
		base := k * size * size * 3
		if u8 && pt.DX == 1 && pt.DY == 1 && pt.EDX == pt.TmpW && pt.EDY == pt.TmpH {
			// Inside the image: 1-based x1..x2 are 0-based X-1..EX-1.
			r := image.Rect(pt.X-1, pt.Y-1, pt.EX, pt.EY)
			src, l := img, 0
			if hv != nil {
				// Cut from the image halved l times where the box keeps
				// ≥ 2·size pixels (its corners rounded outwards there).
				for min(r.Dx(), r.Dy())>>(l+1) >= 2*size {
					l++
				}
				if l > 0 {
					src = hv.at(img, l)
					d := 1 << l
					r = image.Rect(r.Min.X/d, r.Min.Y/d, (r.Max.X+d-1)/d, (r.Max.Y+d-1)/d).Intersect(image.Rect(0, 0, src.Cols(), src.Rows()))
				}
			}
			// From img itself, straight from its bytes when areaBytes
			// computes the resize (no cgo round trips through OpenCV).
			v := small
			if l > 0 || !areaBytes(pix[(r.Min.Y*w+r.Min.X)*3:], w*3, r.Dx(), r.Dy(), small, size, size) {
				reg := src.Region(r)
				gocv.Resize(reg, &dst, image.Pt(size, size), 0, 0, gocv.InterpolationArea)
				reg.Close()
				var err error
				if v, err = dst.DataPtrUint8(); err != nil {
					return t, fmt.Errorf("mtcnn: crop: %w", err)
				}
			}
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					s := (y*size + x) * 3
					o := base + (x*size+y)*3
					t.Data[o] = (float32(v[s+2]) - 127.5) * 0.0078125
					t.Data[o+1] = (float32(v[s+1]) - 127.5) * 0.0078125
					t.Data[o+2] = (float32(v[s]) - 127.5) * 0.0078125
				}
			}
			continue
		}
		n := pt.TmpH * pt.TmpW * 3
		if cap(buf) < n {
			buf = make([]float64, n)
		}
		tmp := buf[:n]
		clear(tmp)
		cw := pt.EX - pt.X + 1
		for y := pt.Y - 1; y < pt.EY; y++ {
			ty := pt.DY - 1 + (y - (pt.Y - 1))
			src := pix[(y*w+pt.X-1)*3 : (y*w+pt.X-1+cw)*3]
			row := tmp[(ty*pt.TmpW+pt.DX-1)*3:]
			for i, v := range src {
				row[i] = float64(v)
			}
		}
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&tmp[0])), len(tmp)*8)
		src, err := gocv.NewMatFromBytes(pt.TmpH, pt.TmpW, gocv.MatTypeCV64FC3, raw)
		if err != nil {
			return t, fmt.Errorf("mtcnn: crop: %w", err)
		}
		gocv.Resize(src, &dst, image.Pt(size, size), 0, 0, gocv.InterpolationArea)
		src.Close()
		v, err := dst.DataPtrFloat64()
		if err != nil {
			return t, fmt.Errorf("mtcnn: crop: %w", err)
		}
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				s := (y*size + x) * 3
				o := base + (x*size+y)*3
				t.Data[o] = float32((v[s+2] - 127.5) * 0.0078125)
				t.Data[o+1] = float32((v[s+1] - 127.5) * 0.0078125)
				t.Data[o+2] = float32((v[s] - 127.5) * 0.0078125)
			}
		}
	}
	return t, nil
}
