package drops

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// HistoryLen is how many intervals of rate history a site keeps: a minute at
// the default one-second interval.
const HistoryLen = 60

// SamplesPerSite is how many recent sampled packets a site keeps.
const SamplesPerSite = 8

// Config sets up an Aggregator.
type Config struct {
	// Resolver names addresses, reasons and namespaces.
	Resolver Resolver
	// Host and Kernel stamp every snapshot.
	Host, Kernel string
	// Home is the namespace reported on: its interfaces go by their names
	// alone, and its link counters are in the readings.
	Home NamespaceID
	// Watched names Home in every snapshot when skbtop watches one
	// namespace (--netns); nil otherwise.
	Watched *Watched
	// Only counts drops in Home alone, by cookie where the kernel has one:
	// the kernel filters on the inode, which a namespace made after Home
	// is gone may hold.
	Only bool
	// History keeps each site's rate over the last HistoryLen intervals
	// (Site.History, the live view's sparklines). Headless outputs never
	// show it, and with a full map it is most of skbtop's memory.
	History bool
	// AllCounters shows protocol counters that did not change too.
	AllCounters bool
	// Warnings are shown in every snapshot (hidden kernel addresses, ...).
	Warnings []string
	// NoReasons says that the kernel reports no drop reasons: every
	// snapshot says so in its Capabilities.
	NoReasons bool
}

// NamespaceID identifies a network namespace: its inode, which the kernel
// reuses, and its cookie, which it never does (0 on kernels before 5.14).
type NamespaceID struct {
	Inode  uint32
	Cookie uint64
}

// Aggregator is the one place where readings become what skbtop shows:
// every source's cumulative values go in through Update, each through a
// meter (see window.go) with one reset rule, and Snapshot returns the
// finished document that every output only formats. The refresh loop, the
// sample reader and the UI may use it concurrently.
//
// It also keeps identities true over time. A namespace is its inode and
// cookie, so a new namespace that gets a deleted one's inode is another
// namespace, and the old one's rows are marked gone. An interface is its
// namespace, ifindex and a lifetime that ends when the index comes back
// under another name or disappears from the namespace's own interface list:
// the rows of an ended lifetime keep their counts under their last name,
// marked gone, and the new interface counts from zero.
type Aggregator struct {
	cfg Config
	// home is Config.Home, with its cookie learned from the kernel's keys
	// where user space could not read it (Linux 5.12 and 5.13 have the
	// cookie but not SO_NETNS_COOKIE).
	home NamespaceID

	mu sync.Mutex
	// started is set by the first reading, which is the baseline.
	started bool
	// start is when the window began (first reading or Reset); last is
	// the latest reading and interval the length of the one before it.
	start, last time.Time
	interval    float64
	// at is the reading being taken in, as meters tell time (sinceEpoch).
	at time.Duration

	// sites holds every row's meters, current and ended lifetimes alike;
	// live maps a kernel key to the row that counts it now.
	sites  map[siteKey]*siteState
	live   map[Key]*siteState
	health healthMeters
	keys   [2]uint32 // Health.Keys, Health.MaxKeys

	// overflowed counts per interface the drops that found the kernel
	// map full.
	overflowed map[ifaceID]*meter

	links map[linkID]*linkState
	// linkRows are links in ifindex order, made again when one comes or
	// goes (nil).
	linkRows  []linkRow
	linksRead bool
	stack     []stackState

	ifaces     map[ifaceID]*ifaceLife
	namespaces map[NamespaceID]*nsLife
	// newest is the cookie of the namespace that appeared last with each
	// inode: the one that holds the inode now. asked is the cookie of the namespace the
	// resolver last named for each inode.
	newest map[uint32]uint64
	asked  map[uint32]uint64

	samples map[Key][]Packet
	// sampled counts each key's samples since the window began.
	sampled  map[Key]uint64
	retrans  retransAgg
	errors   []string
	warnings []string

	// cache is the last snapshot; dirty says something it shows changed
	// since. An idle map of thousands of sites costs nothing to show.
	cache Snapshot
	dirty bool
	// reads counts the readings of sites (siteState.seenAt).
	reads uint64
	// ranking numbers the times the rows were put in name order.
	ranking uint64
	// join is the working memory of the snapshots' interface rows,
	// siteOrder and siteAt that of their sites' order (sortLocked).
	join      joinScratch
	siteOrder []siteEntry
	siteAt    []int
	// listings numbers the snapshots that listed the rows anew (not
	// those that only moved histories); listed is how many rows with a
	// state the last listed, overflowListed whether it had the map-full
	// row; names is its Names.
	listings       uint64
	listed         int
	overflowListed bool
	names          uint64
	// version is the last snapshot's Version; histDirty says a site's
	// history moved since, and nothing else did.
	version   uint64
	histDirty bool
}

// siteKey is a row: a kernel key during one lifetime of its interface.
type siteKey struct {
	Key
	gen uint32
}

