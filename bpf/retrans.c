//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// retrans.c counts the TCP segments the kernel retransmits (the
// tcp:tcp_retransmit_skb tracepoint, and tcp:tcp_retransmit_synack for a
// listener's SYN-ACKs) in a per-CPU hash keyed by connection peer: remote
// address and port, local port, network namespace and the interface of the
// socket's cached route (for a SYN-ACK, where the request has one). It is drop.c's counting design
// for another event: every retransmission either lands in its key or, when
// the map is full, in the overflow counters, and two maps let user space
// free keys without losing one (see retrans0). It runs only when TCP
// retransmits, so its cost on a healthy host is nothing.

#include "headers/skbtop.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

// The errnos __tcp_retransmit_skb returns when it gives up before it
// counts the retransmission (see counted).
#define EAGAIN 11
#define ENOMEM 12
#define EBUSY 16
#define EINVAL 22
#define EHOSTUNREACH 113
#define AF_INET 2
#define AF_INET6 10

// The socket fields this program reads. The ___rt suffix keeps them apart
// from skbtop.h's struct sock, which drop.c declares with fewer fields: the
// loader matches a flavoured name (anything after ___ is ignored) against
// the kernel's struct sock all the same.
// Only the address of skc_v6_daddr is taken: its 16 bytes are read whole.
struct in6_addr___rt {
	__u8 bytes[16];
};

struct sock_common___rt {
	__be32 skc_daddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	int skc_bound_dev_if;
	possible_net_t skc_net;
	struct in6_addr___rt skc_v6_daddr;
} __attribute__((preserve_access_index));

// A SYN-ACK's request: its sock_common holds the peer, and
// skc_bound_dev_if (ir_iif) the interface, where the request keeps one: a
// listener bound to a device, an IPv6 link-local peer; 0 otherwise.
struct request_sock___rt {
	struct sock_common___rt __req_common;
} __attribute__((preserve_access_index));

struct dst_entry___rt {
	struct net_device *dev;
} __attribute__((preserve_access_index));

struct sock___rt {
	struct sock_common___rt __sk_common;
	struct dst_entry___rt *sk_dst_cache;
} __attribute__((preserve_access_index));

// TCP keeps its per-skb state in skb->cb as struct tcp_skb_cb;
// tcp_gso_segs is tcp_skb_pcount(skb), the segments the skb stands for.
struct tcp_skb_cb___rt {
	__u16 tcp_gso_segs;
} __attribute__((preserve_access_index));

struct sk_buff___rt {
	char cb[48];
} __attribute__((preserve_access_index));

// Set by the loader before the program is loaded.
// filter_netns, when not zero, is the inode of the only network namespace
// whose retransmits are counted.
volatile const __u32 filter_netns = 0;
// has_err says the tracepoint passes a third argument, the result of the
// retransmission (Linux 6.16 added it and moved the tracepoint to fire on
// failed attempts too). Before it, the tracepoint fired only for
// retransmissions the kernel sent. The loader reads the tracepoint's shape
// from BTF; with has_err 0 the verifier never sees the read of the third
// argument, which those kernels would refuse.
volatile const __u32 has_err = 0;

struct key {
	__u64 netns_cookie;
	__u32 netns;
	__u32 ifindex;
	// raddr is the remote IPv4 address in its first four bytes, or the
	// IPv6 address; network byte order.
	__u8 raddr[16];
	__u16 family;
	__u16 rport; // host order
	__u16 lport; // host order
	__u16 pad;
};

// value is one CPU's count for a key.
struct value {
	// retrans counts the retransmissions the kernel counted, segs the
	// segments they stood for: __tcp_retransmit_skb adds an skb's segment
	// count to TcpRetransSegs once it has decided to send it, before it
	// does; tcp_rtx_synack adds 1 for each SYN-ACK it sent again.
	__u64 retrans;
	__u64 segs;
	// unsent counts those of retrans that the transmission itself
	// failed (a full qdisc or backlog, a firewall): counted by the kernel
	// all the same. failed counts the attempts it gave up before counting
	// (see counted). Only kernels with has_err report either.
	__u64 unsent;
	__u64 failed;
	// last_ns is when this CPU last counted the key and state the
	// socket's TCP state then (TCP_ESTABLISHED, ...): user space shows
	// the state of the latest CPU.
	__u64 last_ns;
	__u32 state;
	__u32 pad;
};

// cpu_state is per CPU: the retransmits that found the map full.
struct cpu_state {
	__u64 overflow_retrans;
	__u64 overflow_segs;
	__u64 overflow_unsent;
	__u64 overflow_failed;
};

// The per-CPU state map, the devices map (the loader hands this program
// drop.c's) and the counting they serve are maps.h's, drop.c's design.
#include "maps.h"

// retrans0 and retrans1 hold the counts by key; active_retrans says which
// one the program counts in: the same flip as drop.c's counts0 and counts1
// (see COUNTS_MAPS).
COUNTS_MAPS(retrans_map, retrans0, retrans1, active_retrans, 4096);

