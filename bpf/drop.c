//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// drop.c counts every skb the kernel frees as dropped (the skb:kfree_skb
// tracepoint) in a per-CPU hash keyed by drop site, reason, interface,
// network namespace and protocol, and sends a rate-limited sample of the
// drops to user space through a ring buffer. The counts are exact: every
// drop either lands in its key or, when the map is full, in the overflow
// counters. There are two such hashes, so that user space can free keys
// without losing a drop (see counts0).

#include "headers/skbtop.h"
// libbpf's headers, vendored in headers/bpf: gen.go compiles with
// -nostdinc -I headers, so these never come from the system.
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define SAMPLE_BYTES 128
#define NSEC_PER_SEC 1000000000ULL

// Set by the loader before the program is loaded.
// filter_netns, when not zero, is the inode of the only network namespace
// whose drops are counted.
volatile const __u32 filter_netns = 0;
// sample_limit is how many drops each CPU may sample per second; 0 turns
// sampling off.
volatile const __u32 sample_limit = 64;

struct key {
	__u64 location;
	// netns_cookie tells apart the namespaces the kernel gave the same
	// inode (it reuses a freed namespace's); netns stays for the filter
	// and for naming.
	__u64 netns_cookie;
	__u32 reason;
	__u32 ifindex;
	__u32 netns;
	__u16 l3;
	__u8 l4;
	__u8 pad;
};

struct value {
	__u64 packets;
	__u64 bytes;
};

// cpu_state is per CPU: the sampler's window and the tracer's own health
// counters, kept in one map so each drop costs one lookup for both.
struct cpu_state {
	__u64 window_start;
	__u64 window_taken;
	__u64 sampled;
	__u64 suppressed;
	__u64 lost;
	__u64 overflow_packets;
	__u64 overflow_bytes;
};

struct event {
	__u64 time_ns;
	__u64 location;
	__u64 netns_cookie;
	__u32 reason;
	__u32 ifindex;
	__u32 netns;
	__u32 len;
	__u32 cpu;
	__u16 l3;
	__u8 l4;
	__u8 captured;
	char ifname[16];
	__u8 data[SAMPLE_BYTES];
};

// The per-CPU state map, the devices map and the counting they serve are
// maps.h's, shared with retrans.c.
#include "maps.h"

// counts0 and counts1 hold the counts by key, and active_counts says which
// one the program counts in (0 or 1): maps.h's COUNTS_MAPS has how user
// space frees keys without losing a drop. The loader sizes both maps
// (Config.MaxKeys).
COUNTS_MAPS(counts_map, counts0, counts1, active_counts, 16384);

// samples is a BPF ring buffer, written with BPF_RB_NO_WAKEUP: user space
// reads it with each refresh and on a timer between them, never asleep in
// its epoll (a reader woken by the kernel cost the Go runtime more than the
// reading: tracer/samples.go). Which transport
// carries samples hardly matters at the default rate: a CPU sends at most
// sample_limit samples a second, and every other drop takes the suppressed
// path, which costs little more than sampling off. BENCHMARKS.md ("Sample
// cost in the kernel") has the figures.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} samples SEC(".maps");

// Keeps struct event in the object's BTF (the program only ever sees it
// through a ring buffer pointer) so that bpf2go generates its Go type.
const struct event *unused_event __attribute__((unused));

