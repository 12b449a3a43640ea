/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types drop.c reads, declared with preserve_access_index so
 * that clang emits CO-RE relocations: the loader matches every field by name
 * against the running kernel's BTF and patches its offset. Only the fields
 * used are declared; their order and the padding between them do not matter.
 * Fields the kernel keeps in anonymous structs or unions (sk_buff's headers
 * group, dev inside the list union) are matched through those members.
 */
#ifndef SKBTOP_H
#define SKBTOP_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_STACK_TRACE = 7,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
};

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

/*
 * net_cookie is a u64 the kernel sets when it makes the namespace and never
 * hands out again while it runs (Linux 5.12; user space reads it with
 * SO_NETNS_COOKIE since 5.14). drop.c checks that it exists before reading
 * it: see netns_cookie there.
 */
struct net {
	struct ns_common ns;
	__u64 net_cookie;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct net_device {
	char name[16];
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct sock_common {
	possible_net_t skc_net;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned int len;
	__be16 protocol;
	__u16 network_header;
	__u32 tail;
	unsigned char *head;
} __attribute__((preserve_access_index));

#endif
