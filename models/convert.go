package models

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// ConverterVersion identifies the converter's output. Bump it whenever the
// bytes it writes change: installed models converted by another version are
// reconverted.
const ConverterVersion = "faced-graphdef2onnx/2"

const (
	onnxOpset     = 17
	onnxIRVersion = 8
)

// Dequant selects how TensorFlow's Dequantize MIN_FIRST nodes are converted.
type Dequant int

const (
	// DequantTF reproduces TensorFlow exactly: scale = float32(max-min)/255,
	// min_r = round(min/scale)*scale, w = min_r + q*scale, evaluated in that
	// order in float32 (DequantizeLinear with zero point 0, then Add min_r).
	// The weights stay uint8 in the file.
	DequantTF Dequant = iota
	// DequantNaive is the textbook min + q*(max-min)/255, written as float
	// weights. It is WRONG for the seed model and exists only so that tests
	// can show the reference check detects it.
	DequantNaive
	// DequantTFFloat is DequantTF with the weights written as float32.
	DequantTFFloat
	// DequantZeroPoint is DequantTF as a single DequantizeLinear with zero
	// point -round(min/scale): the same values up to float rounding
	// ((q-zp)*scale is rounded once, min_r + q*scale twice), which this
	// deep network amplifies to about 2e-4 relative on its features.
	DequantZeroPoint
)

// ConvertOptions selects what part of a GraphDef becomes an ONNX model.
type ConvertOptions struct {
	Name    string   // graph name written into the model
	Input   string   // the Placeholder fed by callers
	Outputs []string // node names exported as graph outputs, in this order
	// Dequant chooses the Dequantize formula (DequantTF unless testing).
	Dequant Dequant
	// QDQ makes an int8 QDQ model: convolutions with batch norm folded in,
	// int8 symmetric per-channel weights, int32 biases and uint8 activations
	// (scale 6/255) after every ReLU6. The first convolution, fed by the raw
	// input, stays float.
	QDQ bool
	// Metadata is appended to the model's metadata_props (sorted by key).
	Metadata map[string]string
	// DimNames names the dynamic (-1) dimensions of the input, by axis.
	DimNames map[int]string
}

// constVal is a constant known at conversion time.
type constVal struct {
	shape []int64
	f     []float32 // float values (dequantized for quantized constants)
	ints  []int64   // integer constants
	q     []uint8   // quint8 data when the constant came from Dequantize
	scale float32   // TensorFlow's dequantization step (0: not representable, use f)
	minR  float32   // TensorFlow's rounded minimum, round(min/scale)*scale
	zp    uint8     // -round(min/scale) when it fits uint8
	zpOK  bool
}

// value is a tensor of the converted graph.
type value struct {
	name  string // ONNX value name ("" for constants not yet materialised)
	rank  int
	nchw  bool // a 4-D activation held in NCHW order
	c     *constVal
	qscal float32 // >0: the value is the output of DequantizeLinear with this scale (zp 0)
}

type converter struct {
	g        *tfGraph
	opt      ConvertOptions
	model    onnxModel
	vals     map[string]*value
	skip     map[string]bool
	consumer map[string][]*tfNode
	matCache map[string]string
	layCache map[string]string
	uniq     map[string]int
}

// Convert converts a frozen TensorFlow GraphDef (binary) into a serialised
// ONNX model. The result is deterministic: same input, same bytes.
func Convert(graphDef []byte, opt ConvertOptions) ([]byte, error) {
	g, err := parseGraphDef(graphDef)
	if err != nil {
		return nil, err
	}
	c := &converter{g: g, opt: opt, vals: map[string]*value{}, skip: map[string]bool{},
		consumer: map[string][]*tfNode{}, matCache: map[string]string{}, layCache: map[string]string{}, uniq: map[string]int{}}
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("convert %s: %w", opt.Name, err)
	}
	return c.model.Marshal(), nil
}

func tfInputName(s string) (string, bool) {
	if strings.HasPrefix(s, "^") {
		return "", false // control dependency
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i] // every op the converter handles has a single output
	}
	return s, true
}

