// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* DNSBL throughput and latency against a local rbldnsd: N distinct sources
 * submitted at once (a burst of new sources), looked up in 1 and in 3
 * zones with verdicts written to a real verdict map. Reports lookups per
 * second (sources with all their zones answered and the verdict written)
 * and the submit-to-verdict latency (median, p99), which here includes the
 * time spent queued behind max_inflight (a burst of SOURCES arrives at once).
 * Usage: bench_dnsbl [SOURCES]   (default 20000) */
#include <stdio.h>
#include <stdlib.h>
#include "dnsbl_lab.h"
#include "fixture.h"
#include "cli.h"

__attribute__((weak)) struct mg_opts opts; /* where no linked object defines it */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int bench(struct gate *g, const char *resolvers, const char *sites, uint32_t n, uint32_t inflight)
{
	static struct mg_settings s;
	static struct dnsbl_stats st;
	struct dnsbl_tuning t;
	struct dnsbl *d;
	uint64_t t0, t1, *lat;
	uint32_t m;

	config_defaults(&s);
	snprintf(s.dnsbl_sites, sizeof(s.dnsbl_sites), "%s", sites);
	snprintf(s.dnsbl_resolvers, sizeof(s.dnsbl_resolvers), "%s", resolvers);
	s.dnsbl_threshold = 3;
	s.dnsbl_allow_threshold = -1;
	s.dnsbl_timeout_ns = 2 * NSEC_PER_SEC;
	s.dnsbl_max_inflight = inflight;
	s.dnsbl_ttl_min_ns = 60 * NSEC_PER_SEC;
	s.dnsbl_ttl_max_ns = 3600 * NSEC_PER_SEC;
	dnsbl_default_tuning(&t);
	t.queue_len = n;
	d = dnsbl_start_tuned(&s, g, &t);
	if (!d)
		return -1;
	do {
		usleep(1000);
		dnsbl_stats_get(d, &st);
	} while (!st.ready);

	static uint32_t off; /* new sources in every run: the verdicts of the last one are fresh */

	t0 = now_boot_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = off + i;
		struct mg_addr a = { .a = { [10] = 0xff, [11] = 0xff, 10, (k >> 16) & 255, (k >> 8) & 255, k & 255 } };

		dnsbl_submit(d, &a);
	}
	do {
		usleep(1000);
		dnsbl_stats_get(d, &st);
	} while (st.lookups_done + st.fresh < n && now_boot_ns() - t0 < 120 * NSEC_PER_SEC);
	t1 = now_boot_ns();

	m = st.n_lat;
	lat = st.lat;
	qsort(lat, m, sizeof(*lat), cmp_u64);
	printf("%-34s %6u sources, max_inflight %4u: %8.0f lookups/s (%llu queries answered, %llu timeouts), "
	       "latency median %.2f ms, p99 %.2f ms (last %u)\n",
	       sites, n, inflight, st.lookups_done / ((t1 - t0) / 1e9),
	       (unsigned long long)(st.results[DR_NXDOMAIN] + st.results[DR_LISTED] + st.results[DR_CLEAN]),
	       (unsigned long long)st.results[DR_TIMEOUT], m ? lat[m / 2] / 1e6 : 0, m ? lat[m * 99 / 100] / 1e6 : 0, m);
	off += n;
	dnsbl_stop(d);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const zones[] = { "a.test:ip4set:a", "b.test:ip4set:b", "c.test:ip4trie:c", NULL };
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 20000;
	struct fixture fx;
	char res[64];
	struct lab lab;
	int rc = 1;

	log_level = LOG_LVL_ERROR;
	if (lab_init(&lab))
		return 1;
	lab_write(&lab, "a", "127.0.0.2\n10.0.0.0/20\n", 0);
	lab_write(&lab, "b", "127.0.0.2\n10.0.16-10.0.31\n", 0);
	lab_write(&lab, "c", "127.0.0.2/32\n10.0.0.0/17 :127.0.0.4:\n", 0);
	if (lab_start(&lab, zones, "a.test")) {
		fprintf(stderr, "cannot start rbldnsd\n");
		goto out;
	}
	if (fx_load(&fx, "bench-dnsbl", 1 << 18)) {
		fprintf(stderr, "cannot load the data path\n");
		goto out;
	}
	snprintf(res, sizeof(res), "127.0.0.1:%d", lab.port);
	/* rbldnsd's socket has the default receive buffer (rmem_default):
	 * with hundreds of queries in flight it drops some, which show up as
	 * timeouts in the last run */
	rc = bench(&fx.g, res, "a.test*3", n, 64) || bench(&fx.g, res, "a.test*1, b.test*1, c.test*1", n, 96) ||
	     bench(&fx.g, res, "a.test*3", n, 512);
	fx_unload(&fx);
out:
	lab_stop(&lab);
	return rc;
}
