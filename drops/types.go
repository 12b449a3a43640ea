// Package drops turns cumulative kernel drop counts and packet samples into
// the snapshot that every skbtop output shows: the TUI, the headless table,
// NDJSON and the saved JSON document all come from the same code here, so they
// cannot disagree. It is plain Go: no BPF, no netlink.
package drops

import (
	"math"
	"time"
)

// NoReason is the Reason of drops on kernels whose kfree_skb tracepoint
// passes no drop reason (before Linux 5.17): the kernel program counts them
// under it, and no enum skb_drop_reason value comes near it.
const NoReason = math.MaxUint32

// NoReasonsNote is what every view says on kernels without drop reasons.
const NoReasonsNote = "this kernel does not report drop reasons"

// Key identifies one aggregate bucket kept by the kernel program: one drop
// site, reason, interface, namespace and protocol pair.
type Key struct {
	// Location is the kernel text address the skb was freed from.
	Location uint64
	// Reason is the kernel's enum skb_drop_reason value, or NoReason on
	// kernels that report none.
	Reason uint32
	// Ifindex is skb->dev's index inside its namespace, 0 without a device.
	Ifindex uint32
	// Netns is the inode number of the network namespace, 0 when unknown.
	// The kernel hands a freed namespace's inode to the next one made, so
	// it names a namespace only together with NetnsCookie.
	Netns uint32
	// NetnsCookie is the namespace's cookie (struct net's net_cookie,
	// Linux 5.14+), which the kernel never reuses while it runs; 0 on
	// kernels without it, where Netns alone identifies the namespace.
	NetnsCookie uint64
	// L3 is the host-order ethertype from skb->protocol.
	L3 uint16
	// L4 is the IP protocol number read from the packet, 0 when none.
	L4 uint8
}

// Count is the cumulative number of drops and bytes seen for one Key.
type Count struct {
	Key
	Packets uint64
	Bytes   uint64
}

// Health holds the tracer's cumulative self-accounting: what it could not
// record, so the user knows how far to trust the view.
type Health struct {
	// Sampled is the number of drops sent to user space as samples.
	Sampled uint64
	// Suppressed is the number of drops not sampled because of the rate limit.
	Suppressed uint64
	// Lost is the number of samples the ring buffer had no room for.
	Lost uint64
	// OverflowPackets and OverflowBytes count drops that found the aggregate
	// map full; they are still counted, only without their key.
	OverflowPackets uint64
	OverflowBytes   uint64
	// RecursionMisses counts program runs the kernel skipped because another
	// BPF program was running on the same CPU; those drops are not counted.
	RecursionMisses uint64
	// Keys is how many keys the kernel's aggregate map holds now, out of
	// MaxKeys. Unlike the others these are levels, not cumulative counts.
	Keys, MaxKeys uint32
}

// Reading is one read of every source at one moment: the tracer's
// cumulative counts with the device names it learned, and the kernel's
// interface and protocol counters. Sources fill in raw, cumulative values;
// the Aggregator alone turns them into windows and rates.
type Reading struct {
	Time time.Time
	// Counts are the cumulative counts of the keys the kernel map holds.
	Counts []Count
	// Retired are the final counts of keys the tracer took out of the
	// kernel map in this read. A retired key that drops again comes back
	// in Counts counting from zero.
	Retired []Count
	// OverflowDevices are, per interface (the Key's Netns, NetnsCookie and
	// Ifindex), the cumulative drops that found the kernel map full: part
	// of Health's overflow counters.
	OverflowDevices []Count
	Health          Health
	// Devices names the interfaces of Counts' keys that the tracer had not
	// named before (it reports each name once, or again when it changes).
	Devices []Device
	// Links are the interface counters of the home namespace
	// (Config.Home); nil when they were not read this time (the view
	// keeps the previous ones).
	Links []Link
	// Stack are the namespace's protocol counters (UdpNoPorts, ...) in the
	// order to show them; nil when they were not read this time.
	Stack Stack
	// Errors are the problems of this reading: a source that failed.
	Errors []string
	// Retransmits are the retransmit program's counts; nil when skbtop
	// does not trace retransmits.
	Retransmits *RetransReading
}

// Device is an interface name the tracer read from the kernel.
type Device struct {
	Netns, Ifindex uint32
	NetnsCookie    uint64
	Name           string
}

// Stack is a namespace's protocol counters as a source read them.
type Stack []StackValue

// Get returns the counter called name.
func (s Stack) Get(name string) (uint64, bool) {
	for _, v := range s {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// StackValue is one cumulative protocol counter.
type StackValue struct {
	Name  string
	Value uint64
}

// Sample is one individual drop the kernel sent through the ring buffer.
type Sample struct {
	Key
	// Time is the wall-clock time of the drop.
	Time time.Time
	CPU  uint32
	// Ifname is skb->dev->name at the time of the drop.
	Ifname string
	// Len is skb->len.
	Len uint32
	// Data holds up to the first 128 bytes of the packet from its network
	// header.
	Data []byte
}

// Location is a kernel address resolved to a symbol.
type Location struct {
	Function string
	Offset   uint64
	Module   string
	Address  uint64
}

// Resolver names what the kernel reports as numbers.
type Resolver interface {
	// Locate resolves a kernel text address; ok is false when no symbol
	// covers it (the Location then carries only the address).
	Locate(addr uint64) (loc Location, ok bool)
	// Reason names an enum skb_drop_reason value without its
	// SKB_DROP_REASON_ prefix.
	Reason(code uint32) string
	// Namespace names the network namespace with inode netns for people,
	// "" when it cannot. With fresh, a name it knew for that inode may be
	// stale: a new namespace holds the inode now.
	Namespace(netns uint32, fresh bool) string
}
