package models

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorFlow DataType enum values used by the seed graphs.
const (
	tfFloat  = 1
	tfInt32  = 3
	tfUint8  = 4
	tfInt64  = 9
	tfQuint8 = 12
)

// tfGraph is the part of a TensorFlow GraphDef the converter needs.
type tfGraph struct {
	Nodes  []*tfNode
	byName map[string]*tfNode
}

// tfNode is one NodeDef.
type tfNode struct {
	Name   string
	Op     string
	Inputs []string
	Attrs  map[string]*tfAttr
}

// tfAttr is one AttrValue (only the variants the seed graphs use).
type tfAttr struct {
	S      []byte
	I      int64
	F      float32
	B      bool
	Type   int
	Shape  []int64
	Tensor *tfTensor
	ListI  []int64
	IsList bool
}

// tfTensor is a decoded TensorProto.
type tfTensor struct {
	DType   int
	Shape   []int64
	Content []byte
	Floats  []float32
	Ints    []int64 // int_val / int64_val
}

var errTruncated = errors.New("truncated protobuf")

// parseGraphDef decodes a binary GraphDef.
func parseGraphDef(b []byte) (*tfGraph, error) {
	g := &tfGraph{byName: map[string]*tfNode{}}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == 1 && typ == protowire.BytesType {
			n, err := parseNodeDef(v)
			if err != nil {
				return err
			}
			if _, dup := g.byName[n.Name]; dup {
				return fmt.Errorf("duplicate node name %q", n.Name)
			}
			g.Nodes = append(g.Nodes, n)
			g.byName[n.Name] = n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("GraphDef: %w", err)
	}
	if len(g.Nodes) == 0 {
		return nil, errors.New("GraphDef: no nodes (not a TensorFlow frozen graph?)")
	}
	return g, nil
}

// walk iterates over the fields of a message. For varint/fixed fields v is
// nil and x holds the value; for bytes fields v holds the payload.
func walk(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func parseNodeDef(b []byte) (*tfNode, error) {
	n := &tfNode{Attrs: map[string]*tfAttr{}}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case 1:
			n.Name = string(v)
		case 2:
			n.Op = string(v)
		case 3:
			n.Inputs = append(n.Inputs, string(v))
		case 5:
			var key string
			var val *tfAttr
			err := walk(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
				switch num {
				case 1:
					key = string(v)
				case 2:
					a, err := parseAttr(v)
					if err != nil {
						return err
					}
					val = a
				}
				return nil
			})
			if err != nil {
				return err
			}
			if val != nil {
				n.Attrs[key] = val
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	return n, nil
}

func parseAttr(b []byte) (*tfAttr, error) {
	a := &tfAttr{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1: // list
			a.IsList = true
			return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				if num == 3 {
					vals, err := varints(typ, v, x)
					if err != nil {
						return err
					}
					for _, u := range vals {
						a.ListI = append(a.ListI, int64(u))
					}
				}
				return nil
			})
		case 2:
			a.S = v
		case 3:
			a.I = int64(x)
		case 4:
			a.F = math.Float32frombits(uint32(x))
		case 5:
			a.B = x != 0
		case 6:
			a.Type = int(x)
		case 7:
			s, err := parseShape(v)
			if err != nil {
				return err
			}
			a.Shape = s
		case 8:
			t, err := parseTensor(v)
			if err != nil {
				return err
			}
			a.Tensor = t
		}
		return nil
	})
	return a, err
}

// varints returns the values of a repeated varint field, packed or not.
func varints(typ protowire.Type, v []byte, x uint64) ([]uint64, error) {
	if typ != protowire.BytesType {
		return []uint64{x}, nil
	}
	var out []uint64
	for len(v) > 0 {
		u, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		out = append(out, u)
		v = v[n:]
	}
	return out, nil
}

func parseShape(b []byte) ([]int64, error) {
	dims := []int64{}
	err := walk(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num == 2 {
			var size int64
			if err := walk(v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) error {
				if num == 1 {
					size = int64(x)
				}
				return nil
			}); err != nil {
				return err
			}
			dims = append(dims, size)
		}
		return nil
	})
	return dims, err
}

