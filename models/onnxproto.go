package models

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX TensorProto.DataType values.
const (
	onnxFloat = 1
	onnxUint8 = 2
	onnxInt8  = 3
	onnxInt32 = 6
	onnxInt64 = 7
)

// onnxModel is the subset of ModelProto the converter writes.
type onnxModel struct {
	IRVersion int64
	Opset     int64
	Producer  string
	Version   string
	DocString string
	Graph     onnxGraph
	Metadata  [][2]string // ordered key/value pairs
}

type onnxGraph struct {
	Name         string
	Nodes        []onnxNode
	Initializers []onnxTensor
	Inputs       []onnxValueInfo
	Outputs      []onnxValueInfo
}

type onnxNode struct {
	Name    string
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   []onnxAttr
}

// onnxAttr is one attribute; exactly one of the value fields is meaningful
// according to Kind.
type onnxAttr struct {
	Name string
	Kind int // 1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 7 INTS
	F    float32
	I    int64
	S    string
	T    *onnxTensor
	Ints []int64
}

type onnxTensor struct {
	Name     string
	DataType int
	Dims     []int64
	Raw      []byte
}

// onnxValueInfo describes a graph input/output: element type and dims,
// where a dim is either a value (>0) or a symbolic name.
type onnxValueInfo struct {
	Name     string
	ElemType int
	Dims     []onnxDim
}

type onnxDim struct {
	Value int64
	Param string
}

func attrInt(name string, v int64) onnxAttr         { return onnxAttr{Name: name, Kind: 2, I: v} }
func attrFloat(name string, v float32) onnxAttr     { return onnxAttr{Name: name, Kind: 1, F: v} }
func attrInts(name string, v ...int64) onnxAttr     { return onnxAttr{Name: name, Kind: 7, Ints: v} }
func attrString(name string, v string) onnxAttr     { return onnxAttr{Name: name, Kind: 3, S: v} }
func attrTensor(name string, t onnxTensor) onnxAttr { return onnxAttr{Name: name, Kind: 4, T: &t} }

func floatTensor(name string, dims []int64, vals []float32) onnxTensor {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return onnxTensor{Name: name, DataType: onnxFloat, Dims: append([]int64(nil), dims...), Raw: raw}
}

func int64Tensor(name string, dims []int64, vals []int64) onnxTensor {
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return onnxTensor{Name: name, DataType: onnxInt64, Dims: append([]int64(nil), dims...), Raw: raw}
}

func int32Tensor(name string, dims []int64, vals []int32) onnxTensor {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
	}
	return onnxTensor{Name: name, DataType: onnxInt32, Dims: append([]int64(nil), dims...), Raw: raw}
}

func bytesTensor(name string, dt int, dims []int64, raw []byte) onnxTensor {
	return onnxTensor{Name: name, DataType: dt, Dims: append([]int64(nil), dims...), Raw: append([]byte(nil), raw...)}
}

// Marshal serialises the model. Field order is fixed, so equal models give
// equal bytes.
func (m *onnxModel) Marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.IRVersion))
	b = appendString(b, 2, m.Producer)
	b = appendString(b, 3, m.Version)
	if m.DocString != "" {
		b = appendString(b, 6, m.DocString)
	}
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, m.Graph.marshal())
	var op []byte
	op = appendString(op, 1, "")
	op = protowire.AppendTag(op, 2, protowire.VarintType)
	op = protowire.AppendVarint(op, uint64(m.Opset))
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, op)
	for _, kv := range m.Metadata {
		var e []byte
		e = appendString(e, 1, kv[0])
		e = appendString(e, 2, kv[1])
		b = protowire.AppendTag(b, 14, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMsg(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func (g *onnxGraph) marshal() []byte {
	var b []byte
	for i := range g.Nodes {
		b = appendMsg(b, 1, g.Nodes[i].marshal())
	}
	b = appendString(b, 2, g.Name)
	for i := range g.Initializers {
		b = appendMsg(b, 5, g.Initializers[i].marshal())
	}
	for i := range g.Inputs {
		b = appendMsg(b, 11, g.Inputs[i].marshal())
	}
	for i := range g.Outputs {
		b = appendMsg(b, 12, g.Outputs[i].marshal())
	}
	return b
}

func (n *onnxNode) marshal() []byte {
	var b []byte
	for _, s := range n.Inputs {
		b = appendString(b, 1, s)
	}
	for _, s := range n.Outputs {
		b = appendString(b, 2, s)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.Op)
	for i := range n.Attrs {
		b = appendMsg(b, 5, n.Attrs[i].marshal())
	}
	return b
}

func (a *onnxAttr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Kind {
	case 1:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case 2:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case 3:
		b = appendString(b, 4, a.S)
	case 4:
		b = appendMsg(b, 5, a.T.marshal())
	case 7:
		for _, v := range a.Ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Kind))
	return b
}

func (t *onnxTensor) marshal() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DataType))
	if t.Name != "" {
		b = appendString(b, 8, t.Name)
	}
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, t.Raw)
	return b
}

func (v *onnxValueInfo) marshal() []byte {
	var shape []byte
	for _, d := range v.Dims {
		var dm []byte
		if d.Param != "" {
			dm = appendString(dm, 2, d.Param)
		} else {
			dm = protowire.AppendTag(dm, 1, protowire.VarintType)
			dm = protowire.AppendVarint(dm, uint64(d.Value))
		}
		shape = appendMsg(shape, 1, dm)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(v.ElemType))
	tt = appendMsg(tt, 2, shape)
	var tp []byte
	tp = appendMsg(tp, 1, tt)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendMsg(b, 2, tp)
	return b
}
