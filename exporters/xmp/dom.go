// Package xmp is a small, lossless XMP/RDF document model for merging
// sidecars: it parses a packet into a tree that keeps every namespace
// prefix, attribute, comment, processing instruction and whitespace run, lets
// a caller read and change RDF properties whatever their serialisation form
// (attribute, element, rdf:parseType="Resource", nested rdf:Description,
// rdf:Bag/Seq/Alt), and writes the tree back. Parsing and writing a document
// without changes is a fixed point, so a merge that changes nothing writes
// the same bytes.
//
// encoding/xml's namespace translation loses prefixes, so the tree is built
// from raw tokens and namespaces are resolved here, through the xmlns
// declarations in scope.
package xmp

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Namespace URIs of the RDF and XML vocabularies.
const (
	NSRDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	NSXML = "http://www.w3.org/XML/1998/namespace"
	NSX   = "adobe:ns:meta/"
)

// Node is one node of a document: *Elem, Text, Comment, ProcInst or
// Directive.
type Node interface{ isNode() }

// Text is character data (already unescaped).
type Text string

// Comment is an XML comment, without the delimiters.
type Comment string

// ProcInst is a processing instruction such as <?xpacket ...?>.
type ProcInst struct {
	Target string
	Inst   string
}

// Directive is a <!...> directive, without the delimiters.
type Directive string

// Attr is an attribute with its raw prefix ("" when unprefixed; "xmlns" for
// a namespace declaration, whose Local is then the declared prefix).
type Attr struct {
	Prefix, Local, Value string
}

// Elem is an element with its raw prefix.
type Elem struct {
	Prefix, Local string
	Attrs         []Attr
	Children      []Node
	Parent        *Elem
}

func (*Elem) isNode()     {}
func (Text) isNode()      {}
func (Comment) isNode()   {}
func (ProcInst) isNode()  {}
func (Directive) isNode() {}

// Doc is a parsed document: the top-level nodes in order.
type Doc struct {
	Nodes  []Node
	srcLen int // size of the parsed text: the buffer Bytes starts with
}

// ErrSyntax is wrapped by Parse errors for malformed XML.
var ErrSyntax = errors.New("malformed XMP")

// Limits bound what Parse builds, so that a hostile or runaway document
// costs bounded memory and time. Zero fields take the defaults.
type Limits struct {
	MaxDepth    int // element nesting
	MaxElements int // elements in all
}

// Default limits: far above real sidecars (a 200 000-keyword sidecar in
// three keyword families has about 600 000 elements, depth 7).
const (
	DefaultMaxDepth    = 64
	DefaultMaxElements = 2_000_000
)

// ErrLimit is wrapped by Parse errors for documents over the Limits.
var ErrLimit = errors.New("XMP over faced's parse limits")

// Parse reads an XMP packet or sidecar with the default Limits. A leading
// UTF-8 byte order mark is dropped.
func Parse(data []byte) (*Doc, error) { return ParseLimited(data, Limits{}) }

// ParseLimited is Parse with explicit limits.
func ParseLimited(data []byte, lim Limits) (*Doc, error) {
	return ParseContext(context.Background(), data, lim)
}

// ParseContext is ParseLimited that gives up with ctx's error when ctx ends
// (a sidecar of tens of MB takes seconds to parse).
func ParseContext(ctx context.Context, data []byte, lim Limits) (*Doc, error) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxElements <= 0 {
		lim.MaxElements = DefaultMaxElements
	}
	depth, elems := 0, 0
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		}
		return nil, fmt.Errorf("%w: unsupported encoding %q", ErrSyntax, label)
	}
	doc := &Doc{srcLen: len(data)}
	var cur *Elem
	add := func(n Node) {
		if cur == nil {
			doc.Nodes = append(doc.Nodes, n)
		} else {
			cur.Children = append(cur.Children, n)
		}
	}
	for tokens := 1; ; tokens++ {
		if tokens&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elems++
			if depth > lim.MaxDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrLimit, lim.MaxDepth)
			}
			if elems > lim.MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrLimit, lim.MaxElements)
			}
			e := &Elem{Prefix: t.Name.Space, Local: t.Name.Local, Parent: cur}
			for _, a := range t.Attr {
				e.Attrs = append(e.Attrs, Attr{Prefix: a.Name.Space, Local: a.Name.Local, Value: a.Value})
			}
			add(e)
			cur = e
		case xml.EndElement:
			if cur == nil || cur.Prefix != t.Name.Space || cur.Local != t.Name.Local {
				return nil, fmt.Errorf("%w: unexpected end element </%s>", ErrSyntax, qname(t.Name.Space, t.Name.Local))
			}
			cur = cur.Parent
			depth--
		case xml.CharData:
			add(Text(string(t)))
		case xml.Comment:
			add(Comment(string(t)))
		case xml.ProcInst:
			add(ProcInst{Target: t.Target, Inst: string(t.Inst)})
		case xml.Directive:
			add(Directive(string(t)))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%w: element <%s> not closed", ErrSyntax, qname(cur.Prefix, cur.Local))
	}
	if doc.RDF() == nil {
		return nil, fmt.Errorf("%w: no rdf:RDF element", ErrSyntax)
	}
	return doc, nil
}

