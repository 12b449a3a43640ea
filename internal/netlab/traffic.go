package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// SendUDP sends n datagrams of size bytes from the sender to the receiver's
// port.
func (l *Link) SendUDP(port uint16, n, size int) error {
	return l.SendUDPTo(netip.AddrPortFrom(l.ReceiverAddr, port), n, size)
}

// SendUDPTo sends n datagrams of size bytes from the sender to dst, which
// may be any address on the link: the receiver, a neighbour nobody answers
// for, or a multicast group (sent out of the sender's veth). The socket is
// unconnected, so ICMP errors cannot make a later send fail and leave a
// datagram unsent.
func (l *Link) SendUDPTo(dst netip.AddrPort, n, size int) error {
	var conn *net.UDPConn
	err := l.Sender.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.SenderAddr, 0)))
		if err != nil || !dst.Addr().IsMulticast() {
			return err
		}
		ifc, err := net.InterfaceByName(l.SenderIf)
		if err != nil {
			return err
		}
		raw, err := conn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifc.Index)})
		})
		return errors.Join(err, serr)
	})
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return fmt.Errorf("udp socket: %w", err)
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(dst)
	payload := make([]byte, size)
	for i := range n {
		if _, err := conn.WriteToUDP(payload, to); err != nil {
			return fmt.Errorf("send datagram %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// SendFrames sends n Ethernet frames of the given ethertype from the sender
// veth to the receiver's MAC address. With an ethertype no protocol handles,
// each frame is dropped by the receiver as UNHANDLED_PROTO.
func (l *Link) SendFrames(ethertype uint16, n int) error {
	return l.SendRaw(l.ReceiverMAC, ethertype, nil, n)
}

// SendRaw sends n minimum-size Ethernet frames from the sender veth to dst,
// with typeOrLen in the type field (an ethertype, or below 0x0600 an 802.3
// length) followed by payload.
func (l *Link) SendRaw(dst net.HardwareAddr, typeOrLen uint16, payload []byte, n int) error {
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
	frame := make([]byte, max(60, 14+len(payload)))
	copy(frame[0:6], dst)
	copy(frame[6:12], l.SenderMAC)
	binary.BigEndian.PutUint16(frame[12:14], typeOrLen)
	copy(frame[14:], payload)
	to := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], dst)
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

// dropTable and dropChain hold the rule DropUDP installs.
var (
	dropTable = &nftables.Table{Name: "skbtop_test", Family: nftables.TableFamilyINet}
	dropChain = &nftables.Chain{
		Name:     "input",
		Table:    dropTable,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
	}
)

// nft opens an nftables connection inside the namespace.
func (n *Namespace) nft() (*nftables.Conn, func(), error) {
	f, err := os.Open(n.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("open netns: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	return c, func() { f.Close() }, nil
}

// addRule installs a rule of exprs in chain (creating its table and the
// chain if need be) inside the namespace; what names the rule in errors.
func (n *Namespace) addRule(chain *nftables.Chain, what string, exprs ...expr.Any) error {
	c, done, err := n.nft()
	if err != nil {
		return err
	}
	defer done()
	c.AddTable(chain.Table)
	c.AddChain(chain)
	c.AddRule(&nftables.Rule{Table: chain.Table, Chain: chain, Exprs: exprs})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("install nftables %s rule in %s: %w", what, n.Name, err)
	}
	return nil
}

// ruleCounter returns the packet counter of the first rule with one in
// chain inside the namespace; what names the rule in errors.
func (n *Namespace) ruleCounter(chain *nftables.Chain, what string) (uint64, error) {
	c, done, err := n.nft()
	if err != nil {
		return 0, err
	}
	defer done()
	rules, err := c.GetRules(chain.Table, chain)
	if err != nil {
		return 0, fmt.Errorf("list nftables rules: %w", err)
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				return ctr.Packets, nil
			}
		}
	}
	return 0, fmt.Errorf("no counter in the nftables %s rule", what)
}

// DropUDP installs an nftables rule in the namespace's input hook that
// counts and drops UDP datagrams to port: udp dport PORT counter drop.
func (n *Namespace) DropUDP(port uint16) error {
	return n.addRule(dropChain, "drop",
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}

// DroppedUDP returns the packet counter of the rule DropUDP installed: the
// kernel's own count of what the rule dropped.
func (n *Namespace) DroppedUDP() (uint64, error) {
	return n.ruleCounter(dropChain, "drop")
}

// Sysctl writes value to the namespace's /proc/sys/<path>, for example
// net/ipv4/neigh/IFNAME/unres_qlen_bytes.
func (n *Namespace) Sysctl(path, value string) error {
	return n.Do(func() error {
		return os.WriteFile("/proc/sys/"+path, []byte(value), 0)
	})
}

// JoinGroup opens a UDP socket on port in the namespace that joins the IPv4
// multicast group on the interface ifname. Close the returned socket to
// leave the group.
func (n *Namespace) JoinGroup(group netip.Addr, port uint16, ifname string) (io.Closer, error) {
	var conn *net.UDPConn
	err := n.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		conn, err = net.ListenMulticastUDP("udp4", ifc, net.UDPAddrFromAddrPort(netip.AddrPortFrom(group, port)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("join %s on %s: %w", group, ifname, err)
	}
	return conn, nil
}