// order returns the nodes needed for the outputs, topologically sorted
// (GraphDef node order is arbitrary).
func (c *converter) order() ([]*tfNode, error) {
	state := map[string]int{} // 1 visiting, 2 done
	var out []*tfNode
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("cycle through node %q", name)
		case 2:
			return nil
		}
		n := c.g.byName[name]
		if n == nil {
			return fmt.Errorf("node %q not found in the graph", name)
		}
		state[name] = 1
		for _, in := range n.Inputs {
			if src, ok := tfInputName(in); ok {
				if err := visit(src); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		out = append(out, n)
		return nil
	}
	for _, o := range c.opt.Outputs {
		if err := visit(o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *converter) run() error {
	nodes, err := c.order()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			if src, ok := tfInputName(in); ok {
				c.consumer[src] = append(c.consumer[src], n)
			}
		}
	}
	c.model = onnxModel{IRVersion: onnxIRVersion, Opset: onnxOpset, Producer: "faced", Version: ConverterVersion}
	c.model.Graph.Name = c.opt.Name
	// Constants first, so that look-ahead fusions (ReLU6, batch-norm
	// folding) see the constant operands of later nodes.
	done := map[string]bool{}
	for _, n := range nodes {
		if c.isConst(n) {
			if err := c.node(n); err != nil {
				return fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
			}
			done[n.Name] = true
		}
	}
	for _, n := range nodes {
		if c.skip[n.Name] || done[n.Name] {
			continue
		}
		if err := c.node(n); err != nil {
			return fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
	}
	for _, o := range c.opt.Outputs {
		v := c.vals[o]
		if v == nil || v.c != nil {
			return fmt.Errorf("output %q is not a computed tensor", o)
		}
		src := v.name
		if v.rank == 4 && v.nchw {
			c.emit("Transpose", o+"/export", []string{src}, []string{o}, attrInts("perm", 0, 2, 3, 1))
		} else if src != o {
			c.emit("Identity", o+"/export", []string{src}, []string{o})
		}
		c.model.Graph.Outputs = append(c.model.Graph.Outputs, onnxValueInfo{Name: o, ElemType: onnxFloat})
	}
	keys := make([]string, 0, len(c.opt.Metadata))
	for k := range c.opt.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.model.Metadata = append(c.model.Metadata, [2]string{k, c.opt.Metadata[k]})
	}
	return nil
}

// isConst reports whether n computes a constant: a Const, or an Identity or
// Dequantize of constants already converted.
func (c *converter) isConst(n *tfNode) bool {
	switch n.Op {
	case "Const":
		return true
	case "Identity", "Dequantize":
		for _, in := range n.Inputs {
			src, ok := tfInputName(in)
			if !ok {
				continue
			}
			v := c.vals[src]
			if v == nil || v.c == nil {
				return false
			}
		}
		return true
	}
	return false
}

func (c *converter) emit(op, name string, in, out []string, attrs ...onnxAttr) {
	c.model.Graph.Nodes = append(c.model.Graph.Nodes, onnxNode{Name: name, Op: op, Inputs: in, Outputs: out, Attrs: attrs})
}

func (c *converter) init(t onnxTensor) string {
	c.model.Graph.Initializers = append(c.model.Graph.Initializers, t)
	return t.Name
}

// in returns the value of input i of n.
func (c *converter) in(n *tfNode, i int) (*value, error) {
	if i >= len(n.Inputs) {
		return nil, fmt.Errorf("missing input %d", i)
	}
	src, ok := tfInputName(n.Inputs[i])
	if !ok {
		return nil, fmt.Errorf("input %d is a control dependency", i)
	}
	v := c.vals[src]
	if v == nil {
		return nil, fmt.Errorf("input %q not converted", src)
	}
	return v, nil
}