// l4_proto reads the IP protocol from the packet's own IPv4 or IPv6 header,
// following up to four IPv6 extension headers. It returns 0 when the skb has
// no network header or the bytes there are not the header skb->protocol
// claims.
static __always_inline __u8 l4_proto(unsigned char *head, __u16 nh, __u16 l3)
{
	// One read per header: every helper call costs on every drop.
	__u8 hdr[10];

	if (nh == (__u16)~0U)
		return 0;
	if (l3 == ETH_P_IP) {
		// Version in the high nibble of byte 0, protocol in byte 9.
		if (bpf_probe_read_kernel(hdr, 10, head + nh) || (hdr[0] >> 4) != 4)
			return 0;
		return hdr[9];
	}
	if (l3 != ETH_P_IPV6)
		return 0;
	// Version in the high nibble of byte 0, next header in byte 6.
	if (bpf_probe_read_kernel(hdr, 7, head + nh) || (hdr[0] >> 4) != 6)
		return 0;
	__u8 next = hdr[6];
	__u32 off = nh + 40;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		// Hop-by-hop (0), routing (43) and destination options (60) carry
		// their length in 8-octet units after the first 8; a fragment
		// header (44) is always 8 octets.
		if (next != 0 && next != 43 && next != 60 && next != 44)
			break;
		if (bpf_probe_read_kernel(hdr, 2, head + off))
			return 0;
		off += next == 44 ? 8 : ((__u32)hdr[1] + 1) * 8;
		next = hdr[0];
	}
	return next;
}

// overflow_devices counts, per interface, the drops that found the counts
// map full, so that an interface's reconciliation can say how many of its
// drops went to [map full] rather than calling them unexplained. Only the
// overflow path touches it; several CPUs may overflow on one interface at
// once, hence atomic adds. Cumulative: user space never deletes from it.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dev_key);
	__type(value, struct value);
} overflow_devices SEC(".maps");

static __always_inline void overflow_device(struct dev_key *dk, __u32 len)
{
	struct value *v = bpf_map_lookup_elem(&overflow_devices, dk);
	if (!v) {
		struct value init = {};
		bpf_map_update_elem(&overflow_devices, dk, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&overflow_devices, dk);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, len);
}

// count adds one drop of len bytes to key k in counts (counts0 or counts1)
// and returns 1 when the drop added the key, 0 when it found it, and -1
// when the map was full: the drop is then counted in st's overflow counters
// instead.
static __always_inline int count(void *counts, struct cpu_state *st,
				 struct key *k, __u32 len)
{
	struct value *v = bpf_map_lookup_elem(counts, k);
	if (!v) {
		struct value init = { .packets = 1, .bytes = len };
		int added = add_key(counts, k, &init, (void **)&v);
		if (added > 0)
			return 1;
		if (added < 0) {
			st->overflow_packets++;
			st->overflow_bytes += len;
			return -1;
		}
	}
	// Per-CPU value, and the kernel never runs this program twice on one
	// CPU at once (nested runs are counted as recursion misses), so plain
	// increments are exact.
	v->packets++;
	v->bytes += len;
	return 0;
}

static __always_inline void sample(struct cpu_state *st, struct sk_buff *skb,
				   struct net_device *dev, struct key *k,
				   __u32 len)
{
	// One window per CPU and second: at most sample_limit samples in it.
	// Reading the clock costs more than all the rest of a suppressed drop,
	// so once the window is used up only every 64th suppressed drop looks
	// at the clock: a new window opens at most 63 drops late, and no window
	// ever holds more than sample_limit samples. (bpf_ktime_get_coarse_ns
	// would be cheaper, but tracing programs may not call it.)
	__u64 now;
	if (st->window_taken >= sample_limit) {
		if (st->suppressed & 63) {
			st->suppressed++;
			return;
		}
		now = bpf_ktime_get_ns();
		if (now - st->window_start < NSEC_PER_SEC) {
			st->suppressed++;
			return;
		}
		st->window_start = now;
		st->window_taken = 0;
	} else {
		now = bpf_ktime_get_ns();
		if (now - st->window_start >= NSEC_PER_SEC) {
			st->window_start = now;
			st->window_taken = 0;
		}
	}
	st->window_taken++;

	struct event *e = bpf_ringbuf_reserve(&samples, sizeof(*e), 0);
	if (!e) {
		st->lost++;
		return;
	}
	e->time_ns = now;
	e->location = k->location;
	e->reason = k->reason;
	e->ifindex = k->ifindex;
	e->netns = k->netns;
	e->netns_cookie = k->netns_cookie;
	e->len = len;
	e->cpu = bpf_get_smp_processor_id();
	e->l3 = k->l3;
	e->l4 = k->l4;
	e->ifname[0] = 0;
	if (dev)
		bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), dev->name);

	// Copy from the network header to the end of the linear data, at most
	// SAMPLE_BYTES.
	__u32 captured = 0;
	__u16 nh = skb->network_header;
	__u32 tail = skb->tail;
	if (nh != (__u16)~0U && tail > nh) {
		captured = tail - nh;
		if (captured > SAMPLE_BYTES)
			captured = SAMPLE_BYTES;
		if (bpf_probe_read_kernel(e->data, captured, skb->head + nh))
			captured = 0;
	}
	e->captured = captured;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	st->sampled++;
}

