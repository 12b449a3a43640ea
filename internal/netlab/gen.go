package netlab

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skbtop/skbtop/counters"
	"github.com/skbtop/skbtop/drops"
)

// Kind is the sort of drop a Generator makes.
type Kind int

const (
	// Frames are raw Ethernet frames of ethertypes nothing handles, sent
	// through an AF_PACKET socket that bypasses the qdisc: the receiver
	// drops each one as UNHANDLED_PROTO. The cheapest drop to make, so the
	// one that reaches the highest rate.
	Frames Kind = iota
	// NFTDrop is UDP to DropPort, where an nftables rule drops it
	// (NETFILTER_DROP).
	NFTDrop
	// ClosedPort is UDP to ClosedUDPPort, where nothing listens (NO_SOCKET).
	ClosedPort
)

func (k Kind) String() string {
	switch k {
	case Frames:
		return "frames"
	case NFTDrop:
		return "nft-drop"
	case ClosedPort:
		return "closed-port"
	}
	return "kind" + strconv.Itoa(int(k))
}

// Ports the generator's UDP drops go to.
const (
	DropPort      = 9    // an nftables rule drops datagrams here
	ClosedUDPPort = 7999 // nothing listens here
)

// DefaultEthertype is the ethertype of Frames when GenConfig.Ethertypes is
// empty: IEEE 802 local experimental, which no kernel protocol handles.
const DefaultEthertype = 0x88b5

// Veth is one veth pair between a Generator's sender and receiver.
type Veth struct {
	SenderIf, ReceiverIf       string
	SenderIndex, ReceiverIndex int
	SenderMAC, ReceiverMAC     net.HardwareAddr
}

// Generator makes a precisely known number of drops inside a sender and a
// receiver namespace of its own, joined by one or more veth pairs, and reads
// the receiver's own counters of them (the ground truth). Every drop it
// causes, on purpose or not (a veth backlog overflow is CPU_BACKLOG), lands
// in the receiver namespace and in one of the counters Drops adds up.
type Generator struct {
	*Link
	// Veths are the pairs frames go over; Veths[0] is the Link's own,
	// the only one with addresses (UDP goes over it).
	Veths []Veth

	counters *counters.Reader
}

// NewGenerator creates the namespaces with pairs veth pairs (at least one)
// and the nftables rule that drops UDP to DropPort.
func NewGenerator(pairs int) (g *Generator, err error) {
	l, err := NewLink()
	if err != nil {
		return nil, err
	}
	g = &Generator{Link: l}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	first := Veth{SenderIf: l.SenderIf, ReceiverIf: l.ReceiverIf, ReceiverIndex: l.ReceiverIndex,
		SenderMAC: l.SenderMAC, ReceiverMAC: l.ReceiverMAC}
	g.Veths = append(g.Veths, first)
	for i := 1; i < pairs; i++ {
		id := seq.Add(1)
		v := Veth{
			SenderIf:    fmt.Sprintf("stx%d", id),
			ReceiverIf:  fmt.Sprintf("srx%d", id),
			SenderMAC:   net.HardwareAddr{0x02, 0x00, 0xc6, 0x13, byte(i), 0x01},
			ReceiverMAC: net.HardwareAddr{0x02, 0x00, 0xc6, 0x13, byte(i), 0x02},
		}
		steps := [][]string{
			{"link", "add", v.SenderIf, "netns", l.Sender.Name, "address", v.SenderMAC.String(), "type", "veth",
				"peer", "name", v.ReceiverIf, "netns", l.Receiver.Name, "address", v.ReceiverMAC.String()},
			{"-n", l.Sender.Name, "link", "set", v.SenderIf, "up"},
			{"-n", l.Receiver.Name, "link", "set", v.ReceiverIf, "up"},
		}
		if err = ipSteps(steps); err != nil {
			return nil, err
		}
		g.Veths = append(g.Veths, v)
	}
	for i := range g.Veths {
		v := &g.Veths[i]
		err = l.Sender.Do(func() error {
			ifc, err := net.InterfaceByName(v.SenderIf)
			if err == nil {
				v.SenderIndex = ifc.Index
			}
			return err
		})
		if err == nil {
			err = l.Receiver.Do(func() error {
				ifc, err := net.InterfaceByName(v.ReceiverIf)
				if err == nil {
					v.ReceiverIndex = ifc.Index
				}
				return err
			})
		}
		if err != nil {
			return nil, fmt.Errorf("find veth %s: %w", v.SenderIf, err)
		}
	}
	if err = l.Receiver.DropUDP(DropPort); err != nil {
		return nil, err
	}
	if g.counters, err = counters.OpenPath(l.Receiver.Path); err != nil {
		return nil, err
	}
	return g, nil
}

// Close removes the namespaces and everything in them.
func (g *Generator) Close() error {
	var errs []error
	if g.counters != nil {
		errs = append(errs, g.counters.Close())
	}
	errs = append(errs, g.Link.Close())
	return errors.Join(errs...)
}

