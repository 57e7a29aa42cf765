package index

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/faced/faced/internal/quant"
)

// Precision is how a Matrix stores feature vectors in memory.
//
// 1 000 000 faces × 1024 features take 4 GiB as float32, 2 GiB as float16
// and 1 GiB as int8 (plus 4 MB of row scales). For L2-normalised vectors the
// int8 copy (symmetric, one scale per row: max|x|/127) changes a dot product
// by about 1e-3 (TestMatrixPrecision measures it), far below the gaps
// between clustering thresholds, so Int8 is the default for clustering;
// Float16 is there for callers that want more headroom.
type Precision uint8

// Precisions.
const (
	Float32 Precision = iota
	Float16
	Int8
)

func (p Precision) String() string {
	switch p {
	case Float32:
		return "float32"
	case Float16:
		return "float16"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// Matrix is a compact, contiguous, append-only set of equal-length feature
// vectors. It is not safe for concurrent Append; concurrent reads are fine.
type Matrix struct {
	prec  Precision
	dim   int
	n     int
	f32   []float32
	f16   []uint16
	i8    []int8
	scale []float32
}

// NewMatrix returns an empty matrix of dim-dimensional rows with room for
// capacity rows.
func NewMatrix(p Precision, dim, capacity int) *Matrix {
	m := &Matrix{prec: p, dim: dim}
	switch p {
	case Float16:
		m.f16 = make([]uint16, 0, dim*capacity)
	case Int8:
		m.i8 = make([]int8, 0, dim*capacity)
		m.scale = make([]float32, 0, capacity)
	default:
		m.prec = Float32
		m.f32 = make([]float32, 0, dim*capacity)
	}
	return m
}

// Len is the number of rows.
func (m *Matrix) Len() int { return m.n }

// Dim is the row length.
func (m *Matrix) Dim() int { return m.dim }

// Precision is the storage precision.
func (m *Matrix) Precision() Precision { return m.prec }

// Bytes is the memory the rows take.
func (m *Matrix) Bytes() int {
	return 4*cap(m.f32) + 2*cap(m.f16) + cap(m.i8) + 4*cap(m.scale)
}

// Append adds v as the last row.
func (m *Matrix) Append(v []float32) error {
	if len(v) != m.dim {
		return fmt.Errorf("%w: feature vector of %d values in a matrix of %d", ErrInvalid, len(v), m.dim)
	}
	switch m.prec {
	case Float32:
		m.f32 = append(m.f32, v...)
	case Float16:
		o := len(m.f16)
		m.f16 = slices.Grow(m.f16, m.dim)[:o+m.dim]
		dst := m.f16[o:]
		for k, x := range v {
			b := math.Float32bits(x)
			if (b>>23)&0xff-113 < 30 { // normal half: f32ToF16's fast path, inlined
				dst[k] = uint16(b>>16)&0x8000 | uint16((b&0x7fffffff-112<<23+0xfff+(b>>13)&1)>>13)
			} else {
				dst[k] = f32ToF16(x)
			}
		}
	case Int8:
		o := len(m.i8)
		m.i8 = slices.Grow(m.i8, m.dim)[:o+m.dim]
		s := quant.Int8(m.i8[o:], v)
		m.scale = append(m.scale, s)
	}
	m.n++
	return nil
}

// Row decodes row i into dst (grown as needed) and returns it.
func (m *Matrix) Row(i int, dst []float32) []float32 {
	if cap(dst) < m.dim {
		dst = make([]float32, m.dim)
	}
	dst = dst[:m.dim]
	o := i * m.dim
	switch m.prec {
	case Float32:
		copy(dst, m.f32[o:o+m.dim])
	case Float16:
		t := f16Table()
		for k, h := range m.f16[o : o+m.dim] {
			dst[k] = t[h]
		}
	case Int8:
		s := m.scale[i]
		for k, q := range m.i8[o : o+m.dim] {
			dst[k] = float32(q) * s
		}
	}
	return dst
}

// Dot returns the dot product of row i and q (len(q) must be Dim()).
func (m *Matrix) Dot(i int, q []float32) float32 {
	o := i * m.dim
	q = q[:m.dim]
	var sum float32
	switch m.prec {
	case Float32:
		for k, x := range m.f32[o : o+m.dim] {
			sum += x * q[k]
		}
	case Float16:
		t := f16Table()
		for k, h := range m.f16[o : o+m.dim] {
			sum += t[h] * q[k]
		}
	case Int8:
		for k, x := range m.i8[o : o+m.dim] {
			sum += float32(x) * q[k]
		}
		sum *= m.scale[i]
	}
	return sum
}

// f32ToF16 converts to IEEE 754 binary16, rounding to nearest even.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	e := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if e == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	exp := e - 127 + 15
	if exp >= 1 && exp <= 30 {
		// Normal half: round to nearest even by adding just under half an
		// ulp plus the lowest kept bit; a carry into the exponent (up to
		// Inf) is the correct result.
		r := (b&0x7fffffff - 112<<23 + 0xfff + (b>>13)&1) >> 13
		return sign | uint16(r)
	}
	if exp >= 31 {
		return sign | 0x7c00
	}
	// Subnormal half (or zero).
	if exp < -10 {
		return sign
	}
	mant |= 0x800000
	shift := uint(14 - exp)
	h := mant >> shift
	rem := mant & (1<<shift - 1)
	mid := uint32(1) << (shift - 1)
	if rem > mid || (rem == mid && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | mant<<13)
}

var f16Table = sync.OnceValue(func() *[65536]float32 {
	var t [65536]float32
	for i := range t {
		t[i] = f16ToF32(uint16(i))
	}
	return &t
})

// FaceMeta is the per-face data clustering needs, without the vector.
type FaceMeta struct {
	ID          int64  `json:"id"`
	FileID      int64  `json:"file_id"`
	PersonID    int64  `json:"person_id,omitempty"`
	Source      Source `json:"source,omitempty"`
	ForgottenBy int64  `json:"forgotten_by,omitempty"`
	// CaptureTime is Unix seconds of the file's capture time (mtime when
	// unknown).
	CaptureTime int64   `json:"capture_time"`
	Age         float32 `json:"age"`
	MaleProb    float32 `json:"male_prob"`
	BirthYear   float32 `json:"birth_year,omitempty"` // 0: unknown
	Score       float32 `json:"score"`
	// Box is the upright box X1, Y1, X2, Y2.
	Box [4]float32 `json:"box"`
}

// FaceSet is a compact in-memory copy of many faces: Faces[i] belongs to
// Features row i.
type FaceSet struct {
	Faces    []FaceMeta
	Features *Matrix
	// Rev is the change revision of the snapshot: FaceChanges(Rev) returns
	// what changed after the load.
	Rev int64
}

// LoadFaceSet loads the faces selected by q (q.NoFeatures is ignored) into a
// compact FaceSet with features stored at precision p, from one snapshot.
// All selected faces must have the same feature length (select one model
// with q.Model when the index holds several).
func (ix *Index) LoadFaceSet(ctx context.Context, q FaceQuery, p Precision) (*FaceSet, error) {
	tx, err := ix.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("load faces: %w", err)
	}
	defer tx.Rollback()
	// Count without touching features, to size the matrix exactly.
	q.NoFeatures = true
	s, args := q.sql()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+s+`) AS f`, args...).Scan(&n); err != nil {
		return nil, fmt.Errorf("load faces: %w", err)
	}
	fs := &FaceSet{Faces: make([]FaceMeta, 0, n), Features: NewMatrix(p, 0, 0)}
	if err := tx.QueryRowContext(ctx, `SELECT rev FROM change_seq WHERE id = 1`).Scan(&fs.Rev); err != nil {
		return nil, fmt.Errorf("load faces: %w", err)
	}
	q.NoFeatures = false
	s, args = q.sql()
	// A narrower query than FaceRecord's: no path, landmarks or stored box.
	s = `SELECT f.id, f.file_id, COALESCE(a.person_id, 0), COALESCE(a.source, ''), COALESCE(f.forgotten_by, 0),
		COALESCE(fi.capture_time, fi.mtime), f.age, f.male_prob, COALESCE(f.birth_year, 0), f.score,
		f.x1, f.y1, f.x2, f.y2, ff.features ` + s[strings.Index(s, "FROM faces f"):]
	rows, err := tx.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, fmt.Errorf("load faces: %w", err)
	}
	defer rows.Close()
	var vec []float32
	for rows.Next() {
		var m FaceMeta
		var src string
		var capt int64
		var age, male, by, score, x1, y1, x2, y2 float64
		var blob sql.RawBytes
		if err := rows.Scan(&m.ID, &m.FileID, &m.PersonID, &src, &m.ForgottenBy, &capt, &age, &male, &by, &score,
			&x1, &y1, &x2, &y2, &blob); err != nil {
			return nil, fmt.Errorf("load faces: %w", err)
		}
		if vec, err = decodeFeatures(vec, blob); err != nil {
			return nil, fmt.Errorf("load faces: face #%d: %w", m.ID, err)
		}
		if len(fs.Faces) == 0 {
			fs.Features = NewMatrix(p, len(vec), n)
		}
		if err := fs.Features.Append(vec); err != nil {
			return nil, fmt.Errorf("load faces: face #%d: %w (select one model with FaceQuery.Model)", m.ID, err)
		}
		m.Source = Source(src)
		m.CaptureTime = capt / 1e9
		m.Age, m.MaleProb, m.BirthYear, m.Score = float32(age), float32(male), float32(by), float32(score)
		m.Box = [4]float32{float32(x1), float32(y1), float32(x2), float32(y2)}
		fs.Faces = append(fs.Faces, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load faces: %w", err)
	}
	return fs, nil
}
