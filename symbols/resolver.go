package symbols

import "github.com/skbtop/skbtop/drops"

// Resolver names what the kernel program reports as numbers, for
// drops.Aggregator: addresses through kallsyms, reasons through the kernel's
// enum, namespaces through a lookup the caller provides.
type Resolver struct {
	// Kallsyms resolves addresses; nil leaves them raw.
	Kallsyms *Kallsyms
	// Reasons names drop reasons; nil names them REASON_<n>.
	Reasons *Reasons
	// Namespaces names network namespaces (see netns.Names.Name); nil
	// leaves them unnamed.
	Namespaces func(netns uint32, fresh bool) string
}

var _ drops.Resolver = Resolver{}

// Locate resolves a kernel text address to function+offset [module].
func (r Resolver) Locate(addr uint64) (drops.Location, bool) {
	loc := drops.Location{Address: addr}
	if r.Kallsyms == nil {
		return loc, false
	}
	sym, off, ok := r.Kallsyms.Lookup(addr)
	if !ok {
		return loc, false
	}
	loc.Function, loc.Offset, loc.Module = sym.Name, off, sym.Module
	return loc, true
}

// Reason names a drop reason code.
func (r Resolver) Reason(code uint32) string { return r.Reasons.Name(code) }

// Namespace names a network namespace.
func (r Resolver) Namespace(netns uint32, fresh bool) string {
	if r.Namespaces == nil {
		return ""
	}
	return r.Namespaces(netns, fresh)
}
