package index

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

func TestFloat16Conversion(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},                             // largest half
		{65520, 0x7c00},                             // rounds up to +Inf
		{float32(math.Inf(1)), 0x7c00},              // +Inf
		{float32(math.Ldexp(1, -24)), 0x0001},       // smallest subnormal
		{float32(math.Ldexp(1, -14)), 0x0400},       // smallest normal
		{float32(math.Ldexp(1, -26)), 0x0000},       // underflows
		{1 + float32(math.Ldexp(1, -11)), 0x3c00},   // tie to even: down
		{1 + 3*float32(math.Ldexp(1, -11)), 0x3c02}, // tie to even: up
		{0.1, 0x2e66},
	}
	for _, tc := range tests {
		if got := f32ToF16(tc.in); got != tc.want {
			t.Errorf("f32ToF16(%v) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	// The matrix's inlined fast path agrees with f32ToF16 everywhere.
	var in []float32
	for _, tc := range tests {
		in = append(in, tc.in, -tc.in)
	}
	for i := range 4000 {
		in = append(in, float32(math.Ldexp(1+float64(i)/4000, i%60-30)))
	}
	m := NewMatrix(Float16, len(in), 1)
	if err := m.Append(in); err != nil {
		t.Fatal(err)
	}
	for k, v := range m.Row(0, nil) {
		if want := f16ToF32(f32ToF16(in[k])); v != want && !math.IsNaN(float64(v)) {
			t.Fatalf("matrix float16 of %v = %v, want %v", in[k], v, want)
		}
	}
	// Every finite half converts back to itself.
	for h := range 0x10000 {
		v := f16ToF32(uint16(h))
		if math.IsNaN(float64(v)) {
			continue
		}
		if back := f32ToF16(v); back != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, v, back)
		}
	}
}

// TestMatrixPrecision measures how far compact copies move dot products of
// L2-normalised 1024-d vectors (the model's features).
func TestMatrixPrecision(t *testing.T) {
	const n, dim = 200, 1024
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = unitVec(uint64(i), dim)
	}
	for _, tc := range []struct {
		p      Precision
		maxErr float64
		bytes  int
	}{{Float32, 1e-5, 4 * n * dim}, {Float16, 2e-4, 2 * n * dim}, {Int8, 5e-3, n*dim + 4*n}} {
		m := NewMatrix(tc.p, dim, n)
		for _, r := range rows {
			if err := m.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		if m.Len() != n || m.Bytes() != tc.bytes {
			t.Fatalf("%s: len %d bytes %d, want %d %d", tc.p, m.Len(), m.Bytes(), n, tc.bytes)
		}
		var worst float64
		for i := range n {
			for j := range n {
				var exact float64
				for k := range dim {
					exact += float64(rows[i][k]) * float64(rows[j][k])
				}
				worst = math.Max(worst, math.Abs(float64(m.Dot(i, rows[j]))-exact))
			}
		}
		back := m.Row(7, nil)
		var rowErr float64
		for k := range dim {
			rowErr = math.Max(rowErr, math.Abs(float64(back[k]-rows[7][k])))
		}
		t.Logf("%s: max |dot error| %.2g over %d pairs, max |value error| %.2g, %d bytes/face",
			tc.p, worst, n*n, rowErr, m.Bytes()/n)
		if worst > tc.maxErr {
			t.Errorf("%s: dot error %g > %g", tc.p, worst, tc.maxErr)
		}
	}
	m := NewMatrix(Int8, 4, 1)
	if err := m.Append([]float32{1, 2}); err == nil {
		t.Error("appended a 2-vector to a 4-d matrix")
	}
	if err := m.Append([]float32{0, 0, 0, 0}); err != nil || m.Dot(0, []float32{1, 1, 1, 1}) != 0 {
		t.Error("zero vector")
	}
}

