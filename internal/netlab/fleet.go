package netlab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaxFleet is the most members a Fleet can have: the host interfaces' names
// must fit in IFNAMSIZ-1 (15) characters.
const MaxFleet = 4096

// Fleet is many network namespaces, each joined to the caller's namespace
// by a veth pair the way containers are joined to their node: eth0 inside
// the member namespace, its peer in the host namespace. It stands in for a
// busy node when measuring how skbtop copes with thousands of interfaces.
// No member has an address: the fleet carries only raw frames.
type Fleet struct {
	Members []Member
	// HostNetns is the inode of the namespace the host ends live in.
	HostNetns uint32

	nsPrefix, ifPrefix string
	hostFD             int
}

// Member is one namespace of a Fleet and its veth pair.
type Member struct {
	NS *Namespace
	// HostIf is the veth end in the host namespace; eth0 is its peer
	// inside NS.
	HostIf                string
	HostIndex, InnerIndex int
	HostMAC, InnerMAC     net.HardwareAddr

	// innerFD is a packet socket inside NS that sends out of eth0.
	innerFD int
}

// NewFleet creates n namespaces with one veth pair each. Namespaces are
// named skbtop-fleet-PID-SEQ-I and host ends fPID-SEQ-I (hexadecimal), so
// that fleets of parallel runs never collide. IPv6 is off on both ends so
// that no router or neighbour solicitation adds drops of its own.
//
// Namespaces and veths are created by one `ip -batch` (an exec per command
// would take longer than everything else); the links are brought up with
// ioctls from packet sockets the fleet keeps for sending.
func NewFleet(n int) (f *Fleet, err error) {
	if n < 1 || n > MaxFleet {
		return nil, fmt.Errorf("fleet of %d namespaces: want 1 to %d", n, MaxFleet)
	}
	id := seq.Add(1)
	f = &Fleet{
		nsPrefix: fmt.Sprintf("skbtop-fleet-%d-%d-", os.Getpid(), id),
		ifPrefix: fmt.Sprintf("f%x-%x-", os.Getpid(), id&0xff),
		hostFD:   -1,
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Close())
		}
	}()
	if f.HostNetns, err = ownNetns(); err != nil {
		return f, err
	}
	var batch bytes.Buffer
	for i := range n {
		name := fmt.Sprintf("%s%d", f.nsPrefix, i)
		f.Members = append(f.Members, Member{
			NS:       &Namespace{Name: name, Path: "/run/netns/" + name},
			HostIf:   fmt.Sprintf("%s%x", f.ifPrefix, i),
			HostMAC:  net.HardwareAddr{0x02, 0x00, 0xc6, 0x14, byte(i >> 8), byte(i)},
			InnerMAC: net.HardwareAddr{0x02, 0x00, 0xc6, 0x15, byte(i >> 8), byte(i)},
			innerFD:  -1,
		})
		fmt.Fprintf(&batch, "netns add %s\n", name)
	}
	for _, m := range f.Members {
		fmt.Fprintf(&batch, "link add %s address %s type veth peer name eth0 address %s netns %s\n",
			m.HostIf, m.HostMAC, m.InnerMAC, m.NS.Name)
	}
	if err := ipBatch(&batch, false); err != nil {
		return f, err
	}

	if f.hostFD, err = packetSocket(); err != nil {
		return f, fmt.Errorf("packet socket: %w", err)
	}
	for i := range f.Members {
		m := &f.Members[i]
		var st syscall.Stat_t
		if err := syscall.Stat(m.NS.Path, &st); err != nil {
			return f, fmt.Errorf("stat %s: %w", m.NS.Path, err)
		}
		m.NS.Inode = uint32(st.Ino)
		if m.HostIndex, err = linkUp(f.hostFD, m.HostIf); err != nil {
			return f, err
		}
		err = m.NS.Do(func() error {
			fd, err := packetSocket()
			if err != nil {
				return fmt.Errorf("packet socket: %w", err)
			}
			m.innerFD = fd
			m.InnerIndex, err = linkUp(fd, "eth0")
			return err
		})
		if err != nil {
			return f, fmt.Errorf("namespace %s: %w", m.NS.Name, err)
		}
	}
	return f, nil
}

// Interfaces is the number of veth ends, two per member.
func (f *Fleet) Interfaces() int { return 2 * len(f.Members) }