// in2 returns the values of inputs 0 and 1 of n (binary ops, and ops whose
// second input is a constant: shape, axes, kernel).
func (c *converter) in2(n *tfNode) (*value, *value, error) {
	a, err := c.in(n, 0)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.in(n, 1)
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// inInts returns input 0 of n and input 1, which must be an integer
// constant (Reshape's shape, a reduction's axes).
func (c *converter) inInts(n *tfNode) (*value, []int64, error) {
	x, v, err := c.in2(n)
	if err != nil {
		return nil, nil, err
	}
	ints, err := c.constInts(v)
	if err != nil {
		return nil, nil, err
	}
	return x, ints, nil
}

func (c *converter) attrString(n *tfNode, key string) string {
	if a := n.Attrs[key]; a != nil {
		return string(a.S)
	}
	return ""
}

func (c *converter) constInts(v *value) ([]int64, error) {
	if v.c == nil || v.c.ints == nil {
		return nil, fmt.Errorf("expected an integer constant")
	}
	return v.c.ints, nil
}

// layout converts a 4-D activation to NCHW (toNCHW true) or NHWC.
func (c *converter) layout(v *value, toNCHW bool) *value {
	if v.rank != 4 || v.nchw == toNCHW {
		return v
	}
	key := fmt.Sprintf("%s|%v", v.name, toNCHW)
	name, ok := c.layCache[key]
	if !ok {
		if toNCHW {
			name = v.name + "/to_nchw"
			c.emit("Transpose", name, []string{v.name}, []string{name}, attrInts("perm", 0, 3, 1, 2))
		} else {
			name = v.name + "/to_nhwc"
			c.emit("Transpose", name, []string{v.name}, []string{name}, attrInts("perm", 0, 2, 3, 1))
		}
		c.layCache[key] = name
	}
	return &value{name: name, rank: 4, nchw: toNCHW, qscal: v.qscal}
}

// Constant layouts requested by consumers.
const (
	layAsIs = "asis"
	layOIHW = "oihw" // Conv2D kernel HWIO -> OIHW
	layDW   = "dw"   // depthwise kernel [kh,kw,C,1] -> [C,1,kh,kw]
	layCHW  = "chw"  // per-channel vector [C] -> [C,1,1] (broadcast against NCHW)
)

// permute reorders constant data for a layout; it works on any element type.
func permute[T any](data []T, shape []int64, lay string) ([]T, []int64, error) {
	switch lay {
	case layAsIs:
		return data, shape, nil
	case layCHW:
		if len(shape) != 1 {
			return nil, nil, fmt.Errorf("per-channel constant has shape %v", shape)
		}
		return data, []int64{shape[0], 1, 1}, nil
	case layOIHW, layDW:
		if len(shape) != 4 {
			return nil, nil, fmt.Errorf("kernel has shape %v", shape)
		}
		kh, kw, ci, co := shape[0], shape[1], shape[2], shape[3]
		out := make([]T, len(data))
		var dims []int64
		if lay == layOIHW {
			dims = []int64{co, ci, kh, kw}
			for y := int64(0); y < kh; y++ {
				for x := int64(0); x < kw; x++ {
					for i := int64(0); i < ci; i++ {
						for o := int64(0); o < co; o++ {
							out[((o*ci+i)*kh+y)*kw+x] = data[((y*kw+x)*ci+i)*co+o]
						}
					}
				}
			}
		} else {
			if co != 1 {
				return nil, nil, fmt.Errorf("depthwise channel multiplier %d not supported", co)
			}
			dims = []int64{ci, 1, kh, kw}
			for y := int64(0); y < kh; y++ {
				for x := int64(0); x < kw; x++ {
					for i := int64(0); i < ci; i++ {
						out[(i*kh+y)*kw+x] = data[(y*kw+x)*ci+i]
					}
				}
			}
		}
		return out, dims, nil
	}
	return nil, nil, fmt.Errorf("unknown layout %q", lay)
}

// materialize turns a constant into an ONNX value in the given layout:
// a float initializer, or a uint8 initializer behind DequantizeLinear.
func (c *converter) materialize(name string, k *constVal, lay string) (string, error) {
	key := name + "|" + lay
	if s, ok := c.matCache[key]; ok {
		return s, nil
	}
	base := name
	if lay != layAsIs {
		base = name + "/" + lay
	}
	var out string
	switch {
	case k.q != nil && k.scale > 0 && (c.opt.Dequant == DequantTF || (c.opt.Dequant == DequantZeroPoint && k.zpOK)):
		data, dims, err := permute(k.q, k.shape, lay)
		if err != nil {
			return "", err
		}
		qn := c.init(bytesTensor(base+"/q", onnxUint8, dims, data))
		sn := c.init(floatTensor(base+"/scale", nil, []float32{k.scale}))
		out = base
		if c.opt.Dequant == DequantZeroPoint {
			zn := c.init(bytesTensor(base+"/zero_point", onnxUint8, nil, []byte{k.zp}))
			c.emit("DequantizeLinear", base, []string{qn, sn, zn}, []string{out})
		} else {
			zn := c.zpInit("dequant/zero_point")
			mn := c.init(floatTensor(base+"/min", nil, []float32{k.minR}))
			c.emit("DequantizeLinear", base+"/dequant", []string{qn, sn, zn}, []string{base + "/scaled"})
			c.emit("Add", base, []string{base + "/scaled", mn}, []string{out})
		}
	case k.f != nil:
		data, dims, err := permute(k.f, k.shape, lay)
		if err != nil {
			return "", err
		}
		out = c.init(floatTensor(base, dims, data))
	case k.ints != nil:
		out = c.init(int64Tensor(base, k.shape, k.ints))
	default:
		return "", fmt.Errorf("constant %q has no data", name)
	}
	c.matCache[key] = out
	return out, nil
}

// dequantTF reproduces TensorFlow's Dequantize MIN_FIRST for quint8:
// scale = float32(max-min)/255, min rounded to a multiple of scale
// (numpy's round half to even, as the seed's reference interpreter).
func dequantTF(q []uint8, min, max float32) (f []float32, scale, minR float32, zp uint8, zpOK bool) {
	scale = (max - min) / 255
	f = make([]float32, len(q))
	if scale == 0 {
		for i := range f {
			f[i] = min
		}
		return f, 0, min, 0, false
	}
	k := float32(math.RoundToEven(float64(min / scale)))
	minR = k * scale
	for i, v := range q {
		f[i] = minR + float32(v)*scale
	}
	if -k < 0 || -k > 255 {
		return f, scale, minR, 0, false
	}
	return f, scale, minR, uint8(-k), true
}

func dequantNaive(q []uint8, min, max float32) []float32 {
	f := make([]float32, len(q))
	step := (max - min) / 255
	for i, v := range q {
		f[i] = min + float32(v)*step
	}
	return f
}

// operand returns the ONNX name of input v of a binary element-wise op
// whose other operand is o.
func (c *converter) operand(src string, v, o *value) (string, error) {
	if v.c == nil {
		return v.name, nil
	}
	lay := layAsIs
	if len(v.c.shape) == 1 && v.c.shape[0] > 1 && o.rank == 4 && o.nchw {
		lay = layCHW
	} else if len(v.c.shape) > 1 && o.rank == 4 && o.nchw {
		return "", fmt.Errorf("constant %q of shape %v against an NCHW tensor", src, v.c.shape)
	}
	return c.materialize(src, v.c, lay)
}

// operands returns the ONNX names of inputs a (0) and b (1) of the binary
// node n, constants materialised against the other operand (see operand).
func (c *converter) operands(n *tfNode, a, b *value) (string, string, error) {
	an, err := c.operand(inName(n, 0), a, b)
	if err != nil {
		return "", "", err
	}
	bn, err := c.operand(inName(n, 1), b, a)
	if err != nil {
		return "", "", err
	}
	return an, bn, nil
}

func (c *converter) outName(n *tfNode, rank int, nchw bool) string {
	if rank == 4 && nchw {
		return n.Name + "/nchw"
	}
	return n.Name
}

func (c *converter) setOut(n *tfNode, op string, ins []string, rank int, nchw bool, attrs ...onnxAttr) *value {
	out := c.outName(n, rank, nchw)
	c.emit(op, n.Name, ins, []string{out}, attrs...)
	v := &value{name: out, rank: rank, nchw: nchw}
	c.vals[n.Name] = v
	return v
}

// soleConsumer returns the only consumer of node name if it has op op.
func (c *converter) soleConsumer(name, op string) *tfNode {
	cs := c.consumer[name]
	if len(cs) != 1 || cs[0].Op != op {
		return nil
	}
	for _, o := range c.opt.Outputs {
		if o == name {
			return nil
		}
	}
	return cs[0]
}

// otherConst returns the constant operand of binary node n that is not src.
func (c *converter) otherConst(n *tfNode, src string) *constVal {
	if len(n.Inputs) != 2 {
		return nil
	}
	for _, in := range n.Inputs {
		s, _ := tfInputName(in)
		if s == src {
			continue
		}
		if v := c.vals[s]; v != nil && v.c != nil {
			return v.c
		}
	}
	return nil
}

func isScalar(k *constVal, x float32) bool {
	return k != nil && k.f != nil && len(k.f) == 1 && k.f[0] == x
}

func (c *converter) node(n *tfNode) error {
	switch n.Op {
	case "Placeholder":
		if n.Name != c.opt.Input {
			return fmt.Errorf("unexpected placeholder (the model's input is %q)", c.opt.Input)
		}
		a := n.Attrs["shape"]
		if a == nil || len(a.Shape) == 0 {
			return fmt.Errorf("placeholder without a shape")
		}
		var dims []onnxDim
		for i, d := range a.Shape {
			if d < 0 {
				p := c.opt.DimNames[i]
				if p == "" {
					p = fmt.Sprintf("d%d", i)
				}
				dims = append(dims, onnxDim{Param: p})
			} else {
				dims = append(dims, onnxDim{Value: d})
			}
		}
		c.model.Graph.Inputs = append(c.model.Graph.Inputs, onnxValueInfo{Name: n.Name, ElemType: onnxFloat, Dims: dims})
		c.vals[n.Name] = &value{name: n.Name, rank: len(a.Shape)}
		return nil
	case "Const":
		a := n.Attrs["value"]
		if a == nil || a.Tensor == nil {
			return fmt.Errorf("const without a value")
		}
		t := a.Tensor
		k := &constVal{shape: t.Shape}
		var err error
		switch t.DType {
		case tfFloat:
			k.f, err = t.float32s()
		case tfInt32, tfInt64:
			k.ints, err = t.ints()
		case tfQuint8, tfUint8:
			k.q, err = t.uint8s()
		default:
			err = fmt.Errorf("unsupported dtype %d", t.DType)
		}
		if err != nil {
			return err
		}
		c.vals[n.Name] = &value{rank: len(t.Shape), c: k}
		return nil
	case "Identity":
		v, err := c.in(n, 0)
		if err != nil {
			return err
		}
		c.vals[n.Name] = v
		return nil
	case "Dequantize":
		if m := c.attrString(n, "mode"); m != "MIN_FIRST" {
			return fmt.Errorf("Dequantize mode %q not supported (only MIN_FIRST)", m)
		}
		q, err := c.in(n, 0)
		if err != nil {
			return err
		}
		mn, err1 := c.in(n, 1)
		mx, err2 := c.in(n, 2)
		if err1 != nil || err2 != nil || q.c == nil || q.c.q == nil || mn.c == nil || mx.c == nil ||
			len(mn.c.f) != 1 || len(mx.c.f) != 1 {
			return fmt.Errorf("Dequantize needs a constant quint8 tensor and scalar min/max")
		}
		k := &constVal{shape: q.c.shape, q: q.c.q}
		switch c.opt.Dequant {
		case DequantNaive:
			k.f = dequantNaive(q.c.q, mn.c.f[0], mx.c.f[0])
		default:
			k.f, k.scale, k.minR, k.zp, k.zpOK = dequantTF(q.c.q, mn.c.f[0], mx.c.f[0])
			if c.opt.Dequant == DequantTFFloat {
				k.scale = 0 // written as float
			}
		}
		c.vals[n.Name] = &value{rank: len(k.shape), c: k}
		return nil
	case "Conv2D", "DepthwiseConv2dNative":
		return c.conv(n)
	case "MaxPool":
		x, err := c.in(n, 0)
		if err != nil {
			return err
		}
		if df := c.attrString(n, "data_format"); df != "" && df != "NHWC" {
			return fmt.Errorf("data_format %q not supported", df)
		}
		k, s := n.Attrs["ksize"], n.Attrs["strides"]
		if k == nil || s == nil || len(k.ListI) != 4 || len(s.ListI) != 4 {
			return fmt.Errorf("MaxPool needs 4-element ksize and strides")
		}
		pad, err := autoPad(c.attrString(n, "padding"))
		if err != nil {
			return err
		}
		x = c.layout(x, true)
		v := c.setOut(n, "MaxPool", []string{x.name}, 4, true,
			attrString("auto_pad", pad), attrInts("kernel_shape", k.ListI[1], k.ListI[2]), attrInts("strides", s.ListI[1], s.ListI[2]))
		v.qscal = 0
		return nil
	case "BiasAdd", "Add", "Mul", "Sub", "Minimum", "Maximum", "RealDiv":
		return c.binary(n)
	case "Relu":
		return c.relu(n)
	case "Neg", "Exp", "Sigmoid":
		x, err := c.in(n, 0)
		if err != nil {
			return err
		}
		c.setOut(n, n.Op, []string{x.name}, x.rank, x.nchw)
		return nil
	case "Softmax":
		x, err := c.in(n, 0)
		if err != nil {
			return err
		}
		axis := int64(-1)
		if x.rank == 4 && x.nchw {
			axis = 1
		}
		c.setOut(n, "Softmax", []string{x.name}, x.rank, x.nchw, attrInt("axis", axis))
		return nil
	case "Mean", "Max", "Sum":
		return c.reduce(n)
	case "MatMul":
		a, b, err := c.in2(n)
		if err != nil {
			return err
		}
		if ta := n.Attrs["transpose_a"]; ta != nil && ta.B {
			return fmt.Errorf("transpose_a not supported")
		}
		if tb := n.Attrs["transpose_b"]; tb != nil && tb.B {
			return fmt.Errorf("transpose_b not supported")
		}
		an, bn, err := c.operands(n, a, b)
		if err != nil {
			return err
		}
		c.setOut(n, "MatMul", []string{an, bn}, 2, false)
		return nil
	case "Reshape":
		x, shape, err := c.inInts(n)
		if err != nil {
			return err
		}
		// TensorFlow flattens NHWC: restore that order before reshaping.
		x = c.layout(x, false)
		sn := c.init(int64Tensor(n.Name+"/shape", []int64{int64(len(shape))}, shape))
		c.setOut(n, "Reshape", []string{x.name, sn}, len(shape), false)
		return nil
	}
	return fmt.Errorf("unsupported op %q", n.Op)
}

func inName(n *tfNode, i int) string {
	s, _ := tfInputName(n.Inputs[i])
	return s
}

func autoPad(p string) (string, error) {
	switch p {
	case "SAME":
		return "SAME_UPPER", nil // TensorFlow puts the odd padding pixel at the end
	case "VALID":
		return "VALID", nil
	}
	return "", fmt.Errorf("padding %q not supported", p)
}

func (c *converter) binary(n *tfNode) error {
	a, b, err := c.in2(n)
	if err != nil {
		return err
	}
	if a.c != nil && b.c != nil {
		return fmt.Errorf("both operands are constants (constant folding not supported)")
	}
	if a.c == nil && b.c == nil && a.rank == 4 && b.rank == 4 && a.nchw != b.nchw {
		a, b = c.layout(a, true), c.layout(b, true)
	}
	an, bn, err := c.operands(n, a, b)
	if err != nil {
		return err
	}
	op := map[string]string{"BiasAdd": "Add", "Add": "Add", "Mul": "Mul", "Sub": "Sub",
		"Minimum": "Min", "Maximum": "Max", "RealDiv": "Div"}[n.Op]
	ref := a
	if a.c != nil {
		ref = b
	}
	rank := ref.rank
	if a.c == nil && b.c == nil && b.rank > rank {
		rank = b.rank
	}
	c.setOut(n, op, []string{an, bn}, rank, ref.nchw)
	return nil
}

// relu converts Relu; Relu -> Minimum(6) -> Maximum(0) (Keras ReLU6)
// becomes a single Clip, followed in QDQ mode by a uint8 Q/DQ pair with
// scale 6/255.
func (c *converter) relu(n *tfNode) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	if mn := c.soleConsumer(n.Name, "Minimum"); mn != nil && isScalar(c.otherConst(mn, n.Name), 6) {
		if mx := c.soleConsumer(mn.Name, "Maximum"); mx != nil && isScalar(c.otherConst(mx, mn.Name), 0) {
			lo := c.scalarInit("relu6/min", 0)
			hi := c.scalarInit("relu6/max", 6)
			out := c.outName(mx, x.rank, x.nchw)
			clipOut := out
			if c.opt.QDQ {
				clipOut = out + "/float"
			}
			c.emit("Clip", mx.Name, []string{x.name, lo, hi}, []string{clipOut})
			v := &value{name: out, rank: x.rank, nchw: x.nchw}
			if c.opt.QDQ {
				s := c.scalarInit("act/scale", 6.0/255)
				z := c.zpInit("act/zero_point")
				c.emit("QuantizeLinear", mx.Name+"/quant", []string{clipOut, s, z}, []string{out + "/q"})
				c.emit("DequantizeLinear", mx.Name+"/dequant", []string{out + "/q", s, z}, []string{out})
				v.qscal = 6.0 / 255
			}
			c.skip[mn.Name], c.skip[mx.Name] = true, true
			c.vals[mx.Name] = v
			return nil
		}
	}
	c.setOut(n, "Relu", []string{x.name}, x.rank, x.nchw)
	return nil
}

