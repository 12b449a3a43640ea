package drops

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// StackRequest says which drops the kernel program records the stacks of:
// those at a location in [Lo, Hi) and, when asked, of one reason and one
// interface. Hi is 0 for none.
type StackRequest struct {
	Lo, Hi uint64
	// MatchReason limits the request to drops of Reason.
	MatchReason bool
	Reason      uint32
	// MatchIface limits it to drops at the interface Ifindex of the
	// namespace Netns (and NetnsCookie, where the kernel has cookies).
	MatchIface  bool
	Ifindex     uint32
	Netns       uint32
	NetnsCookie uint64
}

// SiteStacks asks for the stacks of one row of the drop sites: its
// location and reason, and its interface unless the row is grouped over
// several. ok is false for a row of no single location (grouped by reason
// over several sites, the overflow row).
func SiteStacks(s Site) (req StackRequest, ok bool) {
	k := s.Key
	if k.Location == 0 || s.Function == OverflowFunction {
		return req, false
	}
	req = StackRequest{Lo: k.Location, Hi: k.Location + 1, MatchReason: true, Reason: k.Reason}
	// A grouped row's key keeps only its location and reason.
	if k.Ifindex != 0 || k.Netns != 0 || k.NetnsCookie != 0 {
		req.MatchIface, req.Ifindex, req.Netns, req.NetnsCookie = true, k.Ifindex, k.Netns, k.NetnsCookie
	}
	return req, true
}

// RawStack is how many drops of one kernel key took one kernel stack, as
// the tracer read it: return addresses, innermost first.
type RawStack struct {
	Key
	Frames []uint64
	Count  uint64
}

// StackFailures counts the requested drops whose stack was not counted, by
// why. They are never silent: StackTrace carries them into every output.
type StackFailures struct {
	// Collisions are stacks that hashed to a bucket of the stack map
	// another stack held.
	Collisions uint64 `json:"collisions"`
	// StacksFull are stacks refused because every entry of the stack map
	// was in use.
	StacksFull uint64 `json:"stacks_full"`
	// CountsFull are drops whose (key, stack) pair found the count map
	// full.
	CountsFull uint64 `json:"counts_full"`
	// Failed are stacks the kernel could not walk.
	Failed uint64 `json:"failed"`
	// Suppressed are drops beyond the rate limit (1024 stacks per CPU
	// and second, STACK_LIMIT in drop.c): stacks cost about 1.5 us each.
	Suppressed uint64 `json:"suppressed"`
}

// Total is the number of requested drops without a counted stack.
func (f StackFailures) Total() uint64 {
	return f.Collisions + f.StacksFull + f.CountsFull + f.Failed + f.Suppressed
}

// KernelStack is one distinct kernel call stack of a site's drops, innermost
// frame first, each as function+0xoffset [module].
type KernelStack struct {
	Count  uint64   `json:"count"`
	Frames []string `json:"frames"`
}

// StackTrace says what a collection of stacks covered: what was asked, for
// how long, how many drops' stacks were counted and how many were not.
type StackTrace struct {
	// Request names what was asked: the --stacks symbol, or a site.
	Request string  `json:"request"`
	Seconds float64 `json:"seconds"`
	// Recorded is how many drops' stacks the sites' stacks count.
	Recorded uint64 `json:"recorded"`
	StackFailures
}

// StackReport is the outcome of one collection: the stacks by kernel key,
// most frequent first, and what it covered.
type StackReport struct {
	Stacks map[Key][]KernelStack
	Trace  StackTrace
}

// tracingFrame says whether a frame belongs to the tracing machinery that
// ran skbtop's program (the program, the tracepoint's trampolines), not to
// the path that dropped the packet.
func tracingFrame(fn string) bool {
	for _, p := range []string{"bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_", "bpf_get_stackid", "__bpf_get_stackid"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// ResolveStacks names the frames of counts and merges the stacks that read
// the same: each key's stacks, most frequent first (ties by frames). Leading
// frames of the tracing machinery (and unnamed ones, the program) are left
// out, so a stack starts where the kernel freed the skb.
func ResolveStacks(counts []RawStack, r Resolver) map[Key][]KernelStack {
	type at struct {
		key    Key
		frames string
	}
	merged := map[at]*KernelStack{}
	out := map[Key][]KernelStack{}
	for _, c := range counts {
		var frames []string
		for _, addr := range c.Frames {
			loc, ok := r.Locate(addr)
			// The program itself is JIT code that kallsyms may not
			// name (bpf_jit_kallsyms off, or loaded after it was
			// read): before the first named frame, unnamed ones are
			// the program.
			if len(frames) == 0 && (!ok || tracingFrame(loc.Function)) {
				continue
			}
			frames = append(frames, frameName(loc, ok))
		}
		k := at{c.Key, strings.Join(frames, "\n")}
		if s, ok := merged[k]; ok {
			s.Count += c.Count
			continue
		}
		merged[k] = &KernelStack{Count: c.Count, Frames: frames}
	}
	for k, s := range merged {
		out[k.key] = append(out[k.key], *s)
	}
	for _, list := range out {
		sortStacks(list)
	}
	return out
}

// frameName renders a return address as function+0xoffset [module], or the
// bare address when no symbol covers it.
func frameName(loc Location, ok bool) string {
	if !ok {
		return "0x" + strconv.FormatUint(loc.Address, 16)
	}
	s := loc.Function + "+0x" + strconv.FormatUint(loc.Offset, 16)
	if loc.Module != "" {
		s += " [" + loc.Module + "]"
	}
	return s
}

// WithStacks returns the snapshot with each site's stacks from the report
// and its StackTrace set; the snapshot's own sites are not changed.
func (s Snapshot) WithStacks(rep StackReport) Snapshot {
	sites := slices.Clone(s.Sites)
	for i := range sites {
		if st, ok := rep.Stacks[sites[i].Key]; ok && sites[i].Function != OverflowFunction {
			sites[i].Stacks = st
		}
	}
	s.Sites = sites
	tr := rep.Trace
	s.StackTrace = &tr
	return s
}

// All merges the stacks of every key: what one row of several keys (a
// grouped row) took, most frequent first.
func (r StackReport) All() []KernelStack {
	byFrames := map[string]int{}
	var out []KernelStack
	for _, list := range r.Stacks {
		for _, st := range list {
			k := strings.Join(st.Frames, "\n")
			if i, ok := byFrames[k]; ok {
				out[i].Count += st.Count
				continue
			}
			byFrames[k] = len(out)
			out = append(out, KernelStack{Count: st.Count, Frames: st.Frames})
		}
	}
	sortStacks(out)
	return out
}

func sortStacks(list []KernelStack) {
	slices.SortFunc(list, func(a, b KernelStack) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), slices.Compare(a.Frames, b.Frames))
	})
}