// Prefix is what the name of every namespace of the fleet starts with.
func (f *Fleet) Prefix() string { return f.nsPrefix }

// packetSocket opens a packet socket in the calling thread's namespace. It
// sends only (protocol 0 receives nothing) and bypasses the qdisc.
func packetSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// linkUp turns IPv6 off on the interface name in the namespace of fd's
// socket (which must be the calling thread's: /proc/sys/net is the opener's
// namespace), brings it up and returns its index.
func linkUp(fd int, name string) (int, error) {
	p := "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6"
	// No such file: the kernel has no IPv6 at all.
	if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("disable IPv6 on %s: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("index of %s: %w", name, err)
	}
	index := int(ifr.Uint32())
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return 0, fmt.Errorf("flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return 0, fmt.Errorf("bring %s up: %w", name, err)
	}
	return index, nil
}

// Run sends frames of DefaultEthertype over every veth of the fleet, in
// both directions in turn, at rate frames per second in all, until ctx is
// done, and returns how many it sent. Each frame is dropped as
// UNHANDLED_PROTO by the end that receives it: eth0 inside the member
// namespace or the host end in the host's, so every interface of the fleet
// keeps one kernel key busy.
func (f *Fleet) Run(ctx context.Context, rate int) (uint64, error) {
	if rate <= 0 {
		return 0, errors.New("fleet: rate must be positive")
	}
	frame := make([]byte, 60)
	binary.BigEndian.PutUint16(frame[12:14], DefaultEthertype)
	var sent uint64
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return sent, nil
		case <-tick.C:
		}
		due := uint64(time.Since(start).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			m := &f.Members[(sent/2)%uint64(len(f.Members))]
			fd, index, src, dst := f.hostFD, m.HostIndex, m.HostMAC, m.InnerMAC
			if sent%2 == 1 {
				fd, index, src, dst = m.innerFD, m.InnerIndex, m.InnerMAC, m.HostMAC
			}
			copy(frame[0:6], dst)
			copy(frame[6:12], src)
			to := &unix.SockaddrLinklayer{Ifindex: index, Halen: 6}
			copy(to.Addr[:], dst)
			if err := unix.Sendto(fd, frame, 0, to); err != nil {
				return sent, fmt.Errorf("send frame over %s: %w", m.HostIf, err)
			}
		}
	}
}

// Close closes the fleet's sockets, deletes its namespaces (veths go with
// them) and waits until the kernel has removed the host ends too, which it
// does after the namespaces are gone, in the background. It finds what to
// delete by name, so it also cleans up after a NewFleet that failed half
// way.
func (f *Fleet) Close() error {
	if f.hostFD >= 0 {
		unix.Close(f.hostFD)
		f.hostFD = -1
	}
	for i := range f.Members {
		if fd := f.Members[i].innerFD; fd >= 0 {
			unix.Close(fd)
			f.Members[i].innerFD = -1
		}
	}
	names, err := f.namespaces()
	if err != nil {
		return err
	}
	if len(names) > 0 {
		var batch bytes.Buffer
		for _, n := range names {
			fmt.Fprintf(&batch, "netns del %s\n", n)
		}
		if err := ipBatch(&batch, true); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		left, err := f.hostLinks()
		if err != nil || len(left) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fleet: %d host interfaces (%s...) still there a minute after their namespaces were deleted", len(left), left[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// namespaces lists the fleet's namespaces that exist.
func (f *Fleet) namespaces() ([]string, error) {
	return namesWithPrefix("/run/netns", f.nsPrefix)
}

// hostLinks lists the fleet's host interfaces that exist.
func (f *Fleet) hostLinks() ([]string, error) {
	return namesWithPrefix("/sys/class/net", f.ifPrefix)
}

func namesWithPrefix(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// ipBatch runs the ip commands in batch, one a line; with force it goes on
// past a failing line.
func ipBatch(batch *bytes.Buffer, force bool) error {
	args := []string{"-batch", "-"}
	if force {
		args = append([]string{"-force"}, args...)
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdin = batch
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, firstLines(stderr.String(), 3))
	}
	return nil
}

func firstLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() && len(lines) < n {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	return strings.Join(lines, "; ")
}

// ownNetns is the inode of the caller's network namespace.
func ownNetns() (uint32, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("own network namespace: %w", err)
	}
	return uint32(st.Ino), nil
}