type siteState struct {
	key            siteKey
	packets, bytes meter
	hist           *history
	// seenAt is the reading (Aggregator.reads) that last had the key:
	// a counter, not a flag to clear, so that a reading walks the rows
	// once, not twice.
	seenAt uint64
	// gone marks a row whose interface lifetime ended; ifname is the name
	// its interface had.
	gone   bool
	ifname string
	// named holds the parts of the row's names that never change for a
	// key (function, offset, reason, protocol), made at its first snapshot.
	named *Site
	// rank is the row's place among the snapshot's rows by name (see
	// Aggregator.sortLocked), as of ranking number ranked; ranked is zero
	// when the row was never ranked or was renamed since.
	rank   int
	ranked uint64
	// listed is the listing (Aggregator.listings) that last had the row,
	// names what it was called there.
	listed uint64
	names  rowNames
	// ns and life are the entries of the row's namespace and interface,
	// once looked up; live says the row counts its kernel key now
	// (Aggregator.live holds it).
	ns   *nsLife
	life *ifaceLife
	live bool
	// sampled and samples are what the row's last snapshot showed of its
	// key's samples (sharedSamples; a row's L3 label never changes);
	// samplesCurrent says no sample came and no reset happened since, so
	// that a snapshot of thousands of rows looks up and checks only the
	// rows that got samples.
	sampled        uint64
	samples        []Packet
	samplesCurrent bool
}

type healthMeters struct {
	sampled, suppressed, lost, overflowPackets, overflowBytes, recursion meter
}

// each calls fn with every health meter and the value of h it follows.
func (hm *healthMeters) each(h Health, fn func(m *meter, v uint64)) {
	fn(&hm.sampled, h.Sampled)
	fn(&hm.suppressed, h.Suppressed)
	fn(&hm.lost, h.Lost)
	fn(&hm.overflowPackets, h.OverflowPackets)
	fn(&hm.overflowBytes, h.OverflowBytes)
	fn(&hm.recursion, h.RecursionMisses)
}

// ifaceID is an interface across its lifetimes.
type ifaceID struct {
	cookie         uint64
	netns, ifindex uint32
}

// ifaceLife is an interface's current lifetime: gen counts the lifetimes.
type ifaceLife struct {
	name string
	gen  uint32
	gone bool
}

// nsLife is what is known of a namespace.
type nsLife struct {
	name  string
	named bool
	gone  bool
	// unnamed is ns:INODE, what a namespace without a name goes by.
	unnamed string
}

// linkID identifies an interface of the home namespace's counters. An
// ifindex the kernel hands to a new interface with another name is another
// interface: its counters start from their own baseline rather than
// continuing the old one's.
type linkID struct {
	index uint32
	name  string
}

type linkRow struct {
	id linkID
	st *linkState
}

type linkState struct {
	fields [NumLinkFields]meter
	has    [NumLinkFields]bool
	// rated is false until the interface has been read twice.
	rated bool
	seen  bool
}

type stackState struct {
	name string
	m    meter
}

// NewAggregator returns an aggregator with no readings.
func NewAggregator(cfg Config) *Aggregator {
	return &Aggregator{
		cfg:        cfg,
		home:       cfg.Home,
		sites:      map[siteKey]*siteState{},
		live:       map[Key]*siteState{},
		links:      map[linkID]*linkState{},
		overflowed: map[ifaceID]*meter{},
		ifaces:     map[ifaceID]*ifaceLife{},
		namespaces: map[NamespaceID]*nsLife{},
		newest:     map[uint32]uint64{},
		asked:      map[uint32]uint64{},
		samples:    map[Key][]Packet{},
		sampled:    map[Key]uint64{},
		dirty:      true,
	}
}

// Warn adds a warning every later snapshot carries.
func (a *Aggregator) Warn(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.warnings = append(a.warnings, msg)
	a.dirty = true
}

// Update records a reading. The first one is the baseline: counts are drops
// since then.
func (a *Aggregator) Update(r Reading) {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := !a.started
	a.at = sinceEpoch(r.Time)
	if first {
		a.started, a.start, a.last = true, r.Time, r.Time
		// Samples count from the baseline on, as the drops do.
		a.clearSampledLocked()
	} else {
		a.interval = r.Time.Sub(a.last).Seconds()
	}
	if r.Links != nil {
		a.updateLinks(r)
	}
	for _, d := range r.Devices {
		a.learn(ifaceID{d.NetnsCookie, d.Netns, d.Ifindex}, d.Name, true)
	}
	a.updateSites(r, first)
	a.health.each(r.Health, func(m *meter, v uint64) {
		if first {
			*m = baseline(v, r.Time)
			return
		}
		m.add(v)
		a.settle(m)
	})
	a.keys = [2]uint32{r.Health.Keys, r.Health.MaxKeys}
	a.updateOverflowed(r, first)
	if r.Stack != nil {
		a.updateStack(r)
	}
	a.updateRetrans(r.Retransmits, r.Time, first)
	if !slices.Equal(a.errors, r.Errors) {
		a.dirty = true
	}
	a.errors = r.Errors
	a.last = r.Time
}