// Stacks on demand. The kernel stack of a drop is recorded only for the
// drops user space asked about, and only while it asks: stack_hi is 0
// otherwise, and then the only cost per drop is the load and test of one
// .bss variable (stack_wanted below), the same page active_counts is read
// from. User space (tracer.StartStacks) writes the other stack_* variables
// first, then stack_hi last; to stop it writes stack_hi 0 and waits for an
// RCU grace period, after which no run can still be recording, and only
// then reads and clears the maps. A run that reads the variables while they
// are being written may record a drop by the old or the new request: only
// at the instant a collection starts, which user space counts from after
// the write.
//
// [stack_lo, stack_hi) is a range of drop locations: one address for a
// site of the live view, a whole function for --stacks SYMBOL.
volatile __u64 stack_lo = 0;
volatile __u64 stack_hi = 0;
// stack_match says which of the other fields a drop must match as well.
#define STACK_MATCH_REASON 1
#define STACK_MATCH_IFACE 2
volatile __u32 stack_match = 0;
volatile __u32 stack_reason = 0;
volatile __u32 stack_ifindex = 0;
volatile __u32 stack_netns = 0;
volatile __u64 stack_netns_cookie = 0;

#define STACK_DEPTH 64
#define ENOMEM 12

// stacks holds each distinct kernel stack once, by the id bpf_get_stackid
// gives it (a hash of the frames, modulo the map's buckets).
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

// stack_key is a drop's key and the id of its stack.
struct stack_key {
	struct key k;
	__s32 stackid;
	__u32 pad;
};

// stack_counts counts drops by key and stack, per CPU like counts0.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct stack_key);
	__type(value, __u64);
} stack_counts SEC(".maps");

// stack_health counts, per CPU, the requested drops whose stack was not
// counted, by why. bpf_get_stackid is called without BPF_F_REUSE_STACKID:
// with it, a stack whose hash lands in a taken bucket would replace the
// stack there, and the drops already counted under that id would be shown
// with a stack they never had. Without it the new stack is refused with
// -EEXIST (a collision) and counted here instead; -ENOMEM means every
// preallocated stack is in use (the map is full).
//
// Walking a stack costs about 1.5 us (BENCHMARKS.md), twenty times a whole
// run without it, so a CPU records at most STACK_LIMIT stacks a second and
// counts the requested drops beyond that as suppressed: a site dropping a
// million packets a second costs at most 1.5 ms of each CPU's second while
// its stacks are collected, not all of it.
#define STACK_LIMIT 1024
struct stack_fail {
	__u64 collisions;
	__u64 stacks_full;
	__u64 counts_full;
	__u64 failed;
	__u64 suppressed;
	// The rate limit's window, as the sampler's.
	__u64 window_start;
	__u64 window_taken;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_fail);
} stack_health SEC(".maps");

static __always_inline int stack_wanted(struct key *k)
{
	if (!stack_hi || k->location < stack_lo || k->location >= stack_hi)
		return 0;
	if ((stack_match & STACK_MATCH_REASON) && k->reason != stack_reason)
		return 0;
	if ((stack_match & STACK_MATCH_IFACE) &&
	    (k->ifindex != stack_ifindex || k->netns != stack_netns ||
	     k->netns_cookie != stack_netns_cookie))
		return 0;
	return 1;
}

