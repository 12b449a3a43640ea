// Package netlab builds small, throw-away networks of network namespaces
// joined by veth pairs, and makes a known number of packet drops inside them.
// Kernel tests and the benchmark's drop generator use it. Every address it
// assigns is in 198.18.0.0/15 (the benchmarking range), and traffic never
// leaves the namespaces it creates. It needs root and iproute2.
package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

var seq atomic.Uint32

// Namespace is a named network namespace under /run/netns.
type Namespace struct {
	Name string
	// Path is the namespace's bind mount, usable as skbtop's --netns.
	Path string
	// Inode identifies the namespace the way the kernel program sees it.
	Inode uint32
}

// NewNamespace creates a namespace with a unique name starting with prefix,
// its loopback up and IPv6 disabled so that no router or neighbour
// solicitations add drops of their own.
func NewNamespace(prefix string) (*Namespace, error) {
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
	if _, err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	n := &Namespace{Name: name, Path: "/run/netns/" + name}
	var st syscall.Stat_t
	if err := syscall.Stat(n.Path, &st); err != nil {
		n.Close()
		return nil, fmt.Errorf("stat %s: %w", n.Path, err)
	}
	n.Inode = uint32(st.Ino)
	err := n.Do(func() error {
		for _, f := range []string{"all", "default"} {
			p := "/proc/sys/net/ipv6/conf/" + f + "/disable_ipv6"
			if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err == nil {
		_, err = ip("-n", name, "link", "set", "lo", "up")
	}
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("set up namespace %s: %w", name, err)
	}
	return n, nil
}

// Close deletes the namespace; interfaces inside it go with it.
func (n *Namespace) Close() error {
	_, err := ip("netns", "del", n.Name)
	return err
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn
// opens stay in the namespace after Do returns.
func (n *Namespace) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own netns: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(n.Path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", n.Name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime destroys it when this
		// goroutine exits instead of reusing a thread in the wrong namespace.
		return errors.Join(fnErr, fmt.Errorf("leave netns %s: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Link is two namespaces joined by a veth pair: a sender and a receiver.
type Link struct {
	Sender, Receiver     *Namespace
	SenderIf, ReceiverIf string
	// ReceiverIndex is the receiver veth's ifindex inside its namespace.
	ReceiverIndex            int
	SenderAddr, ReceiverAddr netip.Addr
	SenderMAC, ReceiverMAC   net.HardwareAddr
}

// NewLink creates a sender and a receiver namespace joined by a veth pair,
// addressed 198.18.0.1 and 198.18.0.2 in 198.18.0.0/29, with permanent
// neighbour entries so that no ARP resolution delays or drops the first
// packets. 198.18.0.3 to .6 are on the link but nobody answers for them.
func NewLink() (l *Link, err error) {
	l = &Link{
		SenderAddr:   netip.MustParseAddr("198.18.0.1"),
		ReceiverAddr: netip.MustParseAddr("198.18.0.2"),
		SenderMAC:    net.HardwareAddr{0x02, 0x00, 0xc6, 0x12, 0x00, 0x01},
		ReceiverMAC:  net.HardwareAddr{0x02, 0x00, 0xc6, 0x12, 0x00, 0x02},
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if err = newNamespaces([]**Namespace{&l.Sender, &l.Receiver}, "skbtop-tx", "skbtop-rx"); err != nil {
		return nil, err
	}
	id := seq.Add(1)
	l.SenderIf = fmt.Sprintf("stx%d", id)
	l.ReceiverIf = fmt.Sprintf("srx%d", id)
	steps := [][]string{
		{"link", "add", l.SenderIf, "netns", l.Sender.Name, "address", l.SenderMAC.String(), "type", "veth",
			"peer", "name", l.ReceiverIf, "netns", l.Receiver.Name, "address", l.ReceiverMAC.String()},
		{"-n", l.Sender.Name, "addr", "add", l.SenderAddr.String() + "/29", "dev", l.SenderIf},
		{"-n", l.Receiver.Name, "addr", "add", l.ReceiverAddr.String() + "/29", "dev", l.ReceiverIf},
		{"-n", l.Sender.Name, "link", "set", l.SenderIf, "up"},
		{"-n", l.Receiver.Name, "link", "set", l.ReceiverIf, "up"},
		{"-n", l.Sender.Name, "neigh", "replace", l.ReceiverAddr.String(), "lladdr", l.ReceiverMAC.String(), "dev", l.SenderIf, "nud", "permanent"},
		{"-n", l.Receiver.Name, "neigh", "replace", l.SenderAddr.String(), "lladdr", l.SenderMAC.String(), "dev", l.ReceiverIf, "nud", "permanent"},
	}
	if err = ipSteps(steps); err != nil {
		return nil, err
	}
	err = l.Receiver.Do(func() error {
		ifc, err := net.InterfaceByName(l.ReceiverIf)
		if err != nil {
			return err
		}
		l.ReceiverIndex = ifc.Index
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", l.ReceiverIf, err)
	}
	return l, nil
}

// Close deletes both namespaces and with them the veth pair.
func (l *Link) Close() error { return closeAll(l.Sender, l.Receiver) }

// newNamespaces makes a namespace for each prefix into the matching dst, in
// order, and stops at the first error; the caller's Close removes those
// made by then.
func newNamespaces(dst []**Namespace, prefixes ...string) error {
	for i, prefix := range prefixes {
		n, err := NewNamespace(prefix)
		if err != nil {
			return err
		}
		*dst[i] = n
	}
	return nil
}

// closeAll deletes the namespaces of a topology, skipping those a failed
// constructor never made (nil).
func closeAll(nss ...*Namespace) error {
	var errs []error
	for _, n := range nss {
		if n != nil {
			errs = append(errs, n.Close())
		}
	}
	return errors.Join(errs...)
}

// ipSteps runs ip with each of steps in turn, stopping at the first that
// fails.
func ipSteps(steps [][]string) error {
	for _, s := range steps {
		if _, err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

func ip(args ...string) ([]byte, error) { return run("ip", args...) }

func run(name string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
