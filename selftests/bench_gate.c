// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Per-packet cost of mg_xdp on its hot paths, measured with
 * BPF_PROG_TEST_RUN repeat against a bare `return XDP_DROP` program in the
 * same run (same CPU, same moment), and the memory its maps take.
 *
 * Each round runs every case `repeat` times in one syscall and reads the
 * kernel's average ns per run; the bare program runs right before each case,
 * the figure printed is the median over the rounds. The test-run loop's own
 * overhead is in both numbers; "extra" is the difference.
 *
 * Usage: bench_gate [--quick] [--size N] [--case TEXT]
 *   --quick: 1k and 100k deny entries, fewer repeats; --size: only that deny
 *   list size; --case: only the cases whose name contains TEXT (for perf) */
#include "frames.h"
#include "fixture.h"
#include "bench.h"
#include "sink.skel.h"

struct bench_case {
	const char *name;
	struct frame f;
	int reason; /* the decision this frame must get */
	int verdict;
	bool detect; /* with the default config's flood detection on (flood mode off) */
	double ns, bare_ns, parse_ns;
};

static struct fixture fx;
static int bare_fd, parse_fd;

static uint64_t memlock_of(int fd)
{
	char path[64], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void print_memory(const char *when)
{
	uint64_t total = 0;

	printf("\nmap memory (%s), memlock from /proc/self/fdinfo:\n", when);
	for (int i = 0; i < GM_MAX; i++) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		int fd = i == GM_ALLOW || i == GM_DENY ? list_live_fd(&fx.g, i == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY)
						       : fx.g.fd[i];
		uint64_t m = fd >= 0 ? memlock_of(fd) : 0;

		bpf_obj_get_info_by_fd(fd, &info, &len);
		if (fd >= 0 && fd != fx.g.fd[i])
			close(fd);
		printf("  %-14s max_entries %8u  key %3u  value %4u  %10.1f KiB\n", gate_map_names[i],
		       info.max_entries, info.key_size, info.value_size, m / 1024.0);
		total += m;
	}
	printf("  %-14s %52.1f MiB\n", "total", total / 1048576.0);
}

/* n distinct IPv4 addresses (a bijection of i over 32 bits), mapped form */
static void nth_addr(uint32_t i, uint8_t *a16)
{
	uint32_t v = i * 2654435761u + 0x9e3779b9u;

	memset(a16, 0, 16);
	a16[10] = a16[11] = 0xff;
	memcpy(a16 + 12, &v, 4);
}

/* Update n entries, in batches where the map takes them, else one by one. */
static int fill(int fd, void *keys, void *vals, uint32_t n, size_t ksz, size_t vsz)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	uint32_t done = 0;

	while (done < n) {
		uint32_t cnt = n - done < 65536 ? n - done : 65536;

		if (bpf_map_update_batch(fd, (uint8_t *)keys + done * ksz, (uint8_t *)vals + done * vsz,
					 &cnt, &bo))
			break;
		done += cnt;
	}
	for (; done < n; done++)
		if (bpf_map_update_elem(fd, (uint8_t *)keys + done * ksz, (uint8_t *)vals + done * vsz,
					BPF_ANY))
			return -errno;
	return 0;
}

/* deny entries [from, to): 7 of 8 are /32s, every 8th a /24 (two prefix
 * lengths in use, as a typical DROP-style feed) */
static void deny_entry(uint32_t i, struct mg_lpm_key *k, struct mg_rule *r)
{
	memset(k, 0, sizeof(*k));
	memset(r, 0, sizeof(*r));
	nth_addr(i, k->a);
	k->prefixlen = 128;
	if (i % 8 == 7) {
		k->prefixlen = 120;
		k->a[15] = 0;
	}
	r->prefixlen = k->prefixlen;
	r->origin = MG_ORIGIN_ZONE;
}

/* the deny list becomes entries [0, n) and 203.0.113.0/24, as a replace
 * (a new set built beside the live one, then switched) */
static int fill_deny(uint32_t n)
{
	struct mg_lpm_key *k = calloc(n + 1, sizeof(*k));
	struct mg_rule *r = calloc(n + 1, sizeof(*r));
	struct list_build b;
	int err;

	if (!k || !r)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		deny_entry(i, &k[i], &r[i]);
	parse_cidr("203.0.113.0/24", &k[n]);
	r[n].prefixlen = k[n].prefixlen;
	err = list_build_start(MG_LIST_DENY, n + 1, &b);
	err = err ?: list_build_add(&b, k, r, n + 1);
	err = err ?: list_build_publish(&fx.g, &b);
	list_build_abort(&b);
	free(k);
	free(r);
	return err;
}