func qname(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}

// Bytes serialises the document.
func (d *Doc) Bytes() []byte {
	var b bytes.Buffer
	b.Grow(d.srcLen + d.srcLen/2 + 4096)
	for _, n := range d.Nodes {
		writeNode(&b, n)
	}
	return b.Bytes()
}

func writeNode(b *bytes.Buffer, n Node) {
	switch t := n.(type) {
	case *Elem:
		b.WriteByte('<')
		b.WriteString(qname(t.Prefix, t.Local))
		for _, a := range t.Attrs {
			b.WriteByte(' ')
			b.WriteString(qname(a.Prefix, a.Local))
			b.WriteString(`="`)
			escape(b, a.Value, true)
			b.WriteByte('"')
		}
		if len(t.Children) == 0 {
			b.WriteString("/>")
			return
		}
		b.WriteByte('>')
		for _, c := range t.Children {
			writeNode(b, c)
		}
		b.WriteString("</")
		b.WriteString(qname(t.Prefix, t.Local))
		b.WriteByte('>')
	case Text:
		escape(b, string(t), false)
	case Comment:
		b.WriteString("<!--")
		b.WriteString(string(t))
		b.WriteString("-->")
	case ProcInst:
		b.WriteString("<?")
		b.WriteString(t.Target)
		if t.Inst != "" {
			b.WriteByte(' ')
			b.WriteString(t.Inst)
		}
		b.WriteString("?>")
	case Directive:
		b.WriteString("<!")
		b.WriteString(string(t))
		b.WriteByte('>')
	}
}

func escape(b *bytes.Buffer, s string, attr bool) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			if attr {
				b.WriteString("&quot;")
			} else {
				b.WriteRune(r)
			}
		case '\r':
			b.WriteString("&#xD;")
		case '\n':
			if attr {
				b.WriteString("&#xA;")
			} else {
				b.WriteRune(r)
			}
		case '\t':
			if attr {
				b.WriteString("&#x9;")
			} else {
				b.WriteRune(r)
			}
		default:
			b.WriteRune(r)
		}
	}
}

// RDF returns the rdf:RDF element, or nil.
func (d *Doc) RDF() *Elem {
	var find func(ns []Node) *Elem
	find = func(ns []Node) *Elem {
		for _, n := range ns {
			if e, ok := n.(*Elem); ok {
				if e.Is(NSRDF, "RDF") {
					return e
				}
				if r := find(e.Children); r != nil {
					return r
				}
			}
		}
		return nil
	}
	return find(d.Nodes)
}

// LookupNS returns the namespace URI bound to prefix at e ("" if unbound).
func (e *Elem) LookupNS(prefix string) string {
	switch prefix {
	case "xml":
		return NSXML
	case "xmlns":
		return ""
	}
	for c := e; c != nil; c = c.Parent {
		for _, a := range c.Attrs {
			if prefix == "" && a.Prefix == "" && a.Local == "xmlns" {
				return a.Value
			}
			if prefix != "" && a.Prefix == "xmlns" && a.Local == prefix {
				return a.Value
			}
		}
	}
	return ""
}

// NS returns e's namespace URI.
func (e *Elem) NS() string { return e.LookupNS(e.Prefix) }

// Is reports whether e is the element {ns}local.
func (e *Elem) Is(ns, local string) bool { return e.Local == local && e.NS() == ns }

// AttrNS returns the namespace URI of a (unprefixed attributes have none).
func (e *Elem) AttrNS(a Attr) string {
	if a.Prefix == "" {
		return ""
	}
	return e.LookupNS(a.Prefix)
}

// Attr returns the value of attribute {ns}local.
func (e *Elem) Attr(ns, local string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Local == local && a.Prefix != "xmlns" && e.AttrNS(a) == ns {
			return a.Value, true
		}
	}
	return "", false
}

// Elems returns e's element children.
func (e *Elem) Elems() []*Elem {
	var out []*Elem
	for _, c := range e.Children {
		if ce, ok := c.(*Elem); ok {
			out = append(out, ce)
		}
	}
	return out
}

// hasElem reports whether e has an element child.
func (e *Elem) hasElem() bool {
	for _, c := range e.Children {
		if _, ok := c.(*Elem); ok {
			return true
		}
	}
	return false
}

// Text returns the concatenated character data directly inside e.
func (e *Elem) Text() string {
	var b strings.Builder
	for _, c := range e.Children {
		if t, ok := c.(Text); ok {
			b.WriteString(string(t))
		}
	}
	return b.String()
}