// settle settles m at the reading's time and notes whether what it shows
// changed.
func (a *Aggregator) settle(m *meter) {
	before := m.rate
	m.settle(a.at)
	if m.rate != before || m.rate != 0 {
		a.dirty = true
	}
}

// learn records the name of an interface. A name other than the one it
// had ends the interface's lifetime when rename (the kernel program named
// it at a new key: the index now belongs to another interface); samples
// only fill in names.
func (a *Aggregator) learn(id ifaceID, name string, rename bool) {
	if id.ifindex == 0 || name == "" {
		return
	}
	life := a.ifaces[id]
	switch {
	case life == nil:
		a.ifaces[id] = &ifaceLife{name: name}
	case life.name == "":
		life.name = name
	case life.name != name && rename:
		life.name, life.gen, life.gone = name, life.gen+1, false
	default:
		return
	}
	a.dirty = true
}

// ignored reports whether a key is outside what Config.Only asks for.
func (a *Aggregator) ignored(k Key) bool {
	home := a.home
	return a.cfg.Only && home.Cookie != 0 && k.NetnsCookie != 0 && k.NetnsCookie != home.Cookie
}

// row returns the state that counts kernel key k now, making one when k is
// new or its interface began a new lifetime: the new row continues from
// the old one's last value, which the kernel key still carries.
func (a *Aggregator) row(k Key, prev time.Time, first bool) *siteState {
	gen := uint32(0)
	if k.Ifindex != 0 {
		if life := a.ifaces[ifaceID{k.NetnsCookie, k.Netns, k.Ifindex}]; life != nil {
			gen = life.gen
		}
	}
	st := a.live[k]
	if st != nil && st.key.gen == gen {
		return st
	}
	if a.cfg.Home.Cookie == 0 && k.Netns == a.home.Inode && a.home.Cookie == 0 {
		// The home namespace holds its inode all along: a cookie with
		// it is its own.
		a.home.Cookie = k.NetnsCookie
		a.dirty = true
	}
	if id := (NamespaceID{k.Netns, k.NetnsCookie}); id.Cookie != 0 {
		if _, seen := a.namespaces[id]; !seen && !(id.Inode == a.home.Inode && id.Cookie == a.home.Cookie) {
			// The latest namespace to appear with an inode holds it
			// now: the kernel gives an inode to one live namespace at
			// a time. Cookies cannot tell which is newer: the kernel
			// does not hand them out in the order it makes namespaces.
			a.newest[id.Inode] = id.Cookie
		}
	}
	next := &siteState{key: siteKey{k, gen}, packets: fresh(prev), bytes: fresh(prev)}
	if life := a.ifaces[ifaceID{k.NetnsCookie, k.Netns, k.Ifindex}]; life != nil {
		next.ifname = life.name
	}
	if first {
		next.packets, next.bytes = baseline(0, prev), baseline(0, prev)
	}
	if st != nil {
		// The old lifetime's row keeps its counts; the kernel's value
		// so far is its, so the new row counts from there.
		st.gone = true
		next.packets.cur, next.bytes.cur = st.packets.cur, st.bytes.cur
	}
	if _, ok := a.namespaces[NamespaceID{k.Netns, k.NetnsCookie}]; !ok {
		// Named at first sight, while it lives: a namespace deleted
		// before the next snapshot keeps the name it had.
		a.namespaceLocked(NamespaceID{k.Netns, k.NetnsCookie})
	}
	if old := a.sites[next.key]; old != nil {
		// The same lifetime again (a gone interface came back under its
		// old name and index): keep counting on its row.
		old.packets.cur, old.bytes.cur = next.packets.cur, next.bytes.cur
		old.gone = false
		next = old
	}
	a.sites[next.key] = next
	if st != nil {
		st.live = false
	}
	next.live = true
	a.live[k] = next
	a.dirty = true
	return next
}