/* n tracked sources in mg_src (and, with verdicts, a clean verdict each) */
static int fill_sources(uint32_t n, bool verdicts)
{
	struct mg_addr *k = calloc(n, sizeof(*k));
	void *v = calloc(n, sizeof(struct mg_src));
	int err;

	if (!k || !v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		nth_addr(i + 0x40000000u, k[i].a);
	if (!verdicts) {
		err = fill(fx.g.fd[GM_SRC], k, v, n, sizeof(*k), sizeof(struct mg_src));
	} else {
		struct mg_verdict *vd = v;

		for (uint32_t i = 0; i < n; i++)
			vd[i] = (struct mg_verdict){ .expires_ns = ~0ULL >> 1, .state = MG_VERDICT_CLEAN };
		err = fill(fx.g.fd[GM_VERDICT], k, v, n, sizeof(*k), sizeof(struct mg_verdict));
	}
	free(k);
	free(v);
	return err;
}

static void measure(struct bench_case *c, int rounds, int repeat)
{
	uint8_t pkt[256];
	size_t len = frame_build(pkt, sizeof(pkt), &c->f, NULL);
	double ns[32], bare[32], parse[32];
	uint64_t before[MG_COUNTER_SLOTS], after[MG_COUNTER_SLOTS];
	uint32_t slot = MG_COUNTER_IDX(c->reason, c->reason < MG_REASON_PASS_ALLOW ? MG_CLASS_NONE
								     : MG_CLASS_SMTP);
	int ret = -1;

	/* the frame takes the path it is meant to */
	gate_read_counters(&fx.g, before);
	bench_run_ns(fx.prog, pkt, len, 1, &ret);
	gate_read_counters(&fx.g, after);
	if (ret != c->verdict || after[slot] != before[slot] + 1) {
		fprintf(stderr, "bench %s: verdict %d, expected %d (reason %s)\n", c->name, ret,
			c->verdict, mg_reason_names[c->reason]);
		exit(1);
	}
	for (int r = 0; r < rounds; r++) {
		bare[r] = bench_run_ns(bare_fd, pkt, len, repeat, NULL);
		parse[r] = bench_run_ns(parse_fd, pkt, len, repeat, NULL);
		ns[r] = bench_run_ns(fx.prog, pkt, len, repeat, NULL);
	}
	/* every run took the path, not only the first: a path that changes
	 * state as it runs (flood mode switching on) would measure another */
	gate_read_counters(&fx.g, before);
	if (before[slot] - after[slot] < (uint64_t)rounds * repeat) {
		fprintf(stderr, "bench %s: %lu of %lu runs took the path (reason %s)\n", c->name,
			(unsigned long)(before[slot] - after[slot]), (unsigned long)rounds * repeat,
			mg_reason_names[c->reason]);
		exit(1);
	}
	qsort(ns, rounds, sizeof(double), bench_cmp_double);
	qsort(bare, rounds, sizeof(double), bench_cmp_double);
	qsort(parse, rounds, sizeof(double), bench_cmp_double);
	c->ns = ns[rounds / 2];
	c->bare_ns = bare[rounds / 2];
	c->parse_ns = parse[rounds / 2];
	printf("  %-40s %7.1f ns  bare %5.1f  parse-only %5.1f  x parse-only %5.2f\n", c->name, c->ns,
	       c->bare_ns, c->parse_ns, c->ns / c->parse_ns);
}

static void prog_stats(void)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fx.prog, &info, &len) == 0)
		printf("mg_xdp: %u instructions (%u jited bytes), %u instructions verified\n",
		       info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns);
}