// SetText replaces e's children by the single text s.
func (e *Elem) SetText(s string) {
	e.Children = []Node{Text(s)}
}

// prefixFor returns a prefix bound to uri in scope at e, or "" and false.
func (e *Elem) prefixFor(uri string) (string, bool) {
	seen := map[string]bool{}
	for c := e; c != nil; c = c.Parent {
		for _, a := range c.Attrs {
			if a.Prefix == "xmlns" && !seen[a.Local] {
				seen[a.Local] = true
				if a.Value == uri {
					return a.Local, true
				}
			}
		}
	}
	return "", false
}

// EnsurePrefix returns a prefix bound to uri at e, declaring one (preferred,
// or preferred with a number when that is taken) on the outermost
// rdf:Description around e, or on e itself, when none is in scope.
func (e *Elem) EnsurePrefix(uri, preferred string) string {
	if p, ok := e.prefixFor(uri); ok {
		return p
	}
	host := e
	for c := e; c != nil; c = c.Parent {
		if c.Local == "Description" && c.NS() == NSRDF {
			host = c
		}
	}
	for i := 0; ; i++ {
		p := preferred
		if i > 0 {
			p = fmt.Sprintf("%s%d", preferred, i)
		}
		if host.LookupNS(p) == "" && e.LookupNS(p) == "" {
			host.Attrs = append(host.Attrs, Attr{Prefix: "xmlns", Local: p, Value: uri})
			if e.LookupNS(p) == uri {
				return p
			}
			host.Attrs = host.Attrs[:len(host.Attrs)-1]
		}
	}
}

// indentOf returns the whitespace that precedes e on its line, and whether
// the document is laid out on lines at all around e.
func (e *Elem) indentOf() (string, bool) {
	if e.Parent == nil {
		return "", true
	}
	sib := e.Parent.Children
	for i, c := range sib {
		if c == Node(e) {
			if i > 0 {
				if t, ok := sib[i-1].(Text); ok {
					s := string(t)
					if j := strings.LastIndexByte(s, '\n'); j >= 0 {
						return s[j+1:], true
					}
					return "", false
				}
			}
			return "", false
		}
	}
	return "", false
}

// AppendChild appends c as the last element child of e, keeping the
// surrounding layout (one element per line, indented one more space than
// e, when e's document is laid out on lines). It costs what follows the
// last element (usually one whitespace node), not the number of children:
// appending n keywords is linear in n.
func (e *Elem) AppendChild(c *Elem) {
	c.Parent = e
	lastElem, firstElem := -1, -1
	for i := len(e.Children) - 1; i >= 0; i-- {
		if _, ok := e.Children[i].(*Elem); ok {
			lastElem = i
			break
		}
	}
	if lastElem >= 0 {
		for i, n := range e.Children {
			if _, ok := n.(*Elem); ok {
				firstElem = i
				break
			}
		}
		var ins []Node
		if firstElem > 0 {
			if t, ok := e.Children[firstElem-1].(Text); ok && strings.TrimSpace(string(t)) == "" && t != "" {
				ins = append(ins, t)
			}
		}
		ins = append(ins, c)
		e.Children = slices.Insert(e.Children, lastElem+1, ins...)
		return
	}
	if strings.TrimSpace(e.Text()) != "" {
		e.Children = append(e.Children, c)
		return
	}
	ind, lines := e.indentOf()
	if lines {
		e.Children = []Node{Text("\n" + ind + " "), c, Text("\n" + ind)}
	} else {
		e.Children = []Node{Text(" "), c, Text(" ")}
	}
}

// RemoveChild removes c from e together with the whitespace before it.
func (e *Elem) RemoveChild(c *Elem) {
	for i, n := range e.Children {
		if n != Node(c) {
			continue
		}
		start := i
		if i > 0 {
			if t, ok := e.Children[i-1].(Text); ok && strings.TrimSpace(string(t)) == "" {
				start = i - 1
			}
		}
		e.Children = append(e.Children[:start], e.Children[i+1:]...)
		// An element left with only whitespace becomes empty, as written.
		if !e.hasElem() && strings.TrimSpace(e.Text()) == "" {
			e.Children = nil
		}
		c.Parent = nil
		return
	}
}

// InsertChildAt inserts c at the element-child index of old (replacing
// nothing): used to put a rebuilt element where the previous one was.
func (e *Elem) ReplaceChild(old, c *Elem) {
	for i, n := range e.Children {
		if n == Node(old) {
			c.Parent = e
			e.Children[i] = c
			old.Parent = nil
			return
		}
	}
	e.AppendChild(c)
}

// NewElem makes a detached element {uri}local whose prefix is resolved (and
// declared if needed) at parent; append it to parent with AppendChild.
func NewElem(parent *Elem, uri, preferred, local string) *Elem {
	p := parent.EnsurePrefix(uri, preferred)
	return &Elem{Prefix: p, Local: local}
}