func (a *Aggregator) updateSites(r Reading, first bool) {
	a.reads++
	// A key's final value first, then its new live one, which counts from
	// zero: both may be in one reading.
	for _, c := range r.Retired {
		if a.ignored(c.Key) {
			continue
		}
		st := a.row(c.Key, a.last, first)
		if first {
			// Drops before the start are the baseline.
			st.packets.cur, st.bytes.cur = c.Packets, c.Bytes
		}
		st.packets.add(c.Packets)
		st.bytes.add(c.Bytes)
		st.packets.retire()
		st.bytes.retire()
		st.seenAt = a.reads
	}
	for _, c := range r.Counts {
		if a.ignored(c.Key) {
			continue
		}
		st := a.row(c.Key, a.last, first)
		if first && st.seenAt != a.reads {
			st.packets.cur, st.bytes.cur = c.Packets, c.Bytes
		}
		st.packets.add(c.Packets)
		st.bytes.add(c.Bytes)
		st.seenAt = a.reads
	}
	for sk, st := range a.sites {
		if first {
			st.packets.pending, st.bytes.pending = 0, 0
		}
		a.settle(&st.packets)
		st.bytes.settle(a.at)
		if st.seenAt != a.reads && st.packets.delta == 0 {
			// Gone from the kernel with nothing in the window: no row
			// to keep.
			delete(a.sites, sk)
			if st.live {
				st.live = false
				delete(a.live, sk.Key)
				delete(a.samples, sk.Key)
			}
			continue
		}
		if a.cfg.History && !first {
			if st.hist == nil {
				st.hist = &history{}
			}
			if st.hist.add(st.packets.rate) {
				// A past burst moves left on the sparkline.
				a.histDirty = true
			}
		}
	}
}

// updateOverflowed follows each interface's drops that found the map full.
// An interface the kernel's list no longer has (it holds the 4096 latest)
// keeps its count.
func (a *Aggregator) updateOverflowed(r Reading, first bool) {
	for _, c := range r.OverflowDevices {
		id := ifaceID{c.NetnsCookie, c.Netns, c.Ifindex}
		m := a.overflowed[id]
		switch {
		case m == nil && first:
			b := baseline(c.Packets, r.Time)
			a.overflowed[id] = &b
			continue
		case m == nil:
			f := fresh(a.last)
			m = &f
			a.overflowed[id] = m
		}
		m.add(c.Packets)
	}
	if first {
		return
	}
	for id, m := range a.overflowed {
		a.settle(m)
		if m.delta == 0 && m.rate == 0 && !slices.ContainsFunc(r.OverflowDevices, func(c Count) bool {
			return (ifaceID{c.NetnsCookie, c.Netns, c.Ifindex}) == id
		}) {
			delete(a.overflowed, id)
		}
	}
}

func (a *Aggregator) updateLinks(r Reading) {
	a.linksRead = true
	home := a.home
	for _, st := range a.links {
		st.seen = false
	}
	present := make(map[uint32]bool, len(r.Links))
	for _, l := range r.Links {
		present[l.Index] = true
		id := linkID{l.Index, l.Name}
		life := a.ifaces[ifaceID{home.Cookie, home.Inode, l.Index}]
		if life != nil && life.gone {
			// The index came back: a new interface, even under the old
			// name.
			life.name, life.gen, life.gone = l.Name, life.gen+1, false
			a.dirty = true
		} else {
			a.learn(ifaceID{home.Cookie, home.Inode, l.Index}, l.Name, true)
		}
		st := a.links[id]
		if st == nil {
			// An interface seen for the first time starts its window
			// here: its counters count from its creation, not from ours.
			st = &linkState{}
			for f := range NumLinkFields {
				st.fields[f] = baseline(l.Counters.Get(f), r.Time)
				st.has[f] = l.Counters.Has(f)
			}
			a.links[id] = st
			a.linkRows = nil
			a.dirty = true
		} else {
			for f := range NumLinkFields {
				st.fields[f].add(l.Counters.Get(f))
				a.settle(&st.fields[f])
				st.has[f] = l.Counters.Has(f)
			}
			st.rated = true
		}
		st.seen = true
	}
	for id, st := range a.links {
		if !st.seen {
			delete(a.links, id)
			a.linkRows = nil
			a.dirty = true
		}
	}
	// The home namespace's own list says which of its interfaces are gone.
	for id, life := range a.ifaces {
		if id.netns == home.Inode && id.cookie == home.Cookie && !present[id.ifindex] && !life.gone {
			life.gone = true
			a.dirty = true
		}
	}
}

func (a *Aggregator) updateStack(r Reading) {
	old := make(map[string]meter, len(a.stack))
	for _, s := range a.stack {
		old[s.name] = s.m
	}
	a.stack = a.stack[:0]
	for _, v := range r.Stack {
		m, ok := old[v.Name]
		if ok {
			m.add(v.Value)
			a.settle(&m)
		} else {
			m = baseline(v.Value, r.Time)
			a.dirty = true
		}
		a.stack = append(a.stack, stackState{v.Name, m})
	}
}

// Reset starts the window again at the latest reading: counts restart at
// zero. Rates, which describe the last interval, are kept.
func (a *Aggregator) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.start = a.last
	for sk, st := range a.sites {
		st.packets.reset()
		st.bytes.reset()
		if st.seenAt != a.reads || st.gone {
			delete(a.sites, sk)
			if st.live {
				st.live = false
				delete(a.live, sk.Key)
				delete(a.samples, sk.Key)
			}
		}
	}
	a.clearSampledLocked()
	a.health.each(Health{}, func(m *meter, _ uint64) { m.reset() })
	for _, st := range a.links {
		for f := range st.fields {
			st.fields[f].reset()
		}
	}
	for i := range a.stack {
		a.stack[i].m.reset()
	}
	for _, m := range a.overflowed {
		m.reset()
	}
	a.resetRetrans()
	a.dirty = true
}

