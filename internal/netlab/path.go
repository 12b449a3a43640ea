package netlab

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Path is three namespaces in a row, a client, a router and a server, so
// that the router can lose packets between the other two:
//
//	client 198.18.1.1/30 — 198.18.1.2 router 198.18.2.1 — 198.18.2.2/30 server
//
// The client and the server route everything through the router, which
// forwards. Neighbour entries are permanent, so no ARP adds packets (or
// drops) of its own.
type Path struct {
	Client, Router, Server *Namespace
	// ClientIf is the client's veth, ServerIf the server's.
	ClientIf, ServerIf         string
	ClientAddr, ServerAddr     netip.Addr
	RouterClient, RouterServer netip.Addr
}

// NewPath creates the three namespaces and the two veth pairs between them.
func NewPath() (p *Path, err error) {
	p = &Path{
		ClientAddr:   netip.MustParseAddr("198.18.1.1"),
		RouterClient: netip.MustParseAddr("198.18.1.2"),
		RouterServer: netip.MustParseAddr("198.18.2.1"),
		ServerAddr:   netip.MustParseAddr("198.18.2.2"),
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if err = newNamespaces([]**Namespace{&p.Client, &p.Router, &p.Server}, "skbtop-client", "skbtop-router", "skbtop-server"); err != nil {
		return nil, err
	}
	id := seq.Add(1)
	p.ClientIf, p.ServerIf = fmt.Sprintf("scl%d", id), fmt.Sprintf("ssv%d", id)
	rc, rs := fmt.Sprintf("src%d", id), fmt.Sprintf("srs%d", id)
	mac := func(last byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0x00, 0xc6, 0x12, byte(id), last} }
	steps := [][]string{
		{"link", "add", p.ClientIf, "netns", p.Client.Name, "address", mac(1).String(), "type", "veth",
			"peer", "name", rc, "netns", p.Router.Name, "address", mac(2).String()},
		{"link", "add", p.ServerIf, "netns", p.Server.Name, "address", mac(4).String(), "type", "veth",
			"peer", "name", rs, "netns", p.Router.Name, "address", mac(3).String()},
		{"-n", p.Client.Name, "addr", "add", p.ClientAddr.String() + "/30", "dev", p.ClientIf},
		{"-n", p.Router.Name, "addr", "add", p.RouterClient.String() + "/30", "dev", rc},
		{"-n", p.Router.Name, "addr", "add", p.RouterServer.String() + "/30", "dev", rs},
		{"-n", p.Server.Name, "addr", "add", p.ServerAddr.String() + "/30", "dev", p.ServerIf},
		{"-n", p.Client.Name, "link", "set", p.ClientIf, "up"},
		{"-n", p.Router.Name, "link", "set", rc, "up"},
		{"-n", p.Router.Name, "link", "set", rs, "up"},
		{"-n", p.Server.Name, "link", "set", p.ServerIf, "up"},
		{"-n", p.Client.Name, "route", "add", "default", "via", p.RouterClient.String()},
		{"-n", p.Server.Name, "route", "add", "default", "via", p.RouterServer.String()},
		{"-n", p.Client.Name, "neigh", "replace", p.RouterClient.String(), "lladdr", mac(2).String(), "dev", p.ClientIf, "nud", "permanent"},
		{"-n", p.Router.Name, "neigh", "replace", p.ClientAddr.String(), "lladdr", mac(1).String(), "dev", rc, "nud", "permanent"},
		{"-n", p.Router.Name, "neigh", "replace", p.ServerAddr.String(), "lladdr", mac(4).String(), "dev", rs, "nud", "permanent"},
		{"-n", p.Server.Name, "neigh", "replace", p.RouterServer.String(), "lladdr", mac(3).String(), "dev", p.ServerIf, "nud", "permanent"},
	}
	if err = ipSteps(steps); err != nil {
		return nil, err
	}
	if err = p.Router.Sysctl("net/ipv4/ip_forward", "1"); err != nil {
		return nil, fmt.Errorf("enable forwarding in %s: %w", p.Router.Name, err)
	}
	return p, nil
}

// Close deletes the three namespaces, and with them the veths and the
// router's nftables table.
func (p *Path) Close() error { return closeAll(p.Client, p.Router, p.Server) }

// lossTable holds the rules LoseTCP and LoseTCPOut install.
var lossTable = &nftables.Table{Name: "skbtop_loss", Family: nftables.TableFamilyINet}

// lossChain is the chain of the rule in hook.
func lossChain(name string, hook *nftables.ChainHook) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: lossTable, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityFilter}
}

// LoseTCP makes the router drop one in every mod TCP segments it forwards
// to the server's port, at random:
//
//	ip daddr SERVER tcp dport PORT numgen random mod MOD 0 counter drop
func (p *Path) LoseTCP(port uint16, mod uint32) error {
	return p.loseTCP(p.Router, lossChain("forward", nftables.ChainHookForward), port, mod, true)
}

// RefuseTCPIn makes the client drop every TCP segment that comes from the
// server's port (the input hook): it never sees the server's SYN-ACKs.
func (p *Path) RefuseTCPIn(port uint16) error {
	return p.loseTCP(p.Client, lossChain("input", nftables.ChainHookInput), port, 1, false)
}

// LoseTCPOut makes the client itself drop one in every mod TCP segments it
// sends to the server's port (the output hook): the sends fail in the
// client, which drops them as a firewall does.
func (p *Path) LoseTCPOut(port uint16, mod uint32) error {
	return p.loseTCP(p.Client, lossChain("output", nftables.ChainHookOutput), port, mod, true)
}

// loseTCP installs the rule in chain of ns: to the server's port (toServer)
// or from it, one in every mod segments.
func (p *Path) loseTCP(ns *Namespace, chain *nftables.Chain, port uint16, mod uint32, toServer bool) error {
	server := p.ServerAddr.As4()
	// The IPv4 destination address is 4 bytes at offset 16, the source 4
	// at 12; the TCP destination port 2 bytes at offset 2, the source 2 at
	// 0.
	var addrAt, portAt uint32 = 16, 2
	if !toServer {
		addrAt, portAt = 12, 0
	}
	return ns.addRule(chain, "loss",
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrAt, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: server[:]},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: portAt, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
		// A random number below mod, in the register in host order.
		&expr.Numgen{Register: 1, Modulus: mod, Type: unix.NFT_NG_RANDOM},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}

// LostTCP returns the packet counter of the rule LoseTCP installed: the
// segments the router dropped.
func (p *Path) LostTCP() (uint64, error) {
	return p.Router.ruleCounter(lossChain("forward", nftables.ChainHookForward), "loss")
}

// LostTCPOut returns the packet counter of the rule LoseTCPOut installed.
func (p *Path) LostTCPOut() (uint64, error) {
	return p.Client.ruleCounter(lossChain("output", nftables.ChainHookOutput), "loss")
}

// Serve listens on the server's port and reads every connection to the
// end, adding what it read to *got; Close the listener to stop.
func (p *Path) Serve(port uint16, got func(n int)) (net.Listener, error) {
	var ln net.Listener
	err := p.Server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.ServerAddr, port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen in %s: %w", p.Server.Name, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						got(n)
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln, nil
}

// Dial opens a TCP connection from the client to the server's port; the
// socket lives in the client's namespace.
func (p *Path) Dial(port uint16) (*net.TCPConn, error) {
	var c net.Conn
	err := p.Client.Do(func() error {
		var err error
		c, err = net.Dial("tcp4", netip.AddrPortFrom(p.ServerAddr, port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connect from %s: %w", p.Client.Name, err)
	}
	return c.(*net.TCPConn), nil
}
