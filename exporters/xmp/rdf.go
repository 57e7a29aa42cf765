package xmp

import "strings"

// Descriptions returns the rdf:Description children of rdf:RDF.
func (d *Doc) Descriptions() []*Elem {
	r := d.RDF()
	if r == nil {
		return nil
	}
	var out []*Elem
	for _, e := range r.Elems() {
		if e.Is(NSRDF, "Description") {
			out = append(out, e)
		}
	}
	return out
}

// Top returns the first top-level rdf:Description, adding one with
// rdf:about="" when there is none.
func (d *Doc) Top() *Elem {
	if ds := d.Descriptions(); len(ds) > 0 {
		return ds[0]
	}
	r := d.RDF()
	p := r.EnsurePrefix(NSRDF, "rdf")
	desc := &Elem{Prefix: p, Local: "Description", Attrs: []Attr{{Prefix: p, Local: "about", Value: ""}}}
	r.AppendChild(desc)
	return desc
}

// Field is one property of a resource: an attribute (Attr >= 0) or an
// element (El != nil).
type Field struct {
	Res  *Elem
	Attr int
	El   *Elem
}

// Value is the simple value of f: the attribute value, or the element's
// text (rdf:resource for an empty element referring to a resource).
func (f Field) Value() string {
	if f.El == nil {
		return f.Res.Attrs[f.Attr].Value
	}
	if len(f.El.Elems()) == 0 {
		if v, ok := f.El.Attr(NSRDF, "resource"); ok {
			return v
		}
	}
	return f.El.Text()
}

// Resource returns the element that holds the fields of the struct value of
// property (or array item) e: e itself for rdf:parseType="Resource" and for
// the attribute shorthand, or its rdf:Description child.
func Resource(e *Elem) *Elem {
	if v, ok := e.Attr(NSRDF, "parseType"); ok && v == "Resource" {
		return e
	}
	for _, c := range e.Elems() {
		if c.Is(NSRDF, "Description") {
			return c
		}
	}
	return e
}

// FindField returns the property {ns}local of resource r, looking in any of
// the namespace URIs given (aliases of one vocabulary).
func FindField(r *Elem, local string, ns ...string) (Field, bool) {
	for i, a := range r.Attrs {
		if a.Local != local || a.Prefix == "xmlns" || a.Prefix == "" {
			continue
		}
		u := r.AttrNS(a)
		for _, n := range ns {
			if u == n {
				return Field{Res: r, Attr: i}, true
			}
		}
	}
	for _, c := range r.Elems() {
		if c.Local != local {
			continue
		}
		u := c.NS()
		for _, n := range ns {
			if u == n {
				return Field{Res: r, Attr: -1, El: c}, true
			}
		}
	}
	return Field{}, false
}

// Value returns the simple value of {ns}local in r.
func Value(r *Elem, local string, ns ...string) (string, bool) {
	f, ok := FindField(r, local, ns...)
	if !ok {
		return "", false
	}
	return f.Value(), true
}

// FindTop finds a top-level property in any rdf:Description.
func (d *Doc) FindTop(local string, ns ...string) (Field, bool) {
	for _, desc := range d.Descriptions() {
		if f, ok := FindField(desc, local, ns...); ok {
			return f, true
		}
	}
	return Field{}, false
}

// shorthand reports whether r is a property element written in the
// attribute shorthand (fields as attributes, no child elements allowed).
func shorthand(r *Elem) bool {
	if r.Local == "Description" && r.NS() == NSRDF {
		return false
	}
	if v, ok := r.Attr(NSRDF, "parseType"); ok && v == "Resource" {
		return false
	}
	return len(r.Elems()) == 0 && len(r.Attrs) > 0 && hasFieldAttr(r)
}

func hasFieldAttr(r *Elem) bool {
	for _, a := range r.Attrs {
		if a.Prefix == "" || a.Prefix == "xmlns" || a.Prefix == "xml" {
			continue
		}
		if r.AttrNS(a) != NSRDF {
			return true
		}
	}
	return false
}

