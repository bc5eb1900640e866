/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* metrics.c: the daemon's Prometheus /metrics server (the text format
 * itself: prom.h). */
#ifndef MAILGATE_METRICS_H
#define MAILGATE_METRICS_H

#include "mailgate.h"

/* ---- metrics.c: Prometheus /metrics (libmicrohttpd), its own thread ---- */
struct metrics;
/* NULL with errno 0 when s->metrics_listen is "none"; NULL with errno set
 * (and a logged error) when the server cannot start. */
struct metrics *metrics_start(const struct mg_settings *s, struct mg_runtime *rt);
void metrics_stop(struct metrics *m);
/* Change rt->dnsbl while the server may be scraping (SIGHUP): once this
 * returns no scrape uses the old one, which may then be stopped:
 *   old = rt->dnsbl; metrics_set_dnsbl(m, rt, NULL); dnsbl_stop(old);
 * m may be NULL (metrics off). */
void metrics_set_dnsbl(struct metrics *m, struct mg_runtime *rt, struct dnsbl *d);
/* the port it listens on (useful with port 0) */
uint16_t metrics_port(const struct metrics *m);
/* "127.0.0.1:9433", "[::1]:9433", "0.0.0.0:9433", "[::]:9433": 0; "none": 1
 * (off); anything else -EINVAL. For config checks too. */
struct sockaddr_storage;
int metrics_parse_listen(const char *s, struct sockaddr_storage *out);
/* The whole exposition (text format 0.0.4); 0 or -errno. */
int metrics_write(struct mg_runtime *rt, FILE *f);

#endif /* MAILGATE_METRICS_H */