// AddSample keeps a sampled packet for its site's detail view; its device
// name fills in an interface the tracer has not named.
func (a *Aggregator) AddSample(s Sample) {
	p := DecodePacket(s)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.learn(ifaceID{s.NetnsCookie, s.Netns, s.Ifindex}, s.Ifname, false)
	if st := a.live[s.Key]; st != nil {
		st.samplesCurrent = false
		if st.named != nil {
			// Labeled as its row is (see sharedSamples).
			p.L3 = st.named.L3
		}
	}
	list := a.samples[s.Key]
	if len(list) == SamplesPerSite {
		// A new array: snapshots may hold the old one.
		list = append(list[:0:0], list[1:]...)
	}
	a.samples[s.Key] = append(list, p)
	a.sampled[s.Key]++
	a.dirty = true
}

// clearSampledLocked starts the counts of samples again.
func (a *Aggregator) clearSampledLocked() {
	clear(a.sampled)
	for _, st := range a.live {
		st.samplesCurrent = false
	}
}

// sharedSamples returns key's samples for a snapshot's row whose L3 label
// is l3. They are the aggregator's own, not a copy: AddSample only ever
// appends past what a snapshot holds (which its capacity hides) or starts
// a new array, so what a snapshot holds never changes; copies of a
// fleet's samples were megabytes a refresh. A sample knows its ethertype,
// not its row's function, which can label it otherwise (L3Label): those
// AddSample could not label as their row are copied and labeled.
func (a *Aggregator) sharedSamples(key Key, l3 string) []Packet {
	list := a.samples[key]
	if len(list) == 0 {
		return nil
	}
	list = list[:len(list):len(list)]
	if slices.ContainsFunc(list, func(p Packet) bool { return p.L3 != l3 }) {
		list = slices.Clone(list)
		for i := range list {
			list[i].L3 = l3
		}
	}
	return list
}

// capabilities says what the kernel does not report, nil when it reports
// everything.
func (a *Aggregator) capabilities() *Capabilities {
	if !a.cfg.NoReasons {
		return nil
	}
	return &Capabilities{DropReasons: false, Notes: []string{NoReasonsNote}}
}

// Snapshot returns the finished, unfiltered view: sites sorted by rate,
// totals, protocols, interfaces with their counters and reconciliation,
// protocol counters and warnings. Outputs format it and must not change
// it: while nothing changes, every call returns the same one.
func (a *Aggregator) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.dirty && a.started {
		if a.histDirty {
			a.moveHistoriesLocked()
		}
		snap := a.cache
		snap.Time, snap.WindowS, snap.IntervalS = a.last, a.last.Sub(a.start).Seconds(), a.interval
		snap.Start = a.start
		return snap
	}
	snap := Snapshot{
		Schema:       SchemaV1,
		Host:         a.cfg.Host,
		Kernel:       a.cfg.Kernel,
		Namespace:    a.cfg.Watched,
		Capabilities: a.capabilities(),
		Sites:        []Site{},
		Interfaces:   []Interface{},
	}
	snap.Warnings = append(append(append(snap.Warnings, a.cfg.Warnings...), a.warnings...), a.errors...)
	if !a.started {
		snap.Time = time.Now()
		snap.Protocols = []Protocol{}
		return snap
	}
	snap.Time, snap.Start = a.last, a.start
	snap.WindowS = a.last.Sub(a.start).Seconds()
	snap.IntervalS = a.interval
	// Room for every key and the overflow site: a full map is thousands.
	snap.Sites = make([]Site, 0, len(a.sites)+1)
	rows := make([]*siteState, 0, len(a.sites)+1)
	// Whether the rows or their names differ from the last listing's
	// (Names): a row new to it or renamed, or one fewer.
	a.listings++
	renamed := a.names == 0
	for _, st := range a.sites {
		if st.packets.delta == 0 && st.packets.rate == 0 {
			// Nothing dropped here in the window.
			continue
		}
		// Made in its place rather than copied in: a site is 384
		// bytes, thousands of them a refresh.
		snap.Sites = append(snap.Sites, a.siteLocked(st))
		site := &snap.Sites[len(snap.Sites)-1]
		if names := namesOf(site); names != st.names {
			// Its place by name may have changed too.
			st.names, st.ranked, renamed = names, 0, true
		}
		renamed = renamed || st.listed != a.listings-1
		st.listed = a.listings
		site.Count, site.Rate, site.Bytes = st.packets.delta, st.packets.rate, st.bytes.delta
		site.Lifetime = st.key.gen
		if st.hist != nil {
			site.History = st.hist.slice()
		}
		if st.live {
			if !st.samplesCurrent {
				st.sampled = a.sampled[st.key.Key]
				st.samples = a.sharedSamples(st.key.Key, site.L3)
				st.samplesCurrent = true
			}
			site.Sampled, site.Samples = st.sampled, st.samples
		}
		rows = append(rows, st)
	}
	renamed = renamed || len(rows) != a.listed
	a.listed = len(rows)
	h := &a.health
	overflow := h.overflowPackets.delta > 0 || h.overflowPackets.rate > 0
	if overflow {
		snap.Sites = append(snap.Sites, Site{Function: OverflowFunction,
			Count: h.overflowPackets.delta, Bytes: h.overflowBytes.delta, Rate: h.overflowPackets.rate})
		rows = append(rows, nil)
	}
	renamed = renamed || overflow != a.overflowListed
	a.overflowListed = overflow
	a.sortLocked(snap.Sites, rows)
	snap.Totals.SamplesLost = h.lost.delta
	snap.Totals.SamplesSuppressed = h.suppressed.delta
	snap.Totals.KeysOverflowed = h.overflowPackets.delta
	snap.Totals.RecursionMisses = h.recursion.delta
	snap.Totals.Keys, snap.Totals.MaxKeys = a.keys[0], a.keys[1]
	snap.Interfaces = a.overflowedLocked(a.interfacesLocked())
	snap.StackCounters, snap.Stack = a.stackLocked()
	snap.recount(true, &a.join)
	snap.Retransmits = a.retransLocked(snap.Sites, snap.Stack)
	a.version++
	if renamed {
		a.names = a.version
	}
	snap.Version, snap.Rows, snap.Names = a.version, a.version, a.names
	a.cache, a.dirty, a.histDirty = snap, false, false
	return snap
}