func TestLoadFaceSet(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	p, _ := ix.CreatePerson(ctx, Person{})
	var all []int64
	for i := range 5 {
		f := mkFace(0, 0, 100, uint64(i))
		f.Age = float64(10 + i)
		_, ids := addFile(t, ix, "/p/"+string(rune('a'+i))+".jpg", f)
		all = append(all, ids...)
	}
	ix.AssignFaces(ctx, map[int64]int64{all[1]: p, all[3]: p}, SourceUser)
	for _, prec := range []Precision{Float32, Float16, Int8} {
		fs, err := ix.LoadFaceSet(ctx, FaceQuery{}, prec)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs.Faces) != 5 || fs.Features.Len() != 5 || fs.Features.Dim() != 16 {
			t.Fatalf("%s: %d faces, %d rows of %d", prec, len(fs.Faces), fs.Features.Len(), fs.Features.Dim())
		}
		for i, m := range fs.Faces {
			want := unitVec(uint64(i), 16)
			if m.ID != all[i] || m.Age != float32(10+i) || m.BirthYear != float32(2020.5-float64(10+i)) {
				t.Fatalf("%s: meta %+v", prec, m)
			}
			if d := fs.Features.Dot(i, want); math.Abs(float64(d)-1) > 0.01 {
				t.Fatalf("%s: self dot %v", prec, d)
			}
			if (m.PersonID == p) != (i == 1 || i == 3) || (m.PersonID == p && m.Source != SourceUser) {
				t.Fatalf("%s: face %d person %d", prec, i, m.PersonID)
			}
			if m.CaptureTime != time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC).Unix() {
				t.Fatalf("capture %d", m.CaptureTime)
			}
		}
	}
	byPerson, err := ix.LoadFaceSet(ctx, FaceQuery{PersonID: p}, Int8)
	if err != nil || len(byPerson.Faces) != 2 {
		t.Fatalf("by person: %v", err)
	}
	un, _ := ix.LoadFaceSet(ctx, FaceQuery{Unassigned: true}, Int8)
	if len(un.Faces) != 3 {
		t.Fatalf("unassigned: %d faces", len(un.Faces))
	}
	// Mixed feature lengths need a model filter.
	id, _ := ix.UpsertFile(ctx, File{Path: "/p/other.jpg"})
	g := mkFace(0, 0, 10, 99)
	g.Features = unitVec(1, 32)
	ix.ReplaceFaces(ctx, id, []face.Face{g}, "other-model")
	if _, err := ix.LoadFaceSet(ctx, FaceQuery{}, Int8); err == nil {
		t.Fatal("loaded features of mixed lengths")
	}
	if fs, err := ix.LoadFaceSet(ctx, FaceQuery{Model: "test-model"}, Int8); err != nil || len(fs.Faces) != 5 {
		t.Fatalf("model filter: %v", err)
	}
	empty, err := ix.LoadFaceSet(ctx, FaceQuery{PersonID: 12345}, Int8)
	if err != nil || len(empty.Faces) != 0 {
		t.Fatalf("empty set: %v", err)
	}
}

func TestAgeSamples(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	p, _ := ix.CreatePerson(ctx, Person{Name: "Kid", NameSource: SourceUser})
	q, _ := ix.CreatePerson(ctx, Person{})
	_, a := addFile(t, ix, "/p/a.jpg", mkFace(0, 0, 100, 1)) // captured 2020-06-01 (exif)
	idB, err := ix.UpsertFile(ctx, File{Path: "/p/b.jpg", ModTime: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ix.ReplaceFaces(ctx, idB, []face.Face{mkFace(0, 0, 100, 2)}, "m") // undated: mtime only
	_, c := addFile(t, ix, "/p/c.jpg", mkFace(0, 0, 100, 3))
	ix.AssignFaces(ctx, map[int64]int64{a[0]: p, b[0]: p, c[0]: q}, SourceUser)
	ix.SetBirthYear(ctx, p, 2015, SourceUser)
	ix.SetBirthYear(ctx, q, 1980, SourceAuto) // a model guess: not a label
	n, err := ix.RefreshAgeSamples(ctx)
	if err != nil || n != 1 {
		t.Fatalf("refresh: %d samples, %v; want 1", n, err)
	}
	s, _ := ix.AgeSamples(ctx)
	// 2020-06-01 is day 153: 2020 + 152/365.25 - 2015.5.
	want := 2020 + 152/365.25 - 2015.5
	if len(s) != 1 || s[0].FaceID != a[0] || math.Abs(s[0].Age-want) > 1e-9 || s[0].PredictedAge != 30 || s[0].Path != "/p/a.jpg" {
		t.Fatalf("samples %+v, want age %v", s, want)
	}
	if err := ix.Forget(ctx, p); err != nil {
		t.Fatal(err)
	}
	if s, _ := ix.AgeSamples(ctx); len(s) != 0 {
		t.Fatal("samples of a forgotten person remain")
	}
}
