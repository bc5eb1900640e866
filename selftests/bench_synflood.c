// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The gate for scripts/bench.sh: loads the data path into a pin dir of its
 * own, writes the documented default config (with the flood settings given),
 * attaches the XDP program natively to IFACE and the TCP state tracking,
 * prints "ready", and runs until SIGINT/SIGTERM. Then it prints one JSON
 * object: the counters by reason (all classes together) and the flood
 * state, detaches and removes its pins. Run it inside the server's network
 * namespace (nsenter --net=..., so that /sys/fs/bpf stays visible).
 *
 * Usage: bench_synflood -i IFACE --pin-dir DIR [--flood-threshold RATE]
 *                       [--flood-budget RATE] [--verified N]
 * --verified N: N sources (2001:db8:f000::/36) in mg_verified beforehand,
 * as on a server that has been up for a while. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "gate.skel.h"

struct mg_opts opts; /* the library's output.c reads it; main.c is not linked */

static void remove_pins(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (!dp)
		return;
	while ((d = readdir(dp)))
		if (d->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			unlink(path);
		}
	closedir(dp);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "flood-threshold", required_argument, NULL, 't' },
		{ "flood-budget", required_argument, NULL, 'b' },
		{ "verified", required_argument, NULL, 'v' },
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
	uint32_t zero = 0;
	uint64_t v, *vbits;
	unsigned long n_verified = 0;
	sigset_t sigs;
	int ch, ifindex, err, rc = 1;

	/* blocked from the start, taken with sigwait(): none can be missed */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
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
		default:
			return 2;
		}
	}
	if (!ifname || !pin || !(ifindex = if_nametoindex(ifname))) {
		fprintf(stderr, "usage: bench_synflood -i IFACE --pin-dir DIR [--flood-threshold R] [--flood-budget R]\n");
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
	if (err) {
		fprintf(stderr, "bench_synflood: filling mg_verified: %s\n", strerror(-err));
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
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	rc = 0;
out:
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	bpf_link__destroy(tp);
	gate_close(&g);
	remove_pins(pin);
	return rc;
}
