// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What a scrape costs with full maps: mg_src and mg_verdict at 1M entries,
 * mg_ban, mg_prefix and mg_verified at their 250k, a million deny prefixes.
 * Times the map census (BPF iterator and the walk it replaces), a whole
 * exposition, and a scrape over HTTP.
 * usage: bench_metrics [MAX_SOURCES]   (default 1000000) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "mailgate.h"
#include "listset.h"
#include "metrics.h"


static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void key_of(uint32_t i, struct mg_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->a[0] = 0x20, a->a[1] = 0x01, a->a[2] = 0x0d, a->a[3] = 0xb8; /* 2001:db8::/32 */
	memcpy(&a->a[12], &i, 4);
}

/* n entries into a hash map, values zero but for the ban's origin and
 * expiry; keys are an address, then zeros (mg_prefix_key, mg_conn_key) */
static int fill_hash(int fd, uint32_t n, size_t vsize, bool ban)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	const uint32_t chunk = 65536;
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	uint8_t *keys;
	uint8_t *vals = calloc(chunk, vsize);
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	keys = calloc(chunk, info.key_size);
	if (!keys || !vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < chunk && ban; i++) {
		struct mg_ban *b = (struct mg_ban *)(vals + i * vsize);

		b->origin = i % MG_ORIGIN_MAX;
		b->expires_ns = now_boot_ns() + 3600 * NSEC_PER_SEC;
	}
	for (uint32_t done = 0; done < n && !err; done += chunk) {
		uint32_t cnt = n - done < chunk ? n - done : chunk;

		for (uint32_t i = 0; i < cnt; i++)
			key_of(done + i, (struct mg_addr *)(keys + (size_t)i * info.key_size));
		if (bpf_map_update_batch(fd, keys, vals, &cnt, &o))
			err = -errno;
	}
	free(keys);
	free(vals);
	return err;
}

static int fill_deny(struct gate *g, uint32_t n)
{
	struct list_build b;
	const uint32_t chunk = 65536;
	struct mg_lpm_key *keys = calloc(chunk, sizeof(*keys));
	struct mg_rule *vals = calloc(chunk, sizeof(*vals));
	int err = 0;

	if (!keys || !vals)
		return -ENOMEM;
	err = list_build_start(MG_LIST_DENY, n, &b);
	for (uint32_t done = 0; done < n && !err; done += chunk) {
		uint32_t cnt = n - done < chunk ? n - done : chunk;

		for (uint32_t i = 0; i < cnt; i++) {
			uint32_t net = htonl((10u << 24) | ((done + i) << 2)); /* 10.x.y.z/30 */

			memset(&keys[i], 0, sizeof(keys[i]));
			keys[i].prefixlen = 96 + 30;
			keys[i].a[10] = keys[i].a[11] = 0xff;
			memcpy(&keys[i].a[12], &net, 4);
			vals[i].prefixlen = 96 + 30;
		}
		err = list_build_add(&b, keys, vals, cnt);
	}
	err = err ?: list_build_publish(g, &b);
	list_build_abort(&b);
	free(keys);
	free(vals);
	return err;
}

static double scrape_http(uint16_t port, size_t *bytes)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char buf[65536];
	double t = mono_s();
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	*bytes = 0;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		return -1;
	send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		*bytes += n;
	close(fd);
	return mono_s() - t;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : MG_DEFAULT_MAX_SOURCES;
	struct gate_sizes sizes = { .max_sources = n };
	struct mg_settings *s = calloc(1, sizeof(*s));
	struct mg_runtime rt = { 0 };
	struct census c;
	struct metrics *m;
	char pin_dir[128], *body = NULL;
	size_t len = 0, bytes;
	struct gate g;
	double t;
	FILE *f;
	int err;

	log_level = LOG_LVL_WARN;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/mgt-bench-metrics-%d", getpid());
	if (gate_load(&g, pin_dir, &sizes))
		return 1;
	t = mono_s();
	err = fill_hash(g.fd[GM_SRC], n, sizeof(struct mg_src), false);
	err = err ?: fill_hash(g.fd[GM_VERDICT], n, sizeof(struct mg_verdict), false);
	err = err ?: fill_hash(g.fd[GM_BAN], n / 4, sizeof(struct mg_ban), true);
	err = err ?: fill_hash(g.fd[GM_BAN_QUOTA], n / 4, sizeof(struct mg_ban), true);
	err = err ?: fill_hash(g.fd[GM_PREFIX], n / 4, sizeof(struct mg_bucket), false);
	err = err ?: fill_hash(g.fd[GM_VERIFIED], n / 4, sizeof(uint64_t), false);
	err = err ?: fill_deny(&g, n);
	if (err) {
		fprintf(stderr, "fill: %s\n", strerror(-err));
		goto out;
	}
	printf("filled the maps in %.1f s\n", mono_s() - t);

	t = mono_s();
	err = census_read(&g, &c);
	printf("census_read (%s): %.2f ms  mg_src=%llu mg_verdict=%llu mg_ban=%llu mg_deny=%llu\n",
	       c.walked ? "walk" : "BPF map iterator", (mono_s() - t) * 1000,
	       (unsigned long long)c.entries[GM_SRC], (unsigned long long)c.entries[GM_VERDICT],
	       (unsigned long long)c.entries[GM_BAN], (unsigned long long)c.entries[GM_DENY]);
	t = mono_s();
	err = err ?: census_read(&g, &c);
	printf("census_read again (iterator loaded): %.2f ms\n", (mono_s() - t) * 1000);
	t = mono_s();
	err = err ?: census_walk(&g, &c);
	printf("census_walk (map_count: batch lookups where the map type has them): %.0f ms\n", (mono_s() - t) * 1000);

	rt.gate = &g;
	f = open_memstream(&body, &len);
	t = mono_s();
	err = err ?: metrics_write(&rt, f);
	fclose(f);
	printf("metrics_write (whole exposition, incl. scanning %u bans): %.1f ms, %zu bytes\n", n / 4,
	       (mono_s() - t) * 1000, len);
	free(body);

	snprintf(s->metrics_listen, sizeof(s->metrics_listen), "127.0.0.1:0");
	m = metrics_start(s, &rt);
	if (m) {
		double best = 1e9, worst = 0;

		for (int i = 0; i < 5; i++) {
			t = scrape_http(metrics_port(m), &bytes);
			best = t < best ? t : best;
			worst = t > worst ? t : worst;
		}
		printf("GET /metrics over HTTP (5 scrapes): best %.1f ms, worst %.1f ms, %zu bytes\n",
		       best * 1000, worst * 1000, bytes);
		metrics_stop(m);
	}
out:
	gate_close(&g);
	for (int i = 0; i < GM_MAX; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", pin_dir, gate_map_names[i]);
		unlink(path);
	}
	rmdir(pin_dir);
	free(s);
	return err ? 1 : 0;
}
