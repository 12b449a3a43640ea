package counters

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/mdlayher/netlink"

	"github.com/skbtop/skbtop/drops"
	"golang.org/x/sys/unix"
)

// maxProcFile bounds how much of a /proc/net file is read; the largest,
// netstat, is a few kilobytes.
const maxProcFile = 1 << 20

// procFile is one of the namespace's protocol counter files.
type procFile struct {
	name     string // under /proc/net, for messages
	parse    func(io.Reader) (map[string]uint64, error)
	optional bool // snmp6 is absent when IPv6 is not built in
}

var procFiles = []procFile{
	{name: "snmp", parse: ParseSNMP},
	{name: "netstat", parse: ParseSNMP},
	{name: "snmp6", parse: ParseSNMP6, optional: true},
}

// Reader reads the counters of one network namespace. It holds one
// rtnetlink socket and the namespace's /proc/net counter files open for its
// whole life, so reading costs no namespace switches. Its methods may be
// called from any goroutine.
type Reader struct {
	mu   sync.Mutex
	conn *netlink.Conn
	// events is a second rtnetlink socket of the namespace, joined to
	// RTNLGRP_LINK: the kernel tells it of every interface created,
	// renamed or deleted there. Nil when it could not be opened; Links
	// then dumps names every namesEvery calls instead.
	events   *netlink.Conn
	eventBuf []byte
	files    []*os.File // parallel to procFiles; nil for an absent optional file
	buf      bytes.Buffer

	// What Links needs to name the interfaces of an RTM_GETSTATS dump.
	names     map[uint32]cachedName // by ifindex; nil before the first names dump
	namesAge  int                   // Links calls since the last names dump
	dumpGen   uint64                // numbers the RTM_GETSTATS dumps, for cachedName.seen
	noStats   bool                  // the kernel refused RTM_GETSTATS: dump RTM_GETLINK every call
	filter    uint32                // if_stats_msg filter_mask; tests set 0 to be refused
	linkDumps int                   // RTM_GETLINK dumps made, for tests
}

// cachedName is an interface name Links learnt from an RTM_GETLINK dump.
type cachedName struct {
	name string
	seen uint64 // the last RTM_GETSTATS dump (dumpGen) that had the ifindex
}

// namesEvery is how often, in Links calls, the interface names are dumped
// again even when the set of ifindexes has not changed, when Links cannot
// hear of interface changes (no events socket). Two changes keep
// the set: an interface renamed, and one deleted and another created with
// its ifindex between two calls (the kernel hands out new ifindexes in
// increasing order, wrapping only at 2^31, so this takes a creator that
// asks for the number, as `ip link add ... index N` or a container restore
// does, or an interface moved in from another namespace, which keeps its
// ifindex when it is free here). Such a name is stale for at most
// namesEvery-1 calls: 9 seconds at the default interval.
const namesEvery = 10