// counted says whether the kernel counted a retransmission in
// TcpRetransSegs, from the result the tracepoint passes (Linux 6.16+): it
// returns early, before counting, with -EBUSY (the first transmission is
// still in a queue of this host), -EAGAIN (no window), -ENOMEM, -EINVAL or
// -EHOSTUNREACH (no route); any other result, 0 or a transmission's error
// (NET_XMIT_DROP, -ENOBUFS, -EPERM from a firewall, ...), comes after it
// counted. A transmission that fails with one of the early numbers
// (-ENOMEM, -EINVAL or -EHOSTUNREACH from deeper down: memory exhausted, a
// neighbour that cannot be made, a route gone since the check just before)
// is taken for an early exit: the one case where skbtop counts one less
// than TcpRetransSegs.
static __always_inline int counted(int err)
{
	switch (-err) {
	case EBUSY:
	case EAGAIN:
	case ENOMEM:
	case EINVAL:
	case EHOSTUNREACH:
		return 0;
	}
	return 1;
}

// tally counts one hit of segs segments with result err in the counters
// retrans, segs, unsent and failed of a value or of the overflow.
static __always_inline void tally(__u64 *retrans, __u64 *segs, __u64 *unsent,
				  __u64 *failed, __u64 n, int err)
{
	if (!counted(err)) {
		(*failed)++;
	} else {
		(*retrans)++;
		*segs += n;
		if (err)
			(*unsent)++;
	}
}

// add counts one hit in v. Per-CPU value, and the kernel never runs a
// program twice on one CPU at once (a nested run is skipped and counted as
// a recursion miss), so plain increments are exact.
static __always_inline void add(struct value *v, __u64 segs, int err,
				__u32 tcp_state, __u64 now)
{
	tally(&v->retrans, &v->segs, &v->unsent, &v->failed, segs, err);
	v->last_ns = now;
	v->state = tcp_state;
}

// count adds a hit to key k in m and returns 1 when it added the key, 0
// when it found it, -1 when the map was full (the hit then goes to st's
// overflow counters).
static __always_inline int count(void *m, struct cpu_state *st,
				 struct key *k, __u64 segs, int err,
				 __u32 tcp_state, __u64 now)
{
	struct value *v = bpf_map_lookup_elem(m, k);
	if (!v) {
		struct value init = {};
		add(&init, segs, err, tcp_state, now);
		int added = add_key(m, k, &init, (void **)&v);
		if (added > 0)
			return 1;
		if (added < 0) {
			tally(&st->overflow_retrans, &st->overflow_segs,
			      &st->overflow_unsent, &st->overflow_failed, segs,
			      err);
			return -1;
		}
	}
	add(v, segs, err, tcp_state, now);
	return 0;
}

// record counts one retransmission to the peer in skc, on interface
// ifindex (dev when the program has the device, to name it).
static __always_inline void record(struct sock_common___rt *skc, __u32 ifindex,
				   struct net_device *dev, __u64 segs, int err)
{
	struct net *net = skc->skc_net.net;
	__u32 netns = 0;
	if (net)
		netns = net->ns.inum;
	if (filter_netns && netns != filter_netns)
		return;

	struct key k = {
		.netns = netns,
		.ifindex = ifindex,
		.family = skc->skc_family,
		.rport = bpf_ntohs(skc->skc_dport),
		.lport = skc->skc_num,
	};
	if (net)
		k.netns_cookie = netns_cookie(net);
	if (k.family == AF_INET6)
		bpf_probe_read_kernel(k.raddr, 16, &skc->skc_v6_daddr);
	else {
		__be32 daddr = skc->skc_daddr;
		__builtin_memcpy(k.raddr, &daddr, 4);
	}
	__u32 tcp_state = skc->skc_state;
	__u64 now = bpf_ktime_get_ns();

	struct cpu_state *st = get_cpu_state();
	if (!st)
		return;
	int added;
	if (active_retrans)
		added = count(&retrans1, st, &k, segs, err, tcp_state, now);
	else
		added = count(&retrans0, st, &k, segs, err, tcp_state, now);
	if (added > 0 && dev)
		name_device(dev, k.netns_cookie, netns, ifindex);
}

SEC("tp_btf/tcp_retransmit_skb")
int on_tcp_retransmit_skb(__u64 *ctx)
{
	struct sock___rt *sk = (void *)ctx[0];
	struct sk_buff___rt *skb = (void *)ctx[1];
	int err = 0;
	if (has_err)
		err = (int)ctx[2];
	if (!sk)
		return 0;

	// The interface of the socket's cached route; none before the
	// socket has one or after it was reset.
	struct net_device *dev = 0;
	__u32 ifindex = 0;
	struct dst_entry___rt *dst = sk->sk_dst_cache;
	if (dst)
		dev = dst->dev;
	if (dev)
		ifindex = dev->ifindex;

	__u16 segs = 1;
	if (skb) {
		struct tcp_skb_cb___rt *cb = (void *)skb->cb;
		bpf_core_read(&segs, sizeof(segs), &cb->tcp_gso_segs);
	}
	record(&sk->__sk_common, ifindex, dev, segs, err);
	return 0;
}

// A listener sent a SYN-ACK again (tcp_rtx_synack): the tracepoint fires
// only when it went out, and the kernel added 1 to TcpRetransSegs.
SEC("tp_btf/tcp_retransmit_synack")
int on_tcp_retransmit_synack(__u64 *ctx)
{
	struct request_sock___rt *req = (void *)ctx[1];
	if (!req)
		return 0;
	__u32 ifindex = req->__req_common.skc_bound_dev_if;
	record(&req->__req_common, ifindex, 0, 1, 0);
	return 0;
}
