// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* How fast the CrowdSec bouncer applies decisions (user/crowdsec.c): stream
 * answers as the Local API writes them, into a loaded data path's maps.
 * Times a full answer of N decisions (default 100000; 95% Ip, 5% Range),
 * then a delta of N/10 new and one of N/10 deleted, and prints each as
 * decisions per second, with the parse alone for comparison. The HTTP
 * transfer is not in it (the Local API's own cost: see docs/operations.md).
 * usage: bench_crowdsec [N]   goal: >= 10000 decisions/s */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "fixture.h"
#include "crowdsec.h"

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* decisions [from, to) as one answer: "new" or "deleted" */
static char *answer(uint32_t from, uint32_t to, bool deleted, size_t *len)
{
	size_t cap = (size_t)(to - from) * 200 + 64, off = 0;
	char *b = malloc(cap);

	if (!b)
		return NULL;
	off += snprintf(b + off, cap - off, "{\"%s\":[", deleted ? "deleted" : "new");
	for (uint32_t i = from; i < to; i++) {
		char value[64];
		bool range = i % 20 == 19;

		if (range)
			snprintf(value, sizeof(value), "2001:db8:%x:%x::/64", 0x8000 | (i >> 16), i & 0xffff);
		else
			snprintf(value, sizeof(value), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		off += snprintf(b + off, cap - off,
				"%s{\"duration\":\"%s\",\"id\":%u,\"origin\":\"crowdsec\",\"scenario\":\"crowdsecurity/ssh-bf\","
				"\"scope\":\"%s\",\"type\":\"ban\",\"value\":\"%s\"}",
				i > from ? "," : "", deleted ? "-1.5s" : "3h59m58.712345s", i + 1, range ? "Range" : "Ip",
				value);
	}
	off += snprintf(b + off, cap - off, "]}");
	*len = off;
	return b;
}

static double timed_apply(struct crowdsec *c, const char *body, size_t len, bool startup)
{
	double t0 = mono_s();
	int err = crowdsec_apply(c, body, len, startup);

	if (err)
		printf("  crowdsec_apply: %s\n", strerror(-err));
	return mono_s() - t0;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
	struct crowdsec_stats st = { 0 };
	struct fixture fx;
	struct crowdsec *c;
	struct json_object *doc;
	size_t len, dlen;
	char *full, *delta, *del;
	double t, tp;

	if (n < 100 || n > 2000000) {
		fprintf(stderr, "usage: bench_crowdsec [N]   (100..2000000)\n");
		return 2;
	}
	if (fx_load(&fx, "bcs", n * 4 > MG_DEFAULT_MAX_SOURCES ? n * 4 : MG_DEFAULT_MAX_SOURCES))
		return 1;
	c = crowdsec_new(&fx.g, &st);
	full = answer(0, n, false, &len);
	if (!c || !full)
		return 1;
	printf("bench_crowdsec: %u decisions (%u Ip, %u Range), answer %.1f MB\n", n, n - n / 20, n / 20, len / 1e6);

	tp = mono_s();
	doc = json_tokener_parse(full);
	tp = mono_s() - tp;
	json_object_put(doc);
	printf("  JSON parse alone          %7.3f s  %9.0f decisions/s\n", tp, n / tp);

	t = timed_apply(c, full, len, true);
	printf("  full answer (startup)     %7.3f s  %9.0f decisions/s   bans %llu, denies %llu\n", t, n / t,
	       (unsigned long long)st.bans, (unsigned long long)st.denies);
	free(full);

	delta = answer(n, n + n / 10, false, &dlen);
	t = timed_apply(c, delta, dlen, false);
	printf("  delta, %u new          %7.3f s  %9.0f decisions/s\n", n / 10, t, (n / 10) / t);
	free(delta);

	del = answer(0, n / 10, true, &dlen);
	t = timed_apply(c, del, dlen, false);
	printf("  delta, %u deleted      %7.3f s  %9.0f decisions/s\n", n / 10, t, (n / 10) / t);
	free(del);

	t = mono_s();
	crowdsec_maintain(c, true);
	t = mono_s() - t;
	printf("  full check of %llu entries %6.3f s\n", (unsigned long long)(st.bans + st.denies), t);
	printf("  applied %llu, removed %llu\n", (unsigned long long)st.applied, (unsigned long long)st.removed);
	crowdsec_free(c);
	fx_unload(&fx);
	return 0;
}