// SetValue sets the simple property {ns}local of r to v, in place when it
// exists (attribute or element), else as a new element (or attribute, for a
// resource written in the attribute shorthand). It reports whether anything
// changed.
func SetValue(r *Elem, ns, prefix, local, v string) bool {
	if f, ok := FindField(r, local, ns); ok {
		if f.El == nil {
			if r.Attrs[f.Attr].Value == v {
				return false
			}
			r.Attrs[f.Attr].Value = v
			return true
		}
		if len(f.El.Elems()) == 0 && f.El.Text() == v {
			return false
		}
		f.El.SetText(v)
		return true
	}
	p := r.EnsurePrefix(ns, prefix)
	if shorthand(r) {
		r.Attrs = append(r.Attrs, Attr{Prefix: p, Local: local, Value: v})
		return true
	}
	e := &Elem{Prefix: p, Local: local}
	r.AppendChild(e)
	e.SetText(v)
	return true
}

// RemoveField removes {ns}local from r; it reports whether it was there.
func RemoveField(r *Elem, local string, ns ...string) bool {
	f, ok := FindField(r, local, ns...)
	if !ok {
		return false
	}
	if f.El == nil {
		r.Attrs = append(r.Attrs[:f.Attr], r.Attrs[f.Attr+1:]...)
		return true
	}
	r.RemoveChild(f.El)
	return true
}

// AddStruct appends the struct property {ns}local to r written as
// rdf:parseType="Resource" and returns it (its own resource).
func AddStruct(r *Elem, ns, prefix, local string) *Elem {
	e := NewElem(r, ns, prefix, local)
	rp := r.EnsurePrefix(NSRDF, "rdf")
	e.Attrs = append(e.Attrs, Attr{Prefix: rp, Local: "parseType", Value: "Resource"})
	r.AppendChild(e)
	return e
}

// ArrayOf returns the rdf:Bag, rdf:Seq or rdf:Alt inside property element
// e, or nil.
func ArrayOf(e *Elem) *Elem {
	for _, c := range e.Elems() {
		if c.NS() == NSRDF && (c.Local == "Bag" || c.Local == "Seq" || c.Local == "Alt") {
			return c
		}
	}
	return nil
}

// Items returns the rdf:li children of an array.
func Items(arr *Elem) []*Elem {
	var out []*Elem
	if arr == nil {
		return nil
	}
	for _, c := range arr.Elems() {
		if c.Is(NSRDF, "li") {
			out = append(out, c)
		}
	}
	return out
}

// ItemValues returns the simple values of an array's items.
func ItemValues(arr *Elem) []string {
	var out []string
	for _, li := range Items(arr) {
		out = append(out, li.Text())
	}
	return out
}

// AddArray appends the array property {ns}local of kind "Bag", "Seq" or
// "Alt" to r and returns the array element.
func AddArray(r *Elem, ns, prefix, local, kind string) *Elem {
	e := NewElem(r, ns, prefix, local)
	r.AppendChild(e)
	rp := e.EnsurePrefix(NSRDF, "rdf")
	arr := &Elem{Prefix: rp, Local: kind}
	e.AppendChild(arr)
	return arr
}

// AddItem appends an rdf:li to arr: with text v when res is false, else as
// an empty rdf:parseType="Resource" struct to be filled by the caller.
func AddItem(arr *Elem, v string, res bool) *Elem {
	rp := arr.EnsurePrefix(NSRDF, "rdf")
	li := &Elem{Prefix: rp, Local: "li"}
	if res {
		li.Attrs = append(li.Attrs, Attr{Prefix: rp, Local: "parseType", Value: "Resource"})
	}
	arr.AppendChild(li)
	if !res {
		li.SetText(v)
	}
	return li
}

// IsBlank reports whether s is empty or only whitespace.
func IsBlank(s string) bool { return strings.TrimSpace(s) == "" }