// initOnce adds the initializer mk makes the first time key is asked for
// and returns its name, then and on every later call.
func (c *converter) initOnce(key string, mk func() onnxTensor) string {
	if s, ok := c.matCache[key]; ok {
		return s
	}
	s := c.init(mk())
	c.matCache[key] = s
	return s
}

// scalarInit returns the shared float scalar initializer name (value v).
func (c *converter) scalarInit(name string, v float32) string {
	return c.initOnce("scalar|"+name, func() onnxTensor { return floatTensor(name, nil, []float32{v}) })
}

// zpInit returns the shared uint8 zero-point initializer name.
func (c *converter) zpInit(name string) string {
	return c.initOnce("zp|"+name, func() onnxTensor { return bytesTensor(name, onnxUint8, nil, []byte{0}) })
}

func (c *converter) reduce(n *tfNode) error {
	x, axes, err := c.inInts(n)
	if err != nil {
		return err
	}
	keep := false
	if a := n.Attrs["keep_dims"]; a != nil {
		keep = a.B
	}
	axes = append([]int64(nil), axes...)
	for i, ax := range axes {
		if ax < 0 {
			axes[i] = ax + int64(x.rank)
		}
	}
	if x.rank == 4 && x.nchw {
		sorted := append([]int64(nil), axes...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		if !keep && !(len(sorted) == 2 && sorted[0] == 1 && sorted[1] == 2) {
			x = c.layout(x, false)
		} else {
			m := []int64{0, 2, 3, 1}
			for i, ax := range axes {
				axes[i] = m[ax]
			}
		}
	}
	rank := x.rank
	if !keep {
		rank -= len(axes)
	}
	nchw := keep && x.nchw
	k := int64(0)
	if keep {
		k = 1
	}
	op := map[string]string{"Mean": "ReduceMean", "Max": "ReduceMax", "Sum": "ReduceSum"}[n.Op]
	if op == "ReduceSum" { // axes is an input from opset 13 on
		an := c.init(int64Tensor(n.Name+"/axes", []int64{int64(len(axes))}, axes))
		c.setOut(n, op, []string{x.name, an}, rank, nchw, attrInt("keepdims", k))
		return nil
	}
	c.setOut(n, op, []string{x.name}, rank, nchw, attrInts("axes", axes...), attrInt("keepdims", k))
	return nil
}

func (c *converter) conv(n *tfNode) error {
	x, w, err := c.in2(n)
	if err != nil {
		return err
	}
	if w.c == nil || len(w.c.shape) != 4 {
		return fmt.Errorf("kernel must be a constant 4-D tensor")
	}
	if df := c.attrString(n, "data_format"); df != "" && df != "NHWC" {
		return fmt.Errorf("data_format %q not supported", df)
	}
	st := n.Attrs["strides"]
	if st == nil || len(st.ListI) != 4 {
		return fmt.Errorf("strides missing")
	}
	dil := []int64{1, 1}
	if d := n.Attrs["dilations"]; d != nil && len(d.ListI) == 4 {
		dil = []int64{d.ListI[1], d.ListI[2]}
	}
	pad, err := autoPad(c.attrString(n, "padding"))
	if err != nil {
		return err
	}
	x = c.layout(x, true)
	kh, kw := w.c.shape[0], w.c.shape[1]
	lay, group := layOIHW, int64(1)
	if n.Op == "DepthwiseConv2dNative" {
		lay, group = layDW, w.c.shape[2]
	}
	attrs := []onnxAttr{attrString("auto_pad", pad), attrInts("dilations", dil...), attrInt("group", group),
		attrInts("kernel_shape", kh, kw), attrInts("strides", st.ListI[1], st.ListI[2])}
	if c.opt.QDQ {
		return c.convQDQ(n, x, w.c, lay, attrs)
	}
	wn, err := c.materialize(inName(n, 1), w.c, lay)
	if err != nil {
		return err
	}
	c.setOut(n, "Conv", []string{x.name, wn}, 4, true, attrs...)
	return nil
}

// convQDQ folds a following per-channel Mul and Add (batch norm) into the
// convolution and, when the input is quantized, writes int8 per-channel
// weights and an int32 bias behind DequantizeLinear nodes.
func (c *converter) convQDQ(n *tfNode, x *value, wk *constVal, lay string, attrs []onnxAttr) error {
	wf, dims, err := permute(wk.f, wk.shape, lay)
	if err != nil {
		return err
	}
	co := int(dims[0])
	per := len(wf) / co
	w := append([]float32(nil), wf...)
	bias := make([]float32, co)
	last := n
	if mul, k := c.perChannel(last, co, "Mul"); mul != nil {
		for o := 0; o < co; o++ {
			for i := 0; i < per; i++ {
				w[o*per+i] *= k[o]
			}
		}
		c.skip[mul.Name] = true
		last = mul
	}
	if add, k := c.perChannel(last, co, "Add", "BiasAdd"); add != nil {
		copy(bias, k)
		c.skip[add.Name] = true
		last = add
	}
	base := n.Name
	var wn, bn string
	if x.qscal > 0 {
		q, scales, bq := quantizePerChannel(w, bias, x.qscal)
		bscales := make([]float32, co)
		for o := range bscales {
			bscales[o] = x.qscal * scales[o]
		}
		qb := make([]byte, len(q))
		for i, v := range q {
			qb[i] = byte(v)
		}
		qn := c.init(bytesTensor(base+"/weights/q", onnxInt8, dims, qb))
		sn := c.init(floatTensor(base+"/weights/scale", []int64{int64(co)}, scales))
		zn := c.init(bytesTensor(base+"/weights/zero_point", onnxInt8, []int64{int64(co)}, make([]byte, co)))
		wn = base + "/weights"
		c.emit("DequantizeLinear", wn, []string{qn, sn, zn}, []string{wn}, attrInt("axis", 0))
		bqn := c.init(int32Tensor(base+"/bias/q", []int64{int64(co)}, bq))
		bsn := c.init(floatTensor(base+"/bias/scale", []int64{int64(co)}, bscales))
		bzn := c.init(int32Tensor(base+"/bias/zero_point", []int64{int64(co)}, make([]int32, co)))
		bn = base + "/bias"
		c.emit("DequantizeLinear", bn, []string{bqn, bsn, bzn}, []string{bn}, attrInt("axis", 0))
	} else {
		wn = c.init(floatTensor(base+"/weights", dims, w))
		bn = c.init(floatTensor(base+"/bias", []int64{int64(co)}, bias))
	}
	out := c.outName(last, 4, true)
	c.emit("Conv", n.Name, []string{x.name, wn, bn}, []string{out}, attrs...)
	c.vals[last.Name] = &value{name: out, rank: 4, nchw: true}
	return nil
}

// perChannel returns the sole consumer of node last when its op is one of
// ops and its other operand is a float constant of co values (a batch-norm
// scale or shift folded into the convolution), with those values; nil when
// not.
func (c *converter) perChannel(last *tfNode, co int, ops ...string) (*tfNode, []float32) {
	for _, op := range ops {
		if m := c.soleConsumer(last.Name, op); m != nil {
			if k := c.otherConst(m, last.Name); k != nil && k.f != nil && len(k.f) == co {
				return m, k.f
			}
			return nil, nil
		}
	}
	return nil, nil
}

// quantizePerChannel quantizes convolution weights w (output channel major,
// len(bias) channels) to int8 symmetric per-channel and the bias to int32
// with scale inScale*weightScale[c]. A channel whose weights are all zero
// (or tiny) but whose bias is not would need an enormous bias integer with
// the usual scale max|w|/127: the weight scale is raised until the bias
// fits comfortably (|bias_q| <= 2^30).
func quantizePerChannel(w, bias []float32, inScale float32) (q []int8, scales []float32, bq []int32) {
	const maxBias = float64(1 << 30)
	co := len(bias)
	per := len(w) / co
	q = make([]int8, len(w))
	scales = make([]float32, co)
	bq = make([]int32, co)
	for o := 0; o < co; o++ {
		var m float64
		for i := 0; i < per; i++ {
			m = math.Max(m, math.Abs(float64(w[o*per+i])))
		}
		s := m / 127
		if need := math.Abs(float64(bias[o])) / (float64(inScale) * maxBias); s < need {
			s = need
		}
		if s == 0 {
			s = 1
		}
		s32 := float32(s)
		scales[o] = s32
		for i := 0; i < per; i++ {
			v := math.RoundToEven(float64(w[o*per+i] / s32))
			q[o*per+i] = int8(math.Max(-127, math.Min(127, v)))
		}
		bq[o] = int32(math.RoundToEven(float64(bias[o]) / (float64(inScale) * float64(s32))))
	}
	return q, scales, bq
}