// GroundTruth is the receiver namespace's own cumulative count of drops, by
// the counter that saw them.
type GroundTruth struct {
	// NFT is the packet counter of the nftables drop rule.
	NFT uint64
	// NoPorts is UdpNoPorts: datagrams to a port nothing listens on.
	NoPorts uint64
	// NoHandler and RxDropped are the receiver veths' rx_nohandler (frames
	// of an ethertype nothing handles) and rx_dropped (among others, the
	// backlog overflows of CPU_BACKLOG), summed over the pairs.
	NoHandler, RxDropped uint64
}

// Total is every drop the counters saw.
func (t GroundTruth) Total() uint64 { return t.NFT + t.NoPorts + t.NoHandler + t.RxDropped }

// Sub returns t - base field by field.
func (t GroundTruth) Sub(base GroundTruth) GroundTruth {
	return GroundTruth{NFT: t.NFT - base.NFT, NoPorts: t.NoPorts - base.NoPorts,
		NoHandler: t.NoHandler - base.NoHandler, RxDropped: t.RxDropped - base.RxDropped}
}

// Drops reads the ground truth. Call it before and after a run and subtract.
func (g *Generator) Drops() (GroundTruth, error) {
	var t GroundTruth
	var err error
	if t.NFT, err = g.Receiver.DroppedUDP(); err != nil {
		return t, err
	}
	stack, err := g.counters.Stack()
	if err != nil {
		return t, err
	}
	t.NoPorts, _ = stack.Get("UdpNoPorts")
	links, err := g.counters.Links()
	if err != nil {
		return t, err
	}
	for _, l := range links {
		for _, v := range g.Veths {
			if int(l.Index) == v.ReceiverIndex {
				t.NoHandler += l.Counters.Get(drops.RxNoHandler)
				t.RxDropped += l.Counters.Get(drops.RxDropped)
			}
		}
	}
	return t, nil
}

// GenConfig says what to send and how fast.
type GenConfig struct {
	Kind Kind
	// Rate is drops per second, paced in batches (open loop); 0 sends as
	// fast as the kernel takes them (closed loop).
	Rate int
	// Count stops the run after that many drops were sent; Duration after
	// that much time. At least one must be set; whichever comes first ends
	// the run.
	Count    uint64
	Duration time.Duration
	// Batch is how many packets one sendmmsg call sends (default 64).
	Batch int
	// Ethertypes are cycled through by Frames (default DefaultEthertype),
	// over every veth pair in turn: len(Ethertypes)*len(Veths) distinct
	// keys. See UnhandledEthertypes.
	Ethertypes []uint16
	// Size is the UDP payload size (default 18, a 60-byte frame).
	Size int
}

