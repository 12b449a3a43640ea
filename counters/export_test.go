package counters

// Test hooks for the external tests (package counters_test), which live
// outside the package because internal/netlab imports counters.

var (
	DumpLinks      = (*Reader).dumpLinks
	EncodeMessages = encodeMessages
	EditAttrs      = editAttrs
	WriteFixture   = writeFixture
)

const (
	RecordFrames = recordFrames
	RecordUDP    = recordUDP
)