func parseTensor(b []byte) (*tfTensor, error) {
	t := &tfTensor{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			t.DType = int(x)
		case 2:
			s, err := parseShape(v)
			if err != nil {
				return err
			}
			t.Shape = s
		case 4:
			t.Content = v
		case 5:
			if typ == protowire.BytesType {
				if len(v)%4 != 0 {
					return errTruncated
				}
				for i := 0; i < len(v); i += 4 {
					t.Floats = append(t.Floats, math.Float32frombits(binary.LittleEndian.Uint32(v[i:])))
				}
			} else {
				t.Floats = append(t.Floats, math.Float32frombits(uint32(x)))
			}
		case 7, 10:
			vals, err := varints(typ, v, x)
			if err != nil {
				return err
			}
			for _, u := range vals {
				if num == 7 {
					t.Ints = append(t.Ints, int64(int32(u)))
				} else {
					t.Ints = append(t.Ints, int64(u))
				}
			}
		}
		return nil
	})
	return t, err
}

// numElements is the product of the shape (1 for a scalar).
func numElements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// float32s returns the tensor's values as float32 (DT_FLOAT only), filling
// short value lists the way TensorFlow does (last value repeated).
func (t *tfTensor) float32s() ([]float32, error) {
	if t.DType != tfFloat {
		return nil, fmt.Errorf("tensor dtype %d is not DT_FLOAT", t.DType)
	}
	n := numElements(t.Shape)
	if len(t.Content) > 0 {
		if len(t.Content) != 4*n {
			return nil, fmt.Errorf("tensor_content has %d bytes, shape %v needs %d", len(t.Content), t.Shape, 4*n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Content[4*i:]))
		}
		return out, nil
	}
	return fill(t.Floats, n)
}

// ints returns an integer tensor's values (DT_INT32 / DT_INT64).
func (t *tfTensor) ints() ([]int64, error) {
	n := numElements(t.Shape)
	switch t.DType {
	case tfInt32, tfInt64:
	default:
		return nil, fmt.Errorf("tensor dtype %d is not an integer type", t.DType)
	}
	if len(t.Content) > 0 {
		w := 4
		if t.DType == tfInt64 {
			w = 8
		}
		if len(t.Content) != w*n {
			return nil, fmt.Errorf("tensor_content has %d bytes, shape %v needs %d", len(t.Content), t.Shape, w*n)
		}
		out := make([]int64, n)
		for i := range out {
			if w == 4 {
				out[i] = int64(int32(binary.LittleEndian.Uint32(t.Content[4*i:])))
			} else {
				out[i] = int64(binary.LittleEndian.Uint64(t.Content[8*i:]))
			}
		}
		return out, nil
	}
	return fill(t.Ints, n)
}

// uint8s returns a DT_QUINT8 / DT_UINT8 tensor's values.
func (t *tfTensor) uint8s() ([]uint8, error) {
	if t.DType != tfQuint8 && t.DType != tfUint8 {
		return nil, fmt.Errorf("tensor dtype %d is not (q)uint8", t.DType)
	}
	n := numElements(t.Shape)
	if len(t.Content) > 0 {
		if len(t.Content) != n {
			return nil, fmt.Errorf("tensor_content has %d bytes, shape %v needs %d", len(t.Content), t.Shape, n)
		}
		return append([]uint8(nil), t.Content...), nil
	}
	vals, err := fill(t.Ints, n)
	if err != nil {
		return nil, err
	}
	out := make([]uint8, n)
	for i, v := range vals {
		out[i] = uint8(v)
	}
	return out, nil
}

func fill[T any](vals []T, n int) ([]T, error) {
	if len(vals) == n {
		return append([]T(nil), vals...), nil
	}
	if len(vals) == 0 || len(vals) > n {
		if n == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("tensor has %d values for %d elements", len(vals), n)
	}
	out := make([]T, n)
	copy(out, vals)
	for i := len(vals); i < n; i++ {
		out[i] = vals[len(vals)-1]
	}
	return out, nil
}