// sortLocked sorts a snapshot's sites as SortSites does by rate, rows[i]
// being the state of sites[i] (nil for the map-full row). Ties on rate and
// count, which are most rows of a fleet or a full map, are broken by each
// row's rank, its place by name among the rows, rather than by comparing
// the names: the rows are ranked again only when one of them is new to
// the ranking or has been renamed, not every refresh.
func (a *Aggregator) sortLocked(sites []Site, rows []*siteState) {
	rerank := a.ranking == 0
	for _, st := range rows {
		if st != nil && st.ranked != a.ranking {
			rerank = true
			break
		}
	}
	if rerank {
		byName := make([]int, len(sites))
		for i := range byName {
			byName[i] = i
		}
		slices.SortFunc(byName, func(i, j int) int { return compareSites(&sites[i], &sites[j]) })
		a.ranking++
		for rank, i := range byName {
			if st := rows[i]; st != nil {
				st.rank, st.ranked = rank, a.ranking
			}
		}
	}
	// What the order compares, side by side: sorting these touches a
	// few cache lines where the sites and their states are thousands.
	order := grow(&a.siteOrder, len(sites))
	for i := range sites {
		order[i] = siteEntry{sites[i].Rate, sites[i].Count, -1, i}
		if rows[i] != nil {
			order[i].rank = rows[i].rank
		}
	}
	slices.SortFunc(order, func(x, y siteEntry) int {
		// Compared in line, not by cmp.Compare: this runs some 20,000
		// times a refresh on a host full of containers. A rate is never
		// NaN (meter.settle divides by a positive interval).
		switch {
		case x.rate != y.rate:
			return after(x.rate < y.rate)
		case x.count != y.count:
			return after(x.count < y.count)
		case x.rank >= 0 && y.rank >= 0:
			return x.rank - y.rank
		}
		return compareSites(&sites[x.i], &sites[y.i])
	})
	at := grow(&a.siteAt, len(order))
	for k, e := range order {
		at[k] = e.i
	}
	permute(sites, at)
}

// siteEntry is what the sites' order compares (sortLocked).
type siteEntry struct {
	rate  float64
	count uint64
	rank  int // -1: none (the map-full row)
	i     int
}

// rowNames are the names of a row that can change while it lives, and
// with them its labels and its place by name: the function (an address
// named once its module's symbols are read; the L3 label follows it) with
// its offset and module, the interface (renamed, or gone) and the
// namespace (named).
type rowNames struct {
	function, offset, module, iface, namespace string
	gone                                       bool
}

func namesOf(s *Site) rowNames {
	return rowNames{s.Function, s.Offset, s.Module, s.Interface, s.Namespace, s.Gone}
}

// moveHistoriesLocked makes the cached snapshot anew with only its sites'
// histories moved on: what changes while the drops have stopped but a
// burst is still in the last minute. The rows stay (Rows), so views need
// not lay them out again; the cache is copied, not changed, because views
// still hold it.
func (a *Aggregator) moveHistoriesLocked() {
	sites := slices.Clone(a.cache.Sites)
	for i := range sites {
		s := &sites[i]
		if st := a.sites[siteKey{s.Key, s.Lifetime}]; st != nil && st.hist != nil && s.Function != OverflowFunction {
			s.History = st.hist.slice()
		}
	}
	a.version++
	a.cache.Sites, a.cache.Version = sites, a.version
	a.histDirty = false
}

