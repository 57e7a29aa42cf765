package models

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The converter translates TensorFlow's PReLU op for op, as the seed's
// graphs spell it: Relu(x) + alpha·Neg(Relu(Neg(x))). ONNX Runtime runs
// that as six element-wise passes, each over the whole activation map in
// NCHW layout (and reorders the convolution outputs out of its blocked
// layout for them): in MTCNN's P-Net they cost more than the convolutions.
// fusePReLU replaces each such subgraph by one ONNX PRelu(x, alpha) node
// when a session is opened. The two are equal bit for bit: the negations
// are exact, Neg(Relu(Neg(x))) is min(x, 0), alpha·min(x, 0) is alpha·x
// below zero and ±0 above, and x + ±0 is x.

// ONNX protobuf field numbers used here.
const (
	modelGraphField    = 7  // ModelProto.graph
	graphNodeField     = 1  // GraphProto.node
	graphInitField     = 5  // GraphProto.initializer
	graphOutputField   = 12 // GraphProto.output
	nodeInputField     = 1  // NodeProto.input
	nodeOutputField    = 2  // NodeProto.output
	nodeNameField      = 3  // NodeProto.name
	nodeOpField        = 4  // NodeProto.op_type
	nodeAttrField      = 5  // NodeProto.attribute
	nodeDomainField    = 7  // NodeProto.domain
	tensorNameField    = 8  // TensorProto.name
	valueInfoNameField = 1  // ValueInfoProto.name
)

// protoField is one field of a protobuf message, kept as its encoded bytes
// (tag included) so that unknown fields pass through unchanged.
type protoField struct {
	num protowire.Number
	raw []byte // the whole field: tag and value
	val []byte // the value of a length-delimited field
}

// splitFields splits a protobuf message into its fields.
func splitFields(b []byte) ([]protoField, error) {
	var out []protoField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		f := protoField{num: num, raw: b[:n+m]}
		if typ == protowire.BytesType {
			f.val, _ = protowire.ConsumeBytes(b[n:])
		}
		out = append(out, f)
		b = b[n+m:]
	}
	return out, nil
}

// graphNode is the part of a NodeProto the fusion looks at.
type graphNode struct {
	name, op string
	in, out  []string
	plain    bool // no attributes, default domain
	raw      []byte
}

func parseNode(f protoField) (graphNode, error) {
	fs, err := splitFields(f.val)
	if err != nil {
		return graphNode{}, err
	}
	n := graphNode{plain: true, raw: f.raw}
	for _, g := range fs {
		switch g.num {
		case nodeInputField:
			n.in = append(n.in, string(g.val))
		case nodeOutputField:
			n.out = append(n.out, string(g.val))
		case nodeNameField:
			n.name = string(g.val)
		case nodeOpField:
			n.op = string(g.val)
		case nodeAttrField:
			n.plain = false
		case nodeDomainField:
			if len(g.val) > 0 {
				n.plain = false
			}
		}
	}
	return n, nil
}

// fieldName returns the string field num of the message msg ("" if none).
func fieldName(msg []byte, num protowire.Number) string {
	fs, err := splitFields(msg)
	if err != nil {
		return ""
	}
	for _, f := range fs {
		if f.num == num {
			return string(f.val)
		}
	}
	return ""
}

// fusePReLU returns model (an encoded ONNX ModelProto) with every PReLU
// subgraph of the converter replaced by a PRelu node, and how many it
// replaced (0: model returned as it is).
func fusePReLU(model []byte) ([]byte, int, error) {
	mfs, err := splitFields(model)
	if err != nil {
		return nil, 0, fmt.Errorf("read ONNX model: %w", err)
	}
	gi := -1
	for i, f := range mfs {
		if f.num == modelGraphField {
			gi = i
		}
	}
	if gi < 0 {
		return nil, 0, errors.New("read ONNX model: no graph")
	}
	gfs, err := splitFields(mfs[gi].val)
	if err != nil {
		return nil, 0, fmt.Errorf("read ONNX graph: %w", err)
	}
	var nodes []graphNode
	consts, outputs := map[string]bool{}, map[string]bool{}
	for _, f := range gfs {
		switch f.num {
		case graphNodeField:
			n, err := parseNode(f)
			if err != nil {
				return nil, 0, fmt.Errorf("read ONNX node: %w", err)
			}
			nodes = append(nodes, n)
		case graphInitField:
			consts[fieldName(f.val, tensorNameField)] = true
		case graphOutputField:
			outputs[fieldName(f.val, valueInfoNameField)] = true
		}
	}
	fused, n := fuseNodes(nodes, consts, outputs)
	if n == 0 {
		return model, 0, nil
	}
	var graph []byte
	wrote := false
	for _, f := range gfs {
		if f.num != graphNodeField {
			graph = append(graph, f.raw...)
			continue
		}
		if !wrote { // the node list, in order, where the first node was
			for _, nd := range fused {
				graph = append(graph, nd.raw...)
			}
			wrote = true
		}
	}
	var out []byte
	for i, f := range mfs {
		if i == gi {
			out = protowire.AppendTag(out, modelGraphField, protowire.BytesType)
			out = protowire.AppendBytes(out, graph)
			continue
		}
		out = append(out, f.raw...)
	}
	return out, n, nil
}

