package index

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"

	"modernc.org/sqlite"
)

// Per-person sums of identity features (schema 0009): triggers on
// assignments and face_features add a face's vector to its person's sum or
// take it away, through the SQL functions below, so that a person's mean
// vector is one row away instead of a read of every face. Sums are float64
// (little-endian), one row per person and feature length (vectors of
// different models are never added together).

func init() {
	// faced_vec_add(sum, features, sign): sum (float64 blob, NULL: zeros)
	// plus sign times features (float32 blob, NULL: nothing).
	sqlite.MustRegisterDeterministicScalarFunction("faced_vec_add", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		sum, _ := args[0].([]byte)
		feat, _ := args[1].([]byte)
		sign, _ := args[2].(int64)
		if feat == nil {
			return args[0], nil
		}
		if len(feat)%4 != 0 || (sum != nil && len(sum) != 2*len(feat)) {
			return nil, fmt.Errorf("faced_vec_add: sum of %d bytes, features of %d", len(sum), len(feat))
		}
		out := make([]byte, 2*len(feat))
		copy(out, sum)
		for i := 0; i < len(feat)/4; i++ {
			s := math.Float64frombits(binary.LittleEndian.Uint64(out[8*i:]))
			s += float64(sign) * float64(math.Float32frombits(binary.LittleEndian.Uint32(feat[4*i:])))
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(s))
		}
		return out, nil
	})
	// faced_vec_sum(features): the float64 sum of float32 blobs (the
	// migration's first fill).
	sqlite.MustRegisterFunction("faced_vec_sum", &sqlite.FunctionImpl{NArgs: 1, Deterministic: true,
		MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) { return &vecSum{}, nil }})
}

type vecSum struct{ sum []float64 }

func (v *vecSum) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	feat, _ := args[0].([]byte)
	if feat == nil {
		return nil
	}
	if v.sum == nil {
		v.sum = make([]float64, len(feat)/4)
	}
	if len(feat) != 4*len(v.sum) {
		return fmt.Errorf("faced_vec_sum: features of %d bytes after %d", len(feat), 4*len(v.sum))
	}
	for i := range v.sum {
		v.sum[i] += float64(math.Float32frombits(binary.LittleEndian.Uint32(feat[4*i:])))
	}
	return nil
}

func (v *vecSum) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return fmt.Errorf("faced_vec_sum: not a window function")
}

func (v *vecSum) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	if v.sum == nil {
		return nil, nil
	}
	out := make([]byte, 8*len(v.sum))
	for i, s := range v.sum {
		binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(s))
	}
	return out, nil
}

func (v *vecSum) Final(*sqlite.FunctionContext) {}

// Centroid is a person's mean identity vector.
type Centroid struct {
	PersonID int64
	// Faces is the number of the person's faces with features.
	Faces int
	// Mean is the mean of their vectors, scaled to unit length.
	Mean []float32
}

// qCentroids walks person_centroids_size (dim, size order) and reads the
// sums of the rows it keeps only.
const qCentroids = `SELECT c.person_id, c.n, c.sum FROM person_centroids c
	JOIN persons p ON p.id = c.person_id
	WHERE c.dim = (SELECT dim FROM person_centroids GROUP BY dim ORDER BY SUM(n) DESC LIMIT 1)
	AND c.n > 0 AND p.opt_out = 0 AND p.merged_into IS NULL
	ORDER BY c.n DESC, c.person_id LIMIT ?`

// Centroids returns the mean vectors of the active persons with the most
// faces (up to limit; 0: all), of the feature length most faces have, most
// faces first. It reads one row per person, never the faces.
func (ix *Index) Centroids(ctx context.Context, limit int) ([]Centroid, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := ix.rd().QueryContext(ctx, qCentroids, limit)
	if err != nil {
		return nil, fmt.Errorf("person centroids: %w", err)
	}
	defer rows.Close()
	var out []Centroid
	for rows.Next() {
		var c Centroid
		var b []byte
		if err := rows.Scan(&c.PersonID, &c.Faces, &b); err != nil {
			return nil, fmt.Errorf("person centroids: %w", err)
		}
		c.Mean = make([]float32, len(b)/8)
		var n float64
		for i := range c.Mean {
			x := math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			n += x * x
		}
		n = math.Sqrt(n)
		if n == 0 {
			continue
		}
		for i := range c.Mean {
			c.Mean[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])) / n)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