// Open returns a reader for the network namespace ns, or for the process's
// own namespace when ns is nil. Entering another namespace needs
// CAP_SYS_ADMIN. The reader keeps what it needs open; the caller may close
// ns afterwards.
func Open(ns *os.File) (_ *Reader, err error) {
	r := &Reader{filter: statsFilterLink64}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	cfg := &netlink.Config{}
	if ns != nil {
		cfg.NetNS = int(ns.Fd())
	}
	dump := *cfg
	dump.MessageBufferSize = dumpBuffer
	if r.conn, err = netlink.Dial(unix.NETLINK_ROUTE, &dump); err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	r.events = linkEvents(cfg)
	if ns == nil {
		r.files, err = openProcFiles()
	} else {
		err = inNetns(ns, func() error {
			var err error
			r.files, err = openProcFiles()
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// dumpBuffer is the buffer dumps are read into. Without one the netlink
// library peeks at each datagram to size it, and the kernel, sizing its
// dump datagrams to the reads it has seen, sends a page at a time: 2000
// interfaces' statistics took 126 receive calls a refresh. With it the
// kernel fills 32 KB a datagram (its limit) and the dump takes a few. It
// is larger than that so that a single message bigger than 32 KB (an
// interface with many SR-IOV VFs), which the kernel then sends alone,
// is never cut short.
const dumpBuffer = 1 << 20

// linkEvents opens an rtnetlink socket joined to RTNLGRP_LINK in cfg's
// namespace, or returns nil when it cannot: the reader then works without
// it. Its receive buffer is raised so that a burst of container starts
// between two refreshes fits; one that does not is ENOBUFS, after which
// Links dumps names again.
func linkEvents(cfg *netlink.Config) *netlink.Conn {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
	if err != nil {
		return nil
	}
	if err := c.JoinGroup(unix.RTNLGRP_LINK); err != nil {
		c.Close()
		return nil
	}
	_ = c.SetReadBuffer(1 << 20) // best effort: the default is ~200 KB
	return c
}

// OpenPath returns a reader for the network namespace at path
// (/run/netns/NAME, /proc/PID/ns/net).
func OpenPath(path string) (*Reader, error) {
	ns, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	return Open(ns)
}

// openProcFiles opens the calling thread's namespace's counter files.
//
// A /proc/net file is bound to the namespace of the task whose /proc
// directory it was opened through, at open time: the kernel stores the
// namespace in the seq_file, and reading it again from offset 0 (pread)
// regenerates the contents for that namespace whichever thread reads. So the
// files are opened once, through /proc/thread-self on a thread inside the
// namespace, and read from any thread afterwards. TestKernelUDPNoPorts
// checks this by reading from goroutines outside the namespace.
func openProcFiles() ([]*os.File, error) {
	files := make([]*os.File, len(procFiles))
	for i, pf := range procFiles {
		f, err := os.Open("/proc/thread-self/net/" + pf.name)
		if err != nil {
			if pf.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			for _, f := range files {
				if f != nil {
					f.Close()
				}
			}
			return nil, fmt.Errorf("open /proc/net/%s: %w", pf.name, err)
		}
		files[i] = f
	}
	return files, nil
}

// inNetns runs fn on an OS thread that has entered the namespace ns, and
// takes the thread back to its own namespace before it may run anything
// else. Leaving it to the runtime to end a thread that exits locked is not
// enough: it cannot end the process's main thread, which it parks instead,
// and a thread parked in ns would keep ns alive after it is deleted. A
// thread that cannot go back stays locked, and so is never reused.
func inNetns(ns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer own.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", ns.Name(), err)
			return
		}
		err = fn()
		if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("leave network namespace %s: %w", ns.Name(), serr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Links returns every interface of the namespace with its counters. When
// some messages cannot be decoded it returns the others with an error
// wrapping ErrMalformed (see DecodeLinks and DecodeStats).
//
// The counters come from an RTM_GETSTATS dump. RTM_GETLINK would give them
// too, but it fills every interface's whole ifinfo, and for each veth whose
// peer is in another namespace looks up that namespace's id
// (IFLA_LINK_NETNSID) in a walk over every id the watched namespace has
// given, so that its cost grows faster than the number of container veths
// (BenchmarkLinks, 500 of them: 10 ms of kernel time a call, against
// 0.6 ms for RTM_GETSTATS, which copies the counters and nothing else).
//
// RTM_GETSTATS sends no names, so Links keeps the names of the last
// RTM_GETLINK dump by ifindex, and follows the kernel's link events
// (RTNLGRP_LINK: an interface created, renamed, moved or deleted) to keep
// them current without dumping again. It dumps RTM_GETLINK, returning that
// dump's names and counters, when the cache is no use: at the first call,
// when the events overflowed their socket, and when the RTM_GETSTATS dump
// has an ifindex the cache lacks or lacks one it has (an interface came
// after the events were read). Without the events socket it also dumps
// every namesEvery calls, since a rename keeps the set of ifindexes. A
// call that dumps names costs both dumps; on a node with 1000 container
// veths an RTM_GETLINK dump costs about 35 ms of kernel time (see above),
// so that one every namesEvery seconds was a tenth of a refresh's CPU.
func (r *Reader) Links() ([]drops.Link, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, errors.New("dump links: reader is closed")
	}
	if r.noStats {
		return r.linksFromGetLink()
	}
	msgs, err := r.conn.Execute(r.statsRequest())
	if err != nil {
		// RTM_GETSTATS came in Linux 4.7; older kernels answer EOPNOTSUPP
		// (no handler for the type). EINVAL is how a kernel refuses a
		// stats request it will not serve (a zero filter_mask, a header
		// it finds short). Either way the interface dump has the same
		// counters: use it for every call from now on.
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			r.noStats = true
			return r.linksFromGetLink()
		}
		return nil, fmt.Errorf("dump link stats: %w", err)
	}
	stats, statsErr := DecodeStats(msgs)
	r.namesAge++
	r.readEvents()
	if r.events != nil || r.namesAge < namesEvery {
		if out, ok := r.named(stats); ok {
			return out, statsErr
		}
	}
	// A message that did not decode leaves its ifindex out of the set,
	// so it lands here too: the interface dump then shows that interface
	// if it can, and the error says what was wrong.
	links, err := r.linksFromGetLink()
	return links, errors.Join(statsErr, err)
}

// readEvents applies the link events that have come since the last call
// to the names cache, in the order the kernel sent them, without waiting
// for more. Events that came before a names dump are applied after it too:
// in order they end where the dump did or later, never earlier. An
// overflow (ENOBUFS) or a read error drops the cache, so that the caller
// dumps names.
//
// The socket is read with MSG_DONTWAIT: a read deadline already passed
// would not do, since Go then fails the read without trying it.
func (r *Reader) readEvents() {
	if r.events == nil {
		return
	}
	rc, err := r.events.SyscallConn()
	if err != nil {
		r.names = nil
		return
	}
	if r.eventBuf == nil {
		r.eventBuf = make([]byte, 64<<10) // link messages are a few KB
	}
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), r.eventBuf, unix.MSG_DONTWAIT)
			return true
		})
		if errors.Is(rerr, unix.EAGAIN) {
			return
		}
		if err = errors.Join(err, rerr); err != nil || n > len(r.eventBuf) {
			// ENOBUFS: the kernel dropped events. Whatever it was, the
			// cache may be stale now.
			r.names = nil
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(r.eventBuf[:n])
		if err != nil {
			r.names = nil
			return
		}
		for _, m := range msgs {
			r.applyEvent(m.Header.Type, m.Data)
		}
	}
}

