/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.h is the counting design drop.c and retrans.c share: every hit lands
 * in its key in one of two per-CPU hashes or, when that map is full, in the
 * program's per-CPU overflow counters; and the devices map names the
 * interfaces keys were added at. Each program has its own key, value and
 * cpu_state, and includes this after declaring them (and after skbtop.h and
 * libbpf's headers): the maps below are declared with those types.
 */
#ifndef SKBTOP_MAPS_H
#define SKBTOP_MAPS_H

#define EEXIST 17

/*
 * COUNTS_MAPS declares the two per-CPU hashes of struct value by struct key
 * a program counts in, map0 and map1 of the type struct maptype (entries keys
 * each; the loader may resize them), and active, which of them (0 or 1) the
 * program counts in. Two maps, so that keys are freed without losing a
 * hit: on every read user space flips active, waits until no program run
 * can still be counting in the other map, then reads that map's final
 * counts and clears it. A run reads active once and does all its counting
 * in that one map; a tp_btf program runs inside the RCU read-side section
 * the tracepoint opens around BPF programs (__bpf_trace_run), so an RCU
 * grace period after the flip is the wait (tracer.Read has how user space
 * gets one). Every key thus lives one read interval at most, and a new key
 * finds room however many keys came before it.
 *
 * active is no constant: user space writes it through the memory-mapped
 * .bss while the program runs. Read it once, and give each map a call site
 * of its own: the verifier inlines a lookup only where one call site
 * always sees the same map.
 */
#define COUNTS_MAPS(maptype, map0, map1, active, entries)	\
	struct maptype {				\
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);	\
		__uint(max_entries, entries);		\
		__type(key, struct key);		\
		__type(value, struct value);		\
	};						\
	struct maptype map0 SEC(".maps");		\
	struct maptype map1 SEC(".maps");		\
	volatile __u32 active = 0

/* state holds each CPU's struct cpu_state. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} state SEC(".maps");

/* get_cpu_state returns this CPU's struct cpu_state; never NULL in fact
 * (an array always has its element), but the verifier wants the check. */
static __always_inline struct cpu_state *get_cpu_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&state, &zero);
}

/*
 * add_key is the rest of counting a hit in key k of the hash m once a
 * lookup found no k there. It adds k with the value *init, which holds the
 * hit already, and returns 1 (from a program, a per-CPU hash update sets
 * this CPU's value and zeroes the other CPUs'). When another CPU added k
 * first, it sets *v to this CPU's value of k, for the caller to add the hit
 * to, and returns 0. It returns -1 when the map is full (-E2BIG), or the
 * kernel could not take the lock of the key's bucket: the caller then
 * counts the hit in its overflow counters, so that none is lost.
 */
static __always_inline int add_key(void *m, void *k, void *init, void **v)
{
	long err = bpf_map_update_elem(m, k, init, BPF_NOEXIST);
	if (!err)
		return 1;
	if (err == -EEXIST) {
		*v = bpf_map_lookup_elem(m, k);
		if (*v)
			return 0;
	}
	return -1;
}

/*
 * netns_cookie returns the namespace's cookie, or 0 where the kernel has
 * none. struct net has carried it as a u64 set when the namespace is made
 * since Linux 5.12. From 5.7 to 5.11 it was an atomic64_t, set only once
 * something asked for it: that type does not match the u64 skbtop.h
 * declares, so the loader finds no such field there, as before 5.7, and the
 * inode alone names the namespace. The check is a constant the loader
 * patches in; it costs nothing per hit.
 */
static __always_inline __u64 netns_cookie(struct net *net)
{
	if (bpf_core_field_exists(net->net_cookie))
		return net->net_cookie;
	return 0;
}

/*
 * dev_key keeps the inode beside the cookie so that, where the kernel has
 * no cookie (0 for every namespace), namespaces still have names apart.
 */
struct dev_key {
	__u64 netns_cookie;
	__u32 netns;
	__u32 ifindex;
};

struct dev_name {
	char name[16];
};

/*
 * devices remembers the name of each interface keys were added at, by
 * namespace and ifindex, written whenever a key there is added (so once per
 * key and read interval, and a renamed interface's new name soon replaces
 * the old), so that user space can name interfaces of namespaces it cannot
 * enter or that are already gone. The loader hands retrans.c drop.c's map,
 * so that one map names the interfaces of both.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dev_key);
	__type(value, struct dev_name);
} devices SEC(".maps");

/*
 * names_written counts the names name_device wrote to devices (new ones,
 * and changed ones): while it stands still, user space, which knows every
 * name written before, need not read the map.
 */
volatile __u64 names_written = 0;

/*
 * name_device stores the name dev has now as the name of the interface
 * ifindex in the namespace (netns, cookie), unless it is stored already.
 * Called when a key there was added: user space reads the name the
 * interface had then.
 */
static __always_inline void name_device(struct net_device *dev, __u64 cookie,
					__u32 netns, __u32 ifindex)
{
	struct dev_key dk = {
		.netns_cookie = cookie,
		.netns = netns,
		.ifindex = ifindex,
	};
	/* Zeroed, so that the bytes after the name's NUL compare too. */
	struct dev_name dn = {};
	bpf_probe_read_kernel_str(dn.name, sizeof(dn.name), dev->name);
	struct dev_name *old = bpf_map_lookup_elem(&devices, &dk);
	if (old && __builtin_memcmp(old->name, dn.name, sizeof(dn.name)) == 0)
		return;
	bpf_map_update_elem(&devices, &dk, &dn, BPF_ANY);
	__sync_fetch_and_add(&names_written, 1);
}

#endif