// Result is what a run sent.
type Result struct {
	// Sent is how many packets the kernel accepted. Frames a full veth
	// backlog refused (ENOBUFS) are not in it, yet were dropped: take the
	// number of drops from Drops, not from here.
	Sent uint64
	// Refused counts sendmmsg calls that failed with ENOBUFS.
	Refused uint64
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// Run sends until cfg.Count or cfg.Duration is reached or ctx is done.
func (g *Generator) Run(ctx context.Context, cfg GenConfig) (Result, error) {
	if cfg.Count == 0 && cfg.Duration == 0 {
		return Result{}, errors.New("generator: set Count or Duration")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Size <= 0 {
		cfg.Size = 18
	}
	s, err := g.newSender(cfg)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(s.fd)

	var res Result
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	for ctx.Err() == nil {
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			break
		}
		n := uint64(cfg.Batch)
		if cfg.Count > 0 {
			if res.Sent >= cfg.Count {
				break
			}
			n = min(n, cfg.Count-res.Sent)
		}
		if cfg.Rate > 0 {
			// Open loop: by now, rate*elapsed drops are due.
			due := uint64(now.Sub(start).Seconds() * float64(cfg.Rate))
			if due <= res.Sent {
				// Sleep until the next packet is due, at most a batch ahead.
				next := start.Add(time.Duration(float64(res.Sent+1) / float64(cfg.Rate) * 1e9))
				time.Sleep(max(next.Sub(now), 50*time.Microsecond))
				continue
			}
			n = min(n, due-res.Sent)
		}
		sent, err := s.send(int(n))
		res.Sent += uint64(sent)
		if errors.Is(err, unix.ENOBUFS) {
			res.Refused++
			continue
		}
		if err != nil {
			return res, fmt.Errorf("sendmmsg: %w", err)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// sender is a socket in the sender namespace with a batch of messages ready
// for sendmmsg.
type sender struct {
	fd     int
	msgs   []unix.Mmsghdr
	iovs   []unix.Iovec
	frames [][]byte
	// For Frames: the ethertypes and pairs to cycle through, each
	// message's destination, and where the cycle stands.
	types []uint16
	addrs []unix.RawSockaddrLinklayer
	veths []Veth
	next  int
	inet  unix.RawSockaddrInet4
}

func (g *Generator) newSender(cfg GenConfig) (*sender, error) {
	s := &sender{
		msgs:   make([]unix.Mmsghdr, cfg.Batch),
		iovs:   make([]unix.Iovec, cfg.Batch),
		frames: make([][]byte, cfg.Batch),
	}
	err := g.Sender.Do(func() error {
		var err error
		if cfg.Kind == Frames {
			// Protocol 0: this socket only sends, it receives nothing.
			s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				// Straight to the driver: veth has no queue anyway, and
				// this skips the qdisc layer's locking.
				err = unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
			}
		} else {
			s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				sa := &unix.SockaddrInet4{Addr: g.SenderAddr.As4()}
				err = unix.Bind(s.fd, sa)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("generator socket: %w", err)
	}
	if cfg.Kind == Frames {
		s.types = cfg.Ethertypes
		if len(s.types) == 0 {
			s.types = []uint16{DefaultEthertype}
		}
		s.veths = g.Veths
		s.addrs = make([]unix.RawSockaddrLinklayer, cfg.Batch)
		for i := range s.frames {
			s.frames[i] = make([]byte, 60)
			s.addrs[i] = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Halen: 6}
			s.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&s.addrs[i]))
			s.msgs[i].Hdr.Namelen = unix.SizeofSockaddrLinklayer
		}
	} else {
		port := uint16(DropPort)
		if cfg.Kind == ClosedPort {
			port = ClosedUDPPort
		}
		s.inet = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: g.ReceiverAddr.As4()}
		// sin_port is in network byte order.
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.inet.Port))[:], port)
		for i := range s.frames {
			s.frames[i] = make([]byte, cfg.Size)
			s.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&s.inet))
			s.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		}
	}
	for i := range s.frames {
		s.iovs[i].Base = &s.frames[i][0]
		s.iovs[i].SetLen(len(s.frames[i]))
		s.msgs[i].Hdr.Iov = &s.iovs[i]
		s.msgs[i].Hdr.SetIovlen(1)
	}
	if cfg.Kind == Frames {
		s.prepare()
	}
	return s, nil
}

// prepare fills the batch with the next ethertypes and pairs of the cycle,
// from position s.next on: each ethertype on every pair, then the next
// ethertype.
func (s *sender) prepare() {
	period := len(s.types) * len(s.veths)
	for i, f := range s.frames {
		n := (s.next + i) % period
		v := s.veths[n%len(s.veths)]
		copy(f[0:6], v.ReceiverMAC)
		copy(f[6:12], v.SenderMAC)
		binary.BigEndian.PutUint16(f[12:14], s.types[n/len(s.veths)])
		s.addrs[i].Ifindex = int32(v.SenderIndex)
		copy(s.addrs[i].Addr[:], v.ReceiverMAC)
	}
}

// send sends the first n messages with one sendmmsg and returns how many the
// kernel took.
func (s *sender) send(n int) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[0])),
		uintptr(n), 0, 0, 0)
	sent := 0
	if errno == 0 {
		sent = int(r)
	}
	if s.addrs != nil && len(s.types)*len(s.veths) > 1 && sent > 0 {
		// The cycle goes on after the last message the kernel took.
		s.next = (s.next + sent) % (len(s.types) * len(s.veths))
		s.prepare()
	}
	if errno != 0 {
		return sent, errno
	}
	return sent, nil
}

// nonEthertypes are ethertypes the receive path handles without a
// registered protocol: __netif_receive_skb_core strips VLAN tags itself.
var nonEthertypes = map[uint16]bool{0x8100: true, 0x88a8: true}

// UnhandledEthertypes returns the ethertypes from 0x0600 (below, the field
// is an 802.3 length) to 0xffff that no protocol handles in this kernel: not
// registered in /proc/net/ptype and not a VLAN tag. Frames of these are
// dropped as UNHANDLED_PROTO, each in a key of its own.
func UnhandledEthertypes() ([]uint16, error) {
	f, err := os.Open("/proc/net/ptype")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	handled, err := parsePtype(f)
	if err != nil {
		return nil, err
	}
	var out []uint16
	for t := 0x0600; t <= 0xffff; t++ {
		if !handled[uint16(t)] && !nonEthertypes[uint16(t)] {
			out = append(out, uint16(t))
		}
	}
	return out, nil
}

// parsePtype reads the ethertypes of /proc/net/ptype ("Type Device
// Function" lines; the type is hex, or ALL for taps).
func parsePtype(r io.Reader) (map[uint16]bool, error) {
	handled := map[uint16]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] == "Type" || fields[0] == "ALL" {
			continue
		}
		v, err := strconv.ParseUint(fields[0], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/ptype: bad type %q", fields[0])
		}
		handled[uint16(v)] = true
	}
	return handled, sc.Err()
}
