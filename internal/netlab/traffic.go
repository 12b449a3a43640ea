package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SendUDP sends n datagrams of size bytes from the sender to the receiver's
// port. The socket is unconnected, so ICMP port-unreachable replies cannot
// make a later send fail and leave a datagram unsent.
func (l *Link) SendUDP(port uint16, n, size int) error {
	var conn *net.UDPConn
	err := l.Sender.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.SenderAddr, 0)))
		return err
	})
	if err != nil {
		return fmt.Errorf("udp socket: %w", err)
	}
	defer conn.Close()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.ReceiverAddr, port))
	payload := make([]byte, size)
	for i := range n {
		if _, err := conn.WriteToUDP(payload, dst); err != nil {
			return fmt.Errorf("send datagram %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// SendFrames sends n Ethernet frames of the given ethertype from the sender
// veth to the receiver's MAC address. With an ethertype no protocol handles,
// each frame is dropped by the receiver as UNHANDLED_PROTO.
func (l *Link) SendFrames(ethertype uint16, n int) error {
	var fd int
	var ifindex int
	err := l.Sender.Do(func() error {
		ifc, err := net.InterfaceByName(l.SenderIf)
		if err != nil {
			return err
		}
		ifindex = ifc.Index
		// Protocol 0: this socket only sends, it receives nothing.
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	frame := make([]byte, 60)
	copy(frame[0:6], l.ReceiverMAC)
	copy(frame[6:12], l.SenderMAC)
	binary.BigEndian.PutUint16(frame[12:14], ethertype)
	to := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], l.ReceiverMAC)
	for i := range n {
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			return fmt.Errorf("send frame %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// ConnectTCP makes n connection attempts from the sender to the receiver's
// port, where nothing listens: each attempt is one SYN answered by a RST.
func (l *Link) ConnectTCP(port uint16, n int) error {
	dst := netip.AddrPortFrom(l.ReceiverAddr, port).String()
	return l.Sender.Do(func() error {
		for i := range n {
			c, err := net.DialTimeout("tcp4", dst, 2*time.Second)
			if err == nil {
				c.Close()
				return fmt.Errorf("connect %s: something listens there", dst)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("connect attempt %d of %d: %w", i+1, n, err)
			}
		}
		return nil
	})
}

// DropUDP installs an nftables rule in the namespace's input hook that
// counts and drops UDP datagrams to port. It needs the nft binary.
func (n *Namespace) DropUDP(port uint16) error {
	rules := fmt.Sprintf(`add table inet skbtop_test
add chain inet skbtop_test input { type filter hook input priority 0; policy accept; }
add rule inet skbtop_test input udp dport %d counter drop
`, port)
	cmd := []string{"netns", "exec", n.Name, "nft", "-f", "-"}
	if _, err := runStdin(rules, "ip", cmd...); err != nil {
		return fmt.Errorf("install nftables drop rule: %w", err)
	}
	return nil
}

var counterRE = regexp.MustCompile(`counter packets (\d+) bytes \d+ drop`)

// DroppedUDP returns the packet counter of the rule DropUDP installed.
func (n *Namespace) DroppedUDP() (uint64, error) {
	out, err := n.Exec("nft", "list", "chain", "inet", "skbtop_test", "input")
	if err != nil {
		return 0, err
	}
	m := counterRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no drop counter in nft output: %q", out)
	}
	return strconv.ParseUint(string(m[1]), 10, 64)
}