// interfacesLocked returns the home namespace's interfaces whose counters
// were read, in ifindex order; Recount adds their traced drops.
func (a *Aggregator) interfacesLocked() []Interface {
	if a.linkRows == nil {
		a.linkRows = make([]linkRow, 0, len(a.links))
		for id, st := range a.links {
			a.linkRows = append(a.linkRows, linkRow{id, st})
		}
		slices.SortFunc(a.linkRows, func(x, y linkRow) int {
			return cmp.Or(cmp.Compare(x.id.index, y.id.index), cmp.Compare(x.id.name, y.id.name))
		})
	}
	// Room for the interfaces of other namespaces that traced drops add
	// (recount): at most one per site, and about one per interface known
	// that is not a link (a bound only: append grows past it).
	others := max(len(a.ifaces)-len(a.linkRows), 0)
	out := make([]Interface, 0, len(a.linkRows)+min(len(a.sites), others)+1)
	// The counters of all interfaces in two allocations, not three each.
	counters := make([]LinkCounters, 2*len(a.linkRows))
	rates := make([]LinkRates, len(a.linkRows))
	home := a.home
	for i, row := range a.linkRows {
		id, st := row.id, row.st
		ifc := Interface{Name: id.name, Ifindex: id.index, Netns: home.Inode, NetnsCookie: home.Cookie,
			Counters: &counters[2*i], Delta: &counters[2*i+1]}
		if st.rated {
			ifc.Rates = &rates[i]
		}
		for f := range NumLinkFields {
			if !st.has[f] {
				continue
			}
			m := st.fields[f]
			ifc.Counters.Set(f, m.cur)
			ifc.Delta.Set(f, m.delta)
			if ifc.Rates != nil {
				ifc.Rates.Set(f, m.rate)
			}
		}
		out = append(out, ifc)
	}
	return out
}

// overflowedLocked sets each interface's drops that found the kernel map
// full, adding rows for interfaces it does not list.
func (a *Aggregator) overflowedLocked(ifaces []Interface) []Interface {
	for id, m := range a.overflowed {
		if m.delta == 0 {
			continue
		}
		i := slices.IndexFunc(ifaces, func(ifc Interface) bool {
			return ifc.Ifindex == id.ifindex && ifc.Netns == id.netns && ifc.NetnsCookie == id.cookie
		})
		if i < 0 {
			ifc := Interface{Ifindex: id.ifindex, Netns: id.netns, NetnsCookie: id.cookie, Name: fmt.Sprintf("if%d", id.ifindex)}
			if life := a.ifaces[id]; life != nil && life.name != "" {
				ifc.Name = life.name
			}
			ifc.Namespace, ifc.Gone = a.namespaceLocked(NamespaceID{id.netns, id.cookie})
			ifaces = append(ifaces, ifc)
			i = len(ifaces) - 1
		}
		ifaces[i].MapFull = m.delta
	}
	return ifaces
}

// stackLocked returns the protocol counters in the source's order: shown
// holds, unless AllCounters, only those that moved (in the window, or in the
// last interval just before a Reset); all holds every one.
func (a *Aggregator) stackLocked() (shown, all []StackCounter) {
	if len(a.stack) > 0 {
		all = make([]StackCounter, 0, len(a.stack))
	}
	for _, s := range a.stack {
		c := StackCounter{Name: s.name, Value: s.m.cur, Delta: s.m.delta, Rate: s.m.rate}
		all = append(all, c)
		if !a.cfg.AllCounters && s.m.delta == 0 && s.m.rate == 0 {
			continue
		}
		shown = append(shown, c)
	}
	return shown, all
}

// namespaceLocked names namespace id for a row: "" for home, its name, or
// ns:INODE when it has none; gone when it no longer exists.
func (a *Aggregator) namespaceLocked(id NamespaceID) (name string, gone bool) {
	return a.namespaceOf(id, nil)
}

