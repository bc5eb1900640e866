// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Helpers of scripts/bench.sh, each running until SIGINT/SIGTERM after
 * printing "ready".
 *
 * bench_synflood gate: loads the data path into a pin dir of its own,
 * writes the documented default config (with the flood settings given),
 * attaches the XDP program natively to IFACE and the TCP state tracking.
 * At the end it prints one JSON object: the counters by reason (all classes
 * together) and the flood state, detaches and removes its pins. Run it
 * inside the server's network namespace (nsenter --net=..., so that
 * /sys/fs/bpf stays visible).
 *
 * bench_synflood wire IF_A IF_B: joins two interfaces with sink_wire of
 * bpf/sink.bpf.c (every frame in on one goes out of the other).
 *
 * Usage: bench_synflood gate -i IFACE --pin-dir DIR [--flood-action cookie|drop] [--flood-threshold RATE]
 *                       [--flood-budget RATE] [--verified N] [--deny N]
 *                       [--max-sources N]
 * --verified N: N sources (2001:db8:f000::/36) in mg_verified beforehand,
 * as on a server that has been up for a while.
 * --deny N: N /64 prefixes of 2001:db8:fe00::/40 in the deny list (the
 * benchmark gives nftables the same ones).
 *        bench_synflood wire IF_A IF_B */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "listset.h"
#include "gate.skel.h"
#include "sink.skel.h"
#include "cleanup.h"


/* blocked from the start, taken with sigwait(): none can be missed */
static void block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, sigs, NULL);
}

static int do_wire(int argc, char **argv)
{
	struct sink_bpf *sk;
	int a, b, sig, fd, err;
	sigset_t sigs;

	block_signals(&sigs);
	struct mg_lpm_key hole = {};

	if ((argc != 3 && argc != 4) || !(a = if_nametoindex(argv[1])) || !(b = if_nametoindex(argv[2])) ||
	    (argc == 4 && (parse_cidr(argv[3], &hole) || hole.prefixlen == 0))) {
		fprintf(stderr, "usage: bench_synflood wire IF_A IF_B [BLACKHOLE_V6_CIDR]\n");
		return 2;
	}
	sk = sink_bpf__open();
	if (!sk)
		return 1;
	sk->rodata->wire_a = a;
	sk->rodata->wire_b = b;
	if (argc == 4) {
		for (int i = 0; i < 4; i++) {
			uint32_t bits = hole.prefixlen > 32u * i ? hole.prefixlen - 32u * i : 0, m, w;

			m = htonl(bits >= 32 ? 0xffffffffu : (uint32_t)(0xffffffff00000000ull >> bits));
			memcpy(&w, hole.a + 4 * i, 4);
			sk->rodata->wire_hole_mask[i] = m;
			sk->rodata->wire_hole[i] = w & m;
		}
		sk->rodata->wire_hole_len = hole.prefixlen;
	}
	err = sink_bpf__load(sk);
	fd = bpf_program__fd(sk->progs.sink_wire);
	if (!err)
		err = bpf_xdp_attach(a, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (!err)
		err = bpf_xdp_attach(b, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "bench_synflood wire: %s\n", strerror(-err));
	} else {
		printf("ready\n");
		fflush(stdout);
		sigwait(&sigs, &sig);
	}
	bpf_xdp_detach(a, XDP_FLAGS_DRV_MODE, NULL);
	bpf_xdp_detach(b, XDP_FLAGS_DRV_MODE, NULL);
	sink_bpf__destroy(sk);
	return err ? 1 : 0;
}