// applyEvent applies one link event to the names cache: RTM_NEWLINK
// (created, renamed, or any other change) sets the ifindex's name,
// RTM_DELLINK removes it. An event that does not decode drops the cache.
func (r *Reader) applyEvent(typ uint16, data []byte) {
	if r.names == nil || (typ != unix.RTM_NEWLINK && typ != unix.RTM_DELLINK) {
		return
	}
	index, name, err := decodeLinkName(data)
	if err != nil {
		r.names = nil
		return
	}
	if typ == unix.RTM_DELLINK {
		delete(r.names, index)
		return
	}
	c := r.names[index]
	c.name = name
	r.names[index] = c
}

// statsRequest returns an RTM_GETSTATS dump request: every interface
// (ifindex 0), the counters r.filter asks for.
func (r *Reader) statsRequest() netlink.Message {
	// struct if_stats_msg, filter_mask at offset 8.
	b := make([]byte, sizeofIfStatsMsg)
	binary.NativeEndian.PutUint32(b[8:], r.filter)
	return netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_GETSTATS,
			Flags: netlink.Request | netlink.Dump,
		},
		Data: b,
	}
}

// named names the interfaces of an RTM_GETSTATS dump from the cache. It
// reports false, returning nothing, unless the dump has exactly the
// ifindexes the cache has, each once.
func (r *Reader) named(stats []LinkStats) ([]drops.Link, bool) {
	if r.names == nil || len(stats) != len(r.names) {
		return nil, false
	}
	r.dumpGen++
	out := make([]drops.Link, len(stats))
	for i, s := range stats {
		c, ok := r.names[s.Index]
		if !ok || c.seen == r.dumpGen {
			return nil, false
		}
		c.seen = r.dumpGen
		r.names[s.Index] = c
		out[i] = drops.Link{Name: c.name, Index: s.Index, Counters: s.Counters}
	}
	return out, true
}