// namespaceOf is namespaceLocked, keeping the namespace's entry in *known
// (when known is not nil) to find it there next time: a row asks for its
// namespace every snapshot, and the entries stay while the aggregator
// does.
func (a *Aggregator) namespaceOf(id NamespaceID, known **nsLife) (name string, gone bool) {
	if id.Inode == 0 {
		return "", false
	}
	home := a.home
	if id.Inode == home.Inode && (id.Cookie == home.Cookie || id.Cookie == 0 || home.Cookie == 0) {
		return "", false
	}
	var ns *nsLife
	if known != nil {
		ns = *known
	}
	if ns == nil {
		if ns = a.namespaces[id]; ns == nil {
			ns = &nsLife{}
			a.namespaces[id] = ns
		}
		if known != nil {
			*known = ns
		}
	}
	if newest := a.newest[id.Inode]; id.Cookie != 0 && newest != 0 && id.Cookie != newest {
		// Another namespace holds the inode now, so this one is gone.
		// Its name is the last it had.
		ns.gone = true
	} else if !ns.named {
		// Named once while it lives: a name is looked up again until
		// one is found, but never after, as the inode may change hands.
		// A name the resolver has for the inode from another namespace
		// is stale.
		asked, ok := a.asked[id.Inode]
		fresh := ok && asked != id.Cookie
		a.asked[id.Inode] = id.Cookie
		ns.name = a.cfg.Resolver.Namespace(id.Inode, fresh)
		ns.named = ns.name != ""
	}
	name = ns.name
	if name == "" {
		if ns.unnamed == "" {
			ns.unnamed = "ns:" + strconv.FormatUint(uint64(id.Inode), 10)
		}
		name = ns.unnamed
	}
	return name, ns.gone
}

// siteLocked names the parts of a row.
func (a *Aggregator) siteLocked(st *siteState) Site {
	k := st.key.Key
	if st.named == nil {
		res := a.cfg.Resolver
		loc, _ := res.Locate(k.Location)
		st.named = &Site{
			Function:    loc.Function,
			Module:      loc.Module,
			Address:     fmt.Sprintf("0x%x", k.Location),
			ReasonCode:  ReasonCode(k.Reason),
			Ifindex:     k.Ifindex,
			Netns:       k.Netns,
			NetnsCookie: k.NetnsCookie,
			L3:          L3Label(k.L3, loc.Function),
			L4:          L4Name(k.L4),
			Key:         k,
		}
		if k.Reason != NoReason {
			st.named.Reason = res.Reason(k.Reason)
		}
		if loc.Function != "" {
			st.named.Offset = fmt.Sprintf("0x%x", loc.Offset)
		} else if loc.Module == "" {
			// Kernel text skbtop could not name yet (a module loaded
			// since kallsyms was read): try again next time.
			defer func() { st.named = nil }()
		}
	}
	s := *st.named
	s.Namespace, s.Gone = a.namespaceOf(NamespaceID{k.Netns, k.NetnsCookie}, &st.ns)
	s.Gone = s.Gone || st.gone
	if k.Ifindex != 0 {
		life := st.life
		if life == nil {
			// Kept once known: interfaces' entries stay too.
			life = a.ifaces[ifaceID{k.NetnsCookie, k.Netns, k.Ifindex}]
			st.life = life
		}
		// A row of an earlier lifetime keeps the name it had: the link
		// dump can name the new interface before its first drop makes
		// the new row and marks this one gone.
		if life != nil && !st.gone && st.key.gen == life.gen {
			st.ifname = life.name
			s.Gone = s.Gone || life.gone
		}
		// An ended lifetime keeps the name it had.
		s.Interface = st.ifname
		if s.Interface == "" {
			s.Interface = fmt.Sprintf("if%d", k.Ifindex)
		}
	}
	return s
}

// history is a site's rates, one an interval, the last HistoryLen of
// which a sparkline draws. Snapshots share it rather than copy it: log
// holds the rates oldest first, and an entry, once written, never changes,
// so a snapshot's History is a slice of log's last HistoryLen entries, and
// a full log leaves its array to the snapshots that hold it and starts a
// new one with the last HistoryLen-1. A fleet's 2,000 busy sites copied
// 1 MB of histories a refresh.
type history struct {
	log []float64
	// busy is how many of the last HistoryLen rates are not zero.
	busy int
}

// historyRoom is a log's capacity: a new array every HistoryLen/2 rates.
const historyRoom = HistoryLen + HistoryLen/2

// add records the last interval's rate and reports whether the history a
// sparkline draws changed: not when a minute of zeros gets another zero.
func (h *history) add(rate float64) bool {
	changed := h.busy > 0 || rate != 0
	if n := len(h.log); n >= HistoryLen && h.log[n-HistoryLen] != 0 {
		h.busy-- // leaves the last HistoryLen with this rate
	}
	if len(h.log) == cap(h.log) {
		keep := h.log[max(len(h.log)-(HistoryLen-1), 0):]
		h.log = append(make([]float64, 0, historyRoom), keep...)
	}
	h.log = append(h.log, rate)
	if rate != 0 {
		h.busy++
	}
	return changed
}

// quietHistory is the history of a site that dropped nothing for a minute,
// shared by all of them: read-only, like every snapshot's History. A full
// map of quiet sites is most sites, and 16,384 histories of their own were
// 7.8 MB a refresh.
var quietHistory = make([]float64, HistoryLen)

// slice returns the history oldest first: read-only, and capped, so that
// an append to it cannot write into the log.
func (h *history) slice() []float64 {
	n := min(len(h.log), HistoryLen)
	if h.busy == 0 {
		return quietHistory[:n:n]
	}
	return h.log[len(h.log)-n : len(h.log) : len(h.log)]
}