static int do_gate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "flood-threshold", required_argument, NULL, 't' },
		{ "flood-budget", required_argument, NULL, 'b' },
		{ "verified", required_argument, NULL, 'v' },
		{ "deny", required_argument, NULL, 'd' },
		{ "max-sources", required_argument, NULL, 'm' },
		{ "flood-action", required_argument, NULL, 'a' },
		{}
	};
	const char *ifname = NULL, *pin = NULL;
	struct gate_sizes sz = { .max_sources = MG_DEFAULT_MAX_SOURCES };
	static uint8_t ports[65536];
	static uint64_t cnt[MG_COUNTER_SLOTS];
	struct bpf_link *tp = NULL;
	struct json_object *o, *r;
	struct mg_config c;
	struct mg_global gl;
	struct gate g;
	struct cookie_tc *tc = NULL;
	char why[160] = "";
	int tc_link = -1;
	uint32_t zero = 0;
	uint64_t v, *vbits;
	unsigned long n_verified = 0, n_deny = 0;
	sigset_t sigs;
	int ch, ifindex, err, rc = 1;

	block_signals(&sigs);
	gate_default_config(&c);
	while ((ch = getopt_long(argc, argv, "i:", lo, NULL)) != -1) {
		switch (ch) {
		case 'i':
			ifname = optarg;
			break;
		case 'p':
			pin = optarg;
			break;
		case 't':
			if (parse_rate(optarg, &v)) {
				fprintf(stderr, "bench_synflood: bad --flood-threshold '%s'\n", optarg);
				return 2;
			}
			c.flood_interval_ns = v;
			break;
		case 'b':
			if (parse_rate(optarg, &v)) {
				fprintf(stderr, "bench_synflood: bad --flood-budget '%s'\n", optarg);
				return 2;
			}
			c.flood_budget_interval_ns = v;
			break;
		case 'v':
			n_verified = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			n_deny = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			sz.max_sources = strtoul(optarg, NULL, 10);
			break;
		case 'a':
			if (strcmp(optarg, "cookie") && strcmp(optarg, "drop")) {
				fprintf(stderr, "bench_synflood: bad --flood-action '%s' (cookie or drop)\n", optarg);
				return 2;
			}
			c.flood_action = strcmp(optarg, "drop") ? MG_FLOOD_COOKIE : MG_FLOOD_DROP;
			break;
		default:
			return 2;
		}
	}
	if (!ifname || !pin || !(ifindex = if_nametoindex(ifname))) {
		fprintf(stderr, "usage: bench_synflood gate -i IFACE --pin-dir DIR [--flood-threshold R] [--flood-budget R]\n");
		return 2;
	}
	err = gate_load(&g, pin, &sz);
	if (err) {
		fprintf(stderr, "bench_synflood: load: %s\n", strerror(-err));
		return 1;
	}
	gate_default_ports(ports);
	err = gate_write_ports(&g, ports);
	if (!err)
		err = gate_write_config(&g, &c);
	if (!err)
		err = bpf_xdp_attach(ifindex, bpf_program__fd(g.skel->progs.mg_xdp), XDP_FLAGS_DRV_MODE, NULL);
	if (!err) {
		tp = bpf_program__attach(g.skel->progs.mg_sock_state);
		err = tp ? 0 : -errno;
	}
	if (err) {
		fprintf(stderr, "bench_synflood: setup: %s\n", strerror(-err));
		goto out;
	}
	/* SYN cookies, as the daemon sets them up (else flood mode drops) */
	tc = c.flood_action == MG_FLOOD_COOKIE ? cookie_tc_load(&g, why, sizeof(why)) : NULL;
	if (c.flood_action == MG_FLOOD_DROP)
		snprintf(why, sizeof(why), "--flood-action drop");
	if (tc)
		tc_link = cookie_tc_attach(tc, ifindex, NULL);
	if (!tc || tc_link < 0 || cookie_keys_rotate(&g, now_boot_ns())) {
		fprintf(stderr, "bench_synflood: no SYN cookies (%s): flood mode drops\n", why[0] ? why : "TC link");
		c.flood_action = MG_FLOOD_DROP;
		gate_write_config(&g, &c);
	}
	/* a mail server's history: sources that completed handshakes before
	 * (2001:db8:f000::/36 + i), so that the flood's lookups hit a full map */
	vbits = mmap(NULL, MG_VBITS_WORDS * 8, PROT_READ | PROT_WRITE, MAP_SHARED,
		     bpf_map__fd(g.skel->maps.mg_vbits), 0);
	if (vbits == MAP_FAILED)
		err = -errno;
	for (unsigned long i = 0; i < n_verified && !err; i++) {
		struct mg_addr a;
		uint32_t bit;

		parse_addr("2001:db8:f000::", &a);
		for (int b = 0; b < 8; b++)
			a.a[15 - b] = i >> (8 * b);
		v = now_boot_ns();
		err = bpf_map_update_elem(g.fd[GM_VERIFIED], &a, &v, BPF_ANY) ? -errno : 0;
		bit = mg_vbit(&a);
		vbits[bit / 64] |= 1ULL << (bit % 64); /* nothing else runs yet */
	}
	if (vbits != MAP_FAILED)
		munmap(vbits, MG_VBITS_WORDS * 8);
	/* a deny list: 2001:db8:fe00::/40 cut into /64s, the first N of them */
	for (unsigned long i = 0; i < n_deny && !err; i++) {
		struct mg_lpm_key k = { .prefixlen = 64 };
		struct mg_rule r = { .prefixlen = 64, .origin = MG_ORIGIN_CLI };
		struct mg_addr a;

		parse_addr("2001:db8:fe00::", &a);
		memcpy(k.a, a.a, 16);
		k.a[5] = i >> 16, k.a[6] = i >> 8, k.a[7] = i;
		err = list_put(&g, MG_LIST_DENY, &k, &r);
	}
	if (err) {
		fprintf(stderr, "bench_synflood: filling mg_verified / mg_deny: %s\n", strerror(-err));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&sigs, &ch);

	gate_read_counters(&g, cnt);
	memset(&gl, 0, sizeof(gl));
	bpf_map_lookup_elem(g.fd[GM_GLOBAL], &zero, &gl);
	o = json_object_new_object();
	r = json_object_new_object();
	for (int i = 0; i < MG_REASON_MAX; i++) {
		uint64_t sum = 0;

		for (int cl = 0; cl < MG_CLASS_MAX; cl++)
			sum += cnt[MG_COUNTER_IDX(i, cl)];
		json_object_object_add(r, mg_reason_names[i], json_object_new_uint64(sum));
	}
	json_object_object_add(o, "counters", r);
	json_object_object_add(o, "flood_mode", json_object_new_int(gl.flood_mode));
	json_object_object_add(o, "flood_entries", json_object_new_uint64(gl.flood_entries));
	json_object_object_add(o, "events_lost", json_object_new_uint64(gl.events_lost));
	json_object_object_add(o, "flood_why", json_object_new_string(flood_why_name(gl.flood_why)));
	json_object_object_add(o, "flood_action", json_object_new_string(c.flood_action == MG_FLOOD_COOKIE ? "cookie" : "drop"));
	json_object_object_add(o, "cookie_handshakes", json_object_new_uint64(gl.cookie_acks));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	rc = 0;
out:
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (tc_link >= 0)
		close(tc_link);
	cookie_tc_close(tc);
	bpf_link__destroy(tp);
	gate_close(&g);
	rm_dir(pin);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "wire"))
		return do_wire(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "gate"))
		return do_gate(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench_synflood gate ... | wire IF_A IF_B\n");
	return 2;
}