static __always_inline void record_stack(void *ctx, struct key *k)
{
	__u32 zero = 0;
	struct stack_fail *h = bpf_map_lookup_elem(&stack_health, &zero);
	if (!h)
		return;
	__u64 now = bpf_ktime_get_ns();
	if (now - h->window_start >= NSEC_PER_SEC) {
		h->window_start = now;
		h->window_taken = 0;
	}
	if (h->window_taken >= STACK_LIMIT) {
		h->suppressed++;
		return;
	}
	h->window_taken++;
	long id = bpf_get_stackid(ctx, &stacks, 0);
	if (id < 0) {
		if (id == -EEXIST)
			h->collisions++;
		else if (id == -ENOMEM)
			h->stacks_full++;
		else
			h->failed++;
		return;
	}
	struct stack_key sk = { .k = *k, .stackid = id };
	__u64 *n = bpf_map_lookup_elem(&stack_counts, &sk);
	if (!n) {
		__u64 one = 1;
		int added = add_key(&stack_counts, &sk, &one, (void **)&n);
		if (added > 0)
			return;
		if (added < 0) {
			h->counts_full++;
			return;
		}
	}
	(*n)++;
}

// NO_REASON is the reason of drops on kernels whose tracepoint has none
// (drops.NoReason): no enum skb_drop_reason value comes near it.
#define NO_REASON 0xffffffffU

// on_drop counts one drop, samples it and records its stack when asked.
// ctx is the program's, reason the kernel's, or NO_REASON on kernels that
// give none.
static __always_inline int on_drop(void *ctx, struct sk_buff *skb,
				   void *location, __u32 reason)
{
	struct net_device *dev = skb->dev;
	struct net *net = 0;
	__u32 netns = 0, ifindex = 0;
	__u64 cookie = 0;

	// A drop belongs to the namespace of its device; before a device is
	// attached (or after it is cleared) to that of its socket.
	// possible_net_t.net is an __rcu pointer: the verifier insists on a
	// NULL check before following it.
	if (dev) {
		ifindex = dev->ifindex;
		net = dev->nd_net.net;
	} else {
		struct sock *sk = skb->sk;
		if (sk)
			net = sk->__sk_common.skc_net.net;
	}
	if (net)
		netns = net->ns.inum;
	if (filter_netns && netns != filter_netns)
		return 0;
	if (net)
		cookie = netns_cookie(net);

	__u32 len = skb->len;
	__u16 nh = skb->network_header;
	struct key k = {
		.location = (__u64)location,
		.reason = reason,
		.ifindex = ifindex,
		.netns = netns,
		.netns_cookie = cookie,
		.l3 = bpf_ntohs(skb->protocol),
	};
	k.l4 = l4_proto(skb->head, nh, k.l3);

	struct cpu_state *st = get_cpu_state();
	if (!st)
		return 0;

	// One load of the global (a direct map value access), and a call site
	// of its own for each map (see COUNTS_MAPS).
	int added;
	if (active_counts)
		added = count(&counts1, st, &k, len);
	else
		added = count(&counts0, st, &k, len);
	if (added < 0 && dev) {
		struct dev_key dk = {
			.netns_cookie = cookie,
			.netns = netns,
			.ifindex = ifindex,
		};
		overflow_device(&dk, len);
	}
	if (added > 0 && dev)
		name_device(dev, cookie, netns, ifindex);

	if (sample_limit)
		sample(st, skb, dev, &k, len);
	if (stack_wanted(&k))
		record_stack(ctx, &k);
	return 0;
}

// The kfree_skb tracepoint passes (skb, location, reason) since Linux 5.17,
// and (skb, location, reason, rx_sk) since 6.10; before 5.17 it had no
// reason. A tp_btf program may not read an argument the tracepoint does not
// have (the verifier refuses the context access), so there are two
// programs, and the loader loads the one the kernel's BTF calls for
// (btf_trace_kfree_skb's parameters). Both count in the same maps.
SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, int reason)
{
	return on_drop(ctx, skb, location, reason);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb_noreason, struct sk_buff *skb, void *location)
{
	return on_drop(ctx, skb, location, NO_REASON);
}
