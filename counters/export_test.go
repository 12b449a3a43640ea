package counters

// Test hooks for the external tests (package counters_test), which live
// outside the package because internal/netlab imports counters.

var (
	DumpLinks      = (*Reader).dumpLinks
	DumpStats      = (*Reader).dumpStats
	EncodeMessages = encodeMessages
	EditAttrs      = editAttrs
	WriteFixture   = writeFixture
)

const (
	RecordFrames = recordFrames
	RecordUDP    = recordUDP
)

// NamesEvery is how often Links dumps names when nothing else makes it.
const NamesEvery = namesEvery

// RefuseStats makes r send RTM_GETSTATS requests with a zero filter_mask,
// which the kernel refuses with EINVAL: r then takes the fallback path of
// a kernel without RTM_GETSTATS.
func RefuseStats(r *Reader) { r.filter = 0 }

// LinkDumps is the number of RTM_GETLINK dumps r has made.
func LinkDumps(r *Reader) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.linkDumps
}

// UsesStats reports whether r reads counters with RTM_GETSTATS (false once
// the kernel refused it).
func UsesStats(r *Reader) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.noStats
}

// Deafen closes r's link events socket: r then finds renames only by
// dumping names every NamesEvery calls, as when it could not open one.
func Deafen(r *Reader) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events != nil {
		r.events.Close()
		r.events = nil
	}
}

// ShrinkEvents sets the receive buffer of r's link events socket to the
// kernel's minimum, so that a few events overflow it.
func ShrinkEvents(r *Reader) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events.SetReadBuffer(1)
}