// linksFromGetLink dumps RTM_GETLINK and returns its interfaces, names and
// counters from the same messages, and makes its names the cache's.
func (r *Reader) linksFromGetLink() ([]drops.Link, error) {
	msgs, err := r.conn.Execute(linkRequest())
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	r.linkDumps++
	links, err := DecodeLinks(msgs)
	out := make([]drops.Link, len(links))
	names := make(map[uint32]cachedName, len(links))
	for i, l := range links {
		out[i] = drops.Link{Name: l.Name, Index: l.Index, Counters: l.Counters}
		names[l.Index] = cachedName{name: l.Name}
	}
	// An interface that did not decode is missing from the cache, and so
	// makes the next call dump names again.
	r.names, r.namesAge = names, 0
	return out, err
}

// linkRequest returns an RTM_GETLINK dump request.
func linkRequest() netlink.Message {
	return netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_GETLINK,
			Flags: netlink.Request | netlink.Dump,
		},
		// A zero struct ifinfomsg: AF_UNSPEC, every interface.
		Data: make([]byte, unix.SizeofIfInfomsg),
	}
}

// dumpLinks sends an RTM_GETLINK dump request and returns the raw replies.
func (r *Reader) dumpLinks() ([]netlink.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, errors.New("dump links: reader is closed")
	}
	msgs, err := r.conn.Execute(linkRequest())
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	return msgs, nil
}

// dumpStats sends the RTM_GETSTATS dump request Links sends and returns the
// raw replies.
func (r *Reader) dumpStats() ([]netlink.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, errors.New("dump link stats: reader is closed")
	}
	msgs, err := r.conn.Execute(r.statsRequest())
	if err != nil {
		return nil, fmt.Errorf("dump link stats: %w", err)
	}
	return msgs, nil
}

// Stack reads the namespace's drop-related protocol counters (see
// StackCounterNames), in that order, from /proc/net/snmp, /proc/net/netstat
// and, when IPv6 is built in, /proc/net/snmp6. Counters this kernel lacks
// are left out.
func (r *Reader) Stack() (drops.Stack, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files == nil {
		return nil, errors.New("read protocol counters: reader is closed")
	}
	picked := make(map[string]uint64, len(stackNames))
	for i, pf := range procFiles {
		f := r.files[i]
		if f == nil {
			continue
		}
		r.buf.Reset()
		// ReadAt from offset 0 makes the seq_file start over.
		if _, err := r.buf.ReadFrom(io.NewSectionReader(f, 0, maxProcFile)); err != nil {
			return nil, fmt.Errorf("read /proc/net/%s: %w", pf.name, err)
		}
		all, err := pf.parse(&r.buf)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/%s: %w", pf.name, err)
		}
		pickStack(picked, all)
	}
	out := make(drops.Stack, 0, len(picked))
	for _, n := range stackNames {
		if v, ok := picked[n]; ok {
			out = append(out, drops.StackValue{Name: n, Value: v})
		}
	}
	return out, nil
}

// Close closes the netlink socket and the /proc files.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.conn != nil {
		errs = append(errs, r.conn.Close())
		r.conn = nil
	}
	if r.events != nil {
		errs = append(errs, r.events.Close())
		r.events = nil
	}
	for _, f := range r.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	r.files = nil
	return errors.Join(errs...)
}