int main(int argc, char **argv)
{
	static uint32_t ladder[] = { 1000, 100000, 1000000, 4000000 };
	const char *only_case = NULL;
	bool quick = false;
	int n_steps = 4;
	uint32_t n_src;
	int rounds, repeat;
	double table[4][9] = {}, table_ns[4][9] = {};
	struct sink_bpf *bare;
	struct mg_config cfg;
	struct mg_lpm_key dk;
	struct mg_rule dr;
	char denied32[MG_ADDRSTRLEN];
	int err = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
			n_steps = 2;
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc && atoi(argv[i + 1]) > 1) {
			ladder[0] = atoi(argv[++i]);
			n_steps = 1;
		} else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			only_case = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--quick] [--size N] [--case TEXT]\n", argv[0]);
			return 2;
		}
	}
	n_src = quick ? 100000 : 1000000;
	rounds = quick ? 5 : 9;
	repeat = quick ? 200000 : 1000000;
	if (bench_start(&fx, "bench", 0, &bare))
		return 1;
	bare_fd = bpf_program__fd(bare->progs.sink_drop);
	parse_fd = bpf_program__fd(bare->progs.sink_parse);
	prog_stats();
	print_memory("default sizes, empty");

	/* the full quota path admits every SYN: rates of 1e9/s, huge bursts,
	 * concurrency limits on (lookups happen) but not reached */
	fx_config(&cfg);
	cfg.syn_interval_ns = 1;
	cfg.syn_burst = 1u << 30;
	cfg.prefix_interval_ns = 1;
	cfg.prefix_burst = 1u << 30;
	cfg.max_total_concurrent = 1u << 30;
	cfg.ban_after = 0;
	/* flood detection off: with it on, the SYNs of a case (which never
	 * complete a handshake) switch flood mode on within a round and the
	 * rest of the round measures the flood drop instead; the flood path's
	 * cost is bench_flood_cpus'. The exception: the denied SYN with the
	 * default config's detection on (.detect), which outside flood mode
	 * the deny step drops before the flood meter (include/rules.h
	 * mg_judge), so it stays on its path (measure checks every run) */
	cfg.flood_interval_ns = 0;
	fx_reset(&fx, &cfg);
	for (int i = 0; i < 1000; i++) { /* an allow list of 1000 /24s */
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", i / 256, i % 256);
		fx_rule(&fx, GM_ALLOW, cidr, 0);
	}
	fx_rule(&fx, GM_ALLOW, "198.51.100.0/24", 0);
	printf("\nfilling: %u tracked sources, %u DNSBL verdicts ...\n", n_src, n_src);
	err = fill_sources(n_src, false);
	err = err ?: fill_sources(n_src, true);
	if (err) {
		fprintf(stderr, "bench: filling maps: %s\n", strerror(-err));
		goto out;
	}
	deny_entry(5, &dk, &dr); /* a /32 of the feed */
	format_addr((struct mg_addr *)dk.a, denied32, sizeof(denied32));

	struct bench_case cases[] = {
		{ "non-mail: TCP ACK with data to 443", { .dport = 443, .flags = TH_ACK, .payload = 64 },
		  MG_REASON_PASS_OTHER, XDP_PASS },
		{ "non-mail: SYN to 443 (ports lookup)", { .dport = 443 }, MG_REASON_PASS_NOT_GATED,
		  XDP_PASS },
		{ "allowed SYN (allow list hit)", { .src = "198.51.100.9" }, MG_REASON_PASS_ALLOW,
		  XDP_PASS },
		{ "denied SYN (a /24 of the list)", { .src = "203.0.113.9" }, MG_REASON_DROP_DENY,
		  XDP_DROP },
		{ "denied SYN (a /32 of the feed)", { .src = denied32 }, MG_REASON_DROP_DENY, XDP_DROP },
		{ "denied SYN (/32), flood detection on", { .src = denied32 }, MG_REASON_DROP_DENY, XDP_DROP,
		  true },
		{ "quota path, 1M tracked sources", { .src = "192.0.2.9" }, MG_REASON_PASS_OK, XDP_PASS },
		{ "quota path + DNSBL verdict, v6", { .family = 6 }, MG_REASON_PASS_OK, XDP_PASS },
	};
	int n_cases = sizeof(cases) / sizeof(cases[0]);

	for (int s = 0; s < n_steps; s++) {
		uint64_t t0 = now_boot_ns();

		err = fill_deny(ladder[s] - 1); /* + 203.0.113.0/24 */
		if (err) {
			fprintf(stderr, "bench: filling the deny list: %s\n", strerror(-err));
			goto out;
		}
		printf("\n%u deny entries (filled in %.2f s); per packet, median of %d rounds of %d runs "
		       "(the same frame through a bare XDP_DROP and a parse-only program first):\n",
		       ladder[s], (now_boot_ns() - t0) / 1e9, rounds, repeat);
		cfg.dnsbl_enabled = 0;
		gate_write_config(&fx.g, &cfg);
		for (int i = 0; i < n_cases; i++) {
			if (i == n_cases - 1) { /* DNSBL on, the source has a clean verdict */
				struct mg_addr a = fx_addr("2001:db8::1");
				struct mg_verdict v = { .expires_ns = ~0ULL >> 1, .state = MG_VERDICT_CLEAN };

				cfg.dnsbl_enabled = 1;
				gate_write_config(&fx.g, &cfg);
				bpf_map_update_elem(fx.g.fd[GM_VERDICT], &a, &v, BPF_ANY);
			}
			if (only_case && !strstr(cases[i].name, only_case))
				continue;
			if (cases[i].detect) {
				cfg.flood_interval_ns = NSEC_PER_SEC / 50000; /* flood_threshold's default */
				gate_write_config(&fx.g, &cfg);
			}
			measure(&cases[i], rounds, repeat);
			if (cases[i].detect) {
				cfg.flood_interval_ns = 0;
				gate_write_config(&fx.g, &cfg);
			}
			table[s][i] = cases[i].ns / cases[i].parse_ns;
			table_ns[s][i] = cases[i].ns - cases[i].parse_ns;
		}
	}
	for (int t = 0; t < 2; t++) {
		printf("\n%s by deny list size:\n  %-40s", t ? "ns over parse-only" : "x parse-only", "");
		for (int s = 0; s < n_steps; s++)
			printf(" %8u", ladder[s]);
		printf("\n");
		for (int i = 0; i < n_cases; i++) {
			printf("  %-40s", cases[i].name);
			for (int s = 0; s < n_steps; s++)
				printf(t ? " %8.0f" : " %8.2f", t ? table_ns[s][i] : table[s][i]);
			printf("\n");
		}
	}
	print_memory("after filling");
out:
	sink_bpf__destroy(bare);
	fx_unload(&fx);
	return err ? 1 : 0;
}