// fuseNodes finds the PReLU subgraphs among nodes (alpha an initializer in
// consts, no intermediate value used elsewhere or a graph output) and
// returns the node list with each replaced by a PRelu node in the place of
// its final Add, and the number replaced.
func fuseNodes(nodes []graphNode, consts, outputs map[string]bool) ([]graphNode, int) {
	producer := map[string]int{}
	uses := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.out {
			producer[o] = i
		}
		for _, in := range n.in {
			uses[in]++
		}
	}
	// from returns the node producing v if it is a plain op with nIn
	// inputs and one output, used only once and not a graph output.
	from := func(v, op string, nIn int) (int, bool) {
		i, ok := producer[v]
		if !ok || uses[v] != 1 || outputs[v] {
			return 0, false
		}
		n := nodes[i]
		return i, n.op == op && n.plain && len(n.in) == nIn && len(n.out) == 1
	}
	drop := map[int]bool{}
	repl := map[int]graphNode{}
	for ai, a := range nodes {
		if a.op != "Add" || !a.plain || len(a.in) != 2 || len(a.out) != 1 {
			continue
		}
		for _, ord := range [][2]int{{0, 1}, {1, 0}} {
			ids, x, alpha, ok := matchPReLU(a.in[ord[0]], a.in[ord[1]], from, nodes, consts)
			if !ok || anyIn(drop, ids) {
				continue
			}
			for _, i := range ids {
				drop[i] = true
			}
			repl[ai] = preluNode(a.name, x, alpha, a.out[0])
			break
		}
	}
	if len(repl) == 0 {
		return nodes, 0
	}
	out := make([]graphNode, 0, len(nodes))
	for i, n := range nodes {
		if r, ok := repl[i]; ok {
			out = append(out, r)
		} else if !drop[i] {
			out = append(out, n)
		}
	}
	return out, len(repl)
}

// matchPReLU checks that pos = Relu(x) and neg = Mul(alpha,
// Neg(Relu(Neg(x)))) (Mul's operands in either order) and returns the
// indices of those five nodes, x and alpha.
func matchPReLU(pos, neg string, from func(v, op string, nIn int) (int, bool), nodes []graphNode, consts map[string]bool) ([]int, string, string, bool) {
	r1, ok := from(pos, "Relu", 1)
	if !ok {
		return nil, "", "", false
	}
	x := nodes[r1].in[0]
	m, ok := from(neg, "Mul", 2)
	if !ok {
		return nil, "", "", false
	}
	for _, k := range []int{0, 1} {
		alpha, v := nodes[m].in[k], nodes[m].in[1-k]
		if !consts[alpha] {
			continue
		}
		n1, ok1 := from(v, "Neg", 1)
		if !ok1 {
			continue
		}
		r2, ok2 := from(nodes[n1].in[0], "Relu", 1)
		if !ok2 {
			continue
		}
		n0, ok3 := from(nodes[r2].in[0], "Neg", 1)
		if !ok3 || nodes[n0].in[0] != x {
			continue
		}
		return []int{r1, m, n1, r2, n0}, x, alpha, true
	}
	return nil, "", "", false
}

func anyIn(set map[int]bool, ids []int) bool {
	for _, i := range ids {
		if set[i] {
			return true
		}
	}
	return false
}

// preluNode encodes the node PRelu(x, slope) → out.
func preluNode(name, x, slope, out string) graphNode {
	var b []byte
	b = appendString(b, nodeInputField, x)
	b = appendString(b, nodeInputField, slope)
	b = appendString(b, nodeOutputField, out)
	b = appendString(b, nodeNameField, name)
	b = appendString(b, nodeOpField, "PRelu")
	raw := protowire.AppendTag(nil, graphNodeField, protowire.BytesType)
	raw = protowire.AppendBytes(raw, b)
	return graphNode{name: name, op: "PRelu", in: []string{x, slope}, out: []string{out}, plain: true, raw: raw}
}
