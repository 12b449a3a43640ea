package drops

import (
	"encoding/json"
	"io"
	"testing"
	"time"
)

// fleet returns the readings of a host with 1000 namespaces of one veth
// each (2000 interfaces, 1000 of them in the home namespace) and a drop at
// every interface in every interval: reading i is the i-th refresh's.
func fleet() (reading func(i int) Reading) {
	const n = 1000
	var keys []Key
	var links []Link
	var devs []Device
	for i := range n {
		host := Key{Location: 0xffffffff820007e6, Reason: 74, Ifindex: uint32(10 + i), Netns: 1, NetnsCookie: 1, L3: 0x88b5}
		inner := Key{Location: 0xffffffff820007e6, Reason: 74, Ifindex: 2, Netns: uint32(100 + i), NetnsCookie: uint64(100 + i), L3: 0x88b5}
		keys = append(keys, host, inner)
		links = append(links, Link{Name: "fhost" + string(rune('a'+i%26)), Index: uint32(10 + i),
			Counters: LinkCountersOf(map[LinkField]uint64{RxDropped: 0, RxPackets: 0})})
		devs = append(devs, Device{Netns: 1, NetnsCookie: 1, Ifindex: uint32(10 + i), Name: "fhost"},
			Device{Netns: uint32(100 + i), NetnsCookie: uint64(100 + i), Ifindex: 2, Name: "eth0"})
	}
	t0 := time.Unix(0, 0)
	return func(i int) Reading {
		r := Reading{Time: t0.Add(time.Duration(i) * time.Second), Links: links}
		if i == 0 {
			r.Devices = devs
		}
		for _, k := range keys {
			r.Retired = append(r.Retired, Count{Key: k, Packets: 2, Bytes: 92})
		}
		return r
	}
}

// BenchmarkRefreshFleet is one refresh of the fleet: Update, then
// Snapshot.
func BenchmarkRefreshFleet(b *testing.B) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 1}, History: true})
	reading := fleet()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Update(reading(i))
		a.Snapshot()
	}
}

// BenchmarkFleetJSON is the NDJSON line of one refresh of the fleet (the
// changes of its third refresh): 2000 sites and 2000 interfaces, some 1.3 MB.
func BenchmarkFleetJSON(b *testing.B) {
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 1}})
	reading := fleet()
	var snap Snapshot
	for i := range 3 {
		a.Update(reading(i))
		snap = a.Snapshot()
	}
	snap = snap.Changes()
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var line []byte
		for b.Loop() {
			var err error
			if line, err = snap.AppendJSON(line[:0], false); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(line)))
	})
	// encoding/json, for comparison: what the stream used before.
	b.Run("encoding-json", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		b.ReportAllocs()
		for b.Loop() {
			if err := enc.Encode(snap); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefreshTrickle is one refresh of a full map of 16,384 sites
// with history (the live view's) of which one drops in every interval: the
// snapshot must be rebuilt, though nearly nothing in it changed.
func BenchmarkRefreshTrickle(b *testing.B) {
	const n = 16384
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 1}, History: true})
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{Location: 0xffffffff820007e6, Reason: 74, Ifindex: uint32(2 + i%2), Netns: 1, NetnsCookie: 1, L3: uint16(0x8800 + i/2)}
	}
	t0 := time.Unix(0, 0)
	r := Reading{Time: t0}
	a.Update(r)
	r = Reading{Time: t0.Add(time.Second)}
	for _, k := range keys {
		r.Retired = append(r.Retired, Count{Key: k, Packets: 1, Bytes: 60})
	}
	a.Update(r)
	a.Snapshot()
	b.ReportAllocs()
	for i := 2; b.Loop(); i++ {
		a.Update(Reading{Time: t0.Add(time.Duration(i) * time.Second),
			Retired: []Count{{Key: keys[0], Packets: 1, Bytes: 60}}})
		a.Snapshot()
	}
}

// BenchmarkRefreshSparklines is one refresh of a full map of 16,384 sites
// with history in the minute after they all dropped: nothing but their
// histories moves.
func BenchmarkRefreshSparklines(b *testing.B) {
	const n = 16384
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 1}, History: true})
	t0 := time.Unix(0, 0)
	a.Update(Reading{Time: t0})
	r := Reading{Time: t0.Add(time.Second)}
	for i := range n {
		k := Key{Location: 0xffffffff820007e6, Reason: 74, Ifindex: uint32(2 + i%2), Netns: 1, NetnsCookie: 1, L3: uint16(0x8800 + i/2)}
		r.Retired = append(r.Retired, Count{Key: k, Packets: 1, Bytes: 60})
	}
	a.Update(r)
	a.Update(Reading{Time: t0.Add(2 * time.Second)})
	a.Snapshot()
	b.ReportAllocs()
	for i := 3; b.Loop(); i++ {
		// The benchmark runs for more than a minute of intervals: keep
		// one burst in every site's last minute.
		if i%HistoryLen == 0 {
			b.StopTimer()
			a.Update(Reading{Time: t0.Add(time.Duration(i) * time.Second), Retired: r.Retired})
			a.Snapshot()
			i++
			b.StartTimer()
		}
		a.Update(Reading{Time: t0.Add(time.Duration(i) * time.Second)})
		a.Snapshot()
	}
}

// BenchmarkRefreshIdle is one refresh of a full map of 16,384 sites with
// history (the live view's) a minute after the last drop: nothing moves.
func BenchmarkRefreshIdle(b *testing.B) {
	const n = 16384
	a := NewAggregator(Config{Resolver: res, Home: NamespaceID{Inode: 1, Cookie: 1}, History: true})
	t0 := time.Unix(0, 0)
	a.Update(Reading{Time: t0})
	r := Reading{Time: t0.Add(time.Second)}
	for i := range n {
		k := Key{Location: 0xffffffff820007e6, Reason: 74, Ifindex: uint32(2 + i%2), Netns: 1, NetnsCookie: 1, L3: uint16(0x8800 + i/2)}
		r.Retired = append(r.Retired, Count{Key: k, Packets: 1, Bytes: 60})
	}
	a.Update(r)
	sec := 2
	for ; sec < HistoryLen+3; sec++ {
		a.Update(Reading{Time: t0.Add(time.Duration(sec) * time.Second)})
		a.Snapshot()
	}
	b.ReportAllocs()
	for b.Loop() {
		a.Update(Reading{Time: t0.Add(time.Duration(sec) * time.Second)})
		a.Snapshot()
		sec++
	}
}
