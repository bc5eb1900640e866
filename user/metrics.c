// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Prometheus /metrics on [metrics] listen, served by libmicrohttpd from its
 * own thread: the daemon's event loop never waits on a client. Slow or
 * malformed clients are bounded (connections in all and per address, the
 * stalest closed to make room; an idle timeout); a scrape reads the pinned maps directly, so
 * counters never go backwards across a daemon restart. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <bpf/bpf.h>
#include <microhttpd.h>
#include "mailgate.h"
#include "rules.h"
#include "crowdsec.h"
#include "metrics.h"
#include "prom.h"
#include "cli.h"

#define HTTP_MAX_CONNS     64  /* all clients together (libmicrohttpd refuses more) */
#define HTTP_KEEP_CONNS    48  /* past this many, a new connection closes the stalest one */
#define HTTP_MAX_PER_ADDR  8   /* past this many from one address, the same within it */
#define HTTP_IDLE_TIMEOUT  5   /* seconds without progress before a connection is closed */
#define HTTP_LOG_EVERY_NS  (60 * NSEC_PER_SEC)

#define TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_TEXT       "text/plain; charset=utf-8"
#define TYPE_HTML       "text/html; charset=utf-8"

/* A connection as the eviction sees it: its client address and when it last
 * had a whole request in (or was accepted). */
struct http_conn {
	struct MHD_Connection *c;
	int fd;
	struct in6_addr addr;   /* IPv4 as ::ffff:a.b.c.d */
	uint64_t active_ns;
};

struct metrics {
	struct MHD_Daemon *httpd;
	struct mg_runtime *rt;
	uint16_t port;
	pthread_mutex_t lock; /* held while a scrape reads rt: see metrics_set_dnsbl() */
	/* libmicrohttpd's one internal thread is the only one to touch these */
	struct http_conn conns[HTTP_MAX_CONNS];
	int n_conns;
};

static const char *const event_names[MG_EVENT_KIND_MAX] = {
	[MG_EVENT_DNSBL_QUERY] = "dnsbl_query", [MG_EVENT_BAN] = "ban", [MG_EVENT_FLOOD] = "flood",
};

static const char root_page[] =
	"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mailgate</title></head>\n"
	"<body><h1>mailgate " MG_VERSION "</h1>\n"
	"<p><a href=\"/metrics\">/metrics</a>: Prometheus metrics (text format 0.0.4)</p>\n"
	"</body></html>\n";

/* one sample with one label */
static void sample1(FILE *f, const char *name, const char *label, const char *value, uint64_t v)
{
	fprintf(f, "%s{%s=\"", name, label);
	metrics_label(f, value);
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

/* ---- reading the maps ---- */
struct ban_count {
	uint64_t now;
	uint64_t *by_origin;
};

static int ban_one(const void *key, const void *value, void *ctx)
{
	const struct mg_ban *b = value;
	struct ban_count *bc = ctx;

	/* an expired entry is kept for a while to remember its level: not a ban */
	if (mg_ban_active(b, b->origin != MG_ORIGIN_QUOTA, bc->now) && b->origin < MG_ORIGIN_MAX)
		bc->by_origin[b->origin]++;
	return 0;
}

/* when the daemon started, in seconds since the epoch */
static double start_time(uint64_t start_boot_ns)
{
	struct timespec rt;
	uint64_t up = now_boot_ns() - start_boot_ns;

	clock_gettime(CLOCK_REALTIME, &rt);
	return rt.tv_sec + rt.tv_nsec / 1e9 - up / 1e9;
}

/* what one scrape reads from the maps */
struct metrics_snap {
	uint64_t counters[MG_COUNTER_SLOTS];
	uint64_t bans[MG_ORIGIN_MAX];     /* in force, by origin */
	uint32_t class_conn[MG_CLASS_MAX];
	struct mg_global glob;
	struct mg_config cfg;
	struct census c;
};

static int metrics_read(struct gate *g, struct metrics_snap *s)
{
	struct ban_count bc = { .now = now_boot_ns(), .by_origin = s->bans };
	uint32_t zero = 0;
	int err;

	memset(s, 0, sizeof(*s));
	err = gate_read_counters(g, s->counters);
	if (!err)
		err = gate_read_config(g, &s->cfg);
	if (!err && bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, &s->glob))
		err = -errno;
	if (!err)
		err = census_read(g, &s->c);
	if (!err)
		err = map_walk(g->fd[GM_BAN], ban_one, &bc);
	if (!err)
		err = map_walk(g->fd[GM_BAN_QUOTA], ban_one, &bc);
	for (uint32_t i = 1; i < MG_CLASS_MAX && !err; i++)
		if (bpf_map_lookup_elem(g->fd[GM_CLASS_CONN], &i, &s->class_conn[i]))
			err = -errno;
	return err;
}

/* build and config info, whether the data path asks DNSBL questions */
static void write_info(FILE *f, struct gate *g, const struct metrics_snap *s)
{
	struct mg_ctl ctl = { 0 };

	metrics_family(f, "mailgate_build_info", "gauge", "Always 1; the mailgate version as a label.");
	sample1(f, "mailgate_build_info", "version", MG_VERSION, 1);

	metrics_family(f, "mailgate_config_info", "gauge",
		       "Always 1; the data path's mode (enforce, observe) and drop action (drop, reset).");
	fprintf(f, "mailgate_config_info{mode=\"%s\",action=\"%s\"} 1\n",
		s->cfg.mode == MG_MODE_OBSERVE ? "observe" : "enforce",
		s->cfg.action == MG_ACTION_RESET ? "reset" : "drop");

	gate_read_ctl(g, &ctl);
	metrics_family(f, "mailgate_dnsbl_asking", "gauge",
		       "1 while the data path asks DNSBL questions (DNSBL on and the daemon's heartbeat fresh); 0: unknown sources pass unasked (pass_unasked).");
	fprintf(f, "mailgate_dnsbl_asking %d\n", s->cfg.dnsbl_enabled && ctl.alive_until_ns > now_boot_ns());
}

static void write_packets(FILE *f, const struct metrics_snap *s)
{
	metrics_family(f, "mailgate_packets_total", "counter",
		       "Packets the XDP program judged, by decision reason and port class (class none: not a gated SYN). drop_* reasons are drops, or would-be drops in observe mode.");
	for (int r = 0; r < MG_REASON_MAX; r++) {
		for (int cl = 0; cl < MG_CLASS_MAX; cl++) {
			uint64_t v = s->counters[MG_COUNTER_IDX(r, cl)];
			bool gated = r >= MG_REASON_PASS_ALLOW && r != MG_REASON_DROP_UNPARSED &&
				     r != MG_REASON_PASS_UNPARSED;

			/* every possible series, even at 0, so rate() sees the first one;
			 * impossible ones only if they ever counted */
			if (!v && gated == (cl == MG_CLASS_NONE))
				continue;
			fprintf(f, "mailgate_packets_total{reason=\"%s\",class=\"%s\"} %llu\n",
				mg_reason_names[r], mg_class_names[cl], (unsigned long long)v);
		}
	}
}

/* what the daemon counted: events, bans created, rejects answered; bans now */
static void write_daemon(FILE *f, struct mg_runtime *rt, const struct metrics_snap *s)
{
	metrics_family(f, "mailgate_events_total", "counter",
		       "Events the daemon consumed from the data path, by kind (since the daemon started).");
	for (int k = 1; k < MG_EVENT_KIND_MAX; k++)
		sample1(f, "mailgate_events_total", "kind", event_names[k],
			__atomic_load_n(&rt->events[k], __ATOMIC_RELAXED));

	metrics_family(f, "mailgate_events_lost_total", "counter",
		       "Events the data path could not send: over the global event budget, or the ring buffer was full.");
	fprintf(f, "mailgate_events_lost_total %llu\n", (unsigned long long)s->glob.events_lost);

	metrics_family(f, "mailgate_bans_created_total", "counter",
		       "Bans the daemon saw created, by origin (since the daemon started).");
	for (int o = 0; o < MG_ORIGIN_MAX; o++)
		sample1(f, "mailgate_bans_created_total", "origin", mg_origin_names[o],
			__atomic_load_n(&rt->bans_created[o], __ATOMIC_RELAXED));

	metrics_family(f, "mailgate_rejects_answered_total", "counter",
		       "Rejected connections the responder answered with the reason, by reason (since the daemon started).");
	for (int r = MG_REASON_REJECT_DENY; r <= MG_REASON_REJECT_DNSBL; r++)
		sample1(f, "mailgate_rejects_answered_total", "reason", mg_reason_names[r],
			__atomic_load_n(&rt->rejects_answered[r], __ATOMIC_RELAXED));

	metrics_family(f, "mailgate_bans", "gauge", "Bans in force now, by origin.");
	for (int o = 0; o < MG_ORIGIN_MAX; o++)
		sample1(f, "mailgate_bans", "origin", mg_origin_names[o], s->bans[o]);
}

/* a gauge by map for every counted map: its entries, or its capacity */
static void map_samples(FILE *f, const char *name, const char *help, const struct census *c, bool capacity)
{
	metrics_family(f, name, "gauge", help);
	for (int m = 0; m < GM_MAX; m++)
		if (c->counted[m])
			sample1(f, name, "map", gate_map_names[m], capacity ? c->capacity[m] : c->entries[m]);
}

/* the maps' entries, capacity and (LRU) turnover */
static void write_maps(FILE *f, const struct metrics_snap *s)
{
	bool any = false;
	double per_s;

	map_samples(f, "mailgate_sources",
		    "Entries in each state map (sources, prefixes, verdicts, bans, connections, verified sources, list entries).",
		    &s->c, false);
	map_samples(f, "mailgate_map_capacity",
		    "Maximum entries of each state map; LRU maps evict their oldest entries when full.", &s->c, true);

	for (int m = 0; m < GM_MAX; m++) {
		if (!s->c.counted[m] || !log_map_turnover(m, &per_s))
			continue;
		if (!any)
			metrics_family(f, "mailgate_map_turnover_per_second", "gauge",
				       "LRU maps: entries evicted (or removed) per second, estimated by the daemon from 64 sampled keys every 10 s. turnover / capacity over 1/60: the whole map is recycled within a minute.");
		any = true;
		fprintf(f, "mailgate_map_turnover_per_second{map=\"%s\"} %.3f\n", gate_map_names[m], per_s);
	}
}

/* flood mode, SYN cookies, concurrent connections */
static void write_flood(FILE *f, const struct metrics_snap *s)
{
	metrics_family(f, "mailgate_flood_mode", "gauge",
		       "1 while flood mode is on: never-verified sources share one small budget.");
	fprintf(f, "mailgate_flood_mode %u\n", s->glob.flood_mode ? 1 : 0);
	metrics_family(f, "mailgate_flood_mode_why", "gauge",
		       "1 for what switched flood mode on (threshold: the SYN rate; handshakes: gated SYNs stopped completing handshakes; kernel: the same at a lower rate, the kernel reporting SYN trouble), while it is on.");
	for (uint32_t w = MG_FLOOD_WHY_THRESHOLD; w < MG_FLOOD_WHY_MAX; w++)
		fprintf(f, "mailgate_flood_mode_why{why=\"%s\"} %u\n", flood_why_name(w),
			s->glob.flood_mode && s->glob.flood_why == w ? 1 : 0);
	{
		struct netstat ns;

		if (!netstat_read(NULL, &ns)) {
			metrics_family(f, "mailgate_kernel_syn_trouble_total", "counter",
				       "The kernel's TcpExt counters of SYN trouble in the daemon's namespace (SyncookiesSent, ListenOverflows, TCPReqQFullDrop): flood mode's kernel evidence.");
			for (int i = 0; i < NETSTAT_FIELDS; i++)
				fprintf(f, "mailgate_kernel_syn_trouble_total{counter=\"%s\"} %llu\n", netstat_name(i),
					(unsigned long long)ns.v[i]);
		}
	}
	metrics_family(f, "mailgate_syn_cookie_handshakes_total", "counter",
		       "Handshakes completed through a SYN cookie (a request socket handed to the kernel).");
	fprintf(f, "mailgate_syn_cookie_handshakes_total %llu\n", (unsigned long long)s->glob.cookie_acks);

	metrics_family(f, "mailgate_concurrent_connections", "gauge",
		       "Established connections to gated ports now, by port class.");
	for (int cl = 1; cl < MG_CLASS_MAX; cl++)
		sample1(f, "mailgate_concurrent_connections", "class", mg_class_names[cl], s->class_conn[cl]);
}

int metrics_write(struct mg_runtime *rt, FILE *f)
{
	struct metrics_snap s;
	int err = metrics_read(rt->gate, &s);

	if (err)
		return err;
	write_info(f, rt->gate, &s);
	write_packets(f, &s);
	write_daemon(f, rt, &s);
	write_maps(f, &s);
	write_flood(f, &s);
	if (rt->start_ns) {
		metrics_family(f, "mailgate_start_time_seconds", "gauge",
			       "When the daemon started, in seconds since the Unix epoch.");
		fprintf(f, "mailgate_start_time_seconds %.3f\n", start_time(rt->start_ns));
	}

	crowdsec_metrics_write(&rt->crowdsec, f);

	if (rt->dnsbl) {
		dnsbl_metrics_write(rt->dnsbl, f);
	} else {
		/* no DNSBL configured: the same families, without samples */
		metrics_family(f, "mailgate_dnsbl_queries_total", "counter",
			       "DNSBL queries by zone and result.");
		metrics_family(f, "mailgate_dnsbl_query_seconds", "histogram",
			       "DNSBL query latency, seconds.");
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- HTTP ---- */
int metrics_parse_listen(const char *s, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	char host[INET6_ADDRSTRLEN];
	const char *port, *end;
	bool v6 = s[0] == '[';
	unsigned long p;
	char *tail;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!strcmp(s, "none"))
		return 1;
	if (v6) {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		len = end - (s + 1);
		port = end + 2;
		s++;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return -EINVAL;
		len = end - s;
		port = end + 1;
	}
	if (!len || len >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = 0;
	if (*port < '0' || *port > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(port, &tail, 10);
	if (errno || *tail || p > 65535)
		return -EINVAL;
	if (v6 && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		return 0;
	}
	if (!v6 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		return 0;
	}
	return -EINVAL;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, TYPE_TEXT, (void *)text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

/* ---- stalled clients never lock the scraper out ----
 * Every local process connects from 127.0.0.1 (or any of 127/8, ::1), so a
 * plain per-address limit lets one of them fill it with half-sent requests
 * and the scraper is refused until they time out. Instead, a new connection
 * is always taken, and when its address then holds more than
 * HTTP_MAX_PER_ADDR (or all together more than HTTP_KEEP_CONNS), the
 * connection of that address (of all) that has gone longest without a whole
 * request is closed. A scraper sends its request at once, so it is never the
 * stalest; a client that stalls loses its own oldest connections first. */
static struct http_conn *conn_find(struct metrics *m, struct MHD_Connection *c)
{
	for (int i = 0; i < m->n_conns; i++)
		if (m->conns[i].c == c)
			return &m->conns[i];
	return NULL;
}

static void conn_evict_stalest(struct metrics *m, const struct in6_addr *only)
{
	struct http_conn *old = NULL;

	for (int i = 0; i < m->n_conns - 1; i++) { /* never the newest (the last) */
		struct http_conn *h = &m->conns[i];

		if (only && memcmp(&h->addr, only, sizeof(*only)))
			continue;
		if (!old || h->active_ns < old->active_ns)
			old = h;
	}
	if (!old)
		return;
	shutdown(old->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
	old->active_ns = UINT64_MAX;  /* not chosen again while it goes */
	log_ratelimited("metrics_evict", HTTP_LOG_EVERY_NS, LOG_LVL_INFO,
			"msg=\"metrics: closed a stalled client connection to make room\" per_address=%d total=%d",
			HTTP_MAX_PER_ADDR, HTTP_KEEP_CONNS);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct metrics *m = cls;
	const union MHD_ConnectionInfo *fd, *ca;
	static __thread bool dropped;
	struct http_conn *h;
	int same = 0;

	/* libmicrohttpd's thread, before it parses a byte of the first
	 * request: no capability at all (the census iterator is loaded) */
	if (!dropped) {
		int err = caps_limit(0);

		dropped = true;
		if (err)
			pr_warn("msg=\"metrics: cannot drop capabilities\" err=\"%s\"", strerror(-err));
	}

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		h = conn_find(m, c);
		if (h)
			*h = m->conns[--m->n_conns];
		return;
	}
	fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	ca = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!fd || !ca || m->n_conns == HTTP_MAX_CONNS)
		return;
	h = &m->conns[m->n_conns++];
	*h = (struct http_conn){ .c = c, .fd = fd->connect_fd, .active_ns = now_boot_ns() };
	if (ca->client_addr->sa_family == AF_INET6) {
		h->addr = ((const struct sockaddr_in6 *)ca->client_addr)->sin6_addr;
	} else {
		h->addr.s6_addr[10] = h->addr.s6_addr[11] = 0xff;
		memcpy(&h->addr.s6_addr[12], &((const struct sockaddr_in *)ca->client_addr)->sin_addr, 4);
	}
	for (int i = 0; i < m->n_conns; i++)
		same += !memcmp(&m->conns[i].addr, &h->addr, sizeof(h->addr)) &&
			m->conns[i].active_ns != UINT64_MAX;
	if (same > HTTP_MAX_PER_ADDR)
		conn_evict_stalest(m, &h->addr);
	else if (m->n_conns > HTTP_KEEP_CONNS)
		conn_evict_stalest(m, NULL);
}

/* a whole request is in: the connection is active now */
static void conn_active(struct metrics *m, struct MHD_Connection *c)
{
	struct http_conn *h = conn_find(m, c);

	if (h && h->active_ns != UINT64_MAX)
		h->active_ns = now_boot_ns();
}

/* true for 127/8, ::1 and ::ffff:127/104 */
static bool listen_is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
	}
	return false;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req)
{
	struct metrics *m = cls;
	bool is_metrics = !strcmp(url, "/metrics");
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	/* called first when the headers are in: answer then, ignore any body */
	conn_active(m, conn);
	if (!is_metrics && strcmp(url, "/"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n");
	if (!is_metrics)
		return reply(conn, MHD_HTTP_OK, TYPE_HTML, (void *)root_page, sizeof(root_page) - 1,
			     MHD_RESPMEM_PERSISTENT);

	f = open_memstream(&body, &len);
	if (!f)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	pthread_mutex_lock(&m->lock);
	err = metrics_write(m->rt, f);
	pthread_mutex_unlock(&m->lock);
	fclose(f);
	if (err) {
		free(body);
		log_ratelimited("metrics_scrape", HTTP_LOG_EVERY_NS, LOG_LVL_WARN,
				"msg=\"metrics scrape failed: cannot read the maps\" err=\"%s\"",
				strerror(-err));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "cannot read the maps (see the daemon's log)\n");
	}
	return reply(conn, MHD_HTTP_OK, TYPE_PROMETHEUS, body, len, MHD_RESPMEM_MUST_FREE);
}

/* libmicrohttpd's own messages (mostly about misbehaving clients) */
static void httpd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	log_ratelimited("metrics_httpd", HTTP_LOG_EVERY_NS, LOG_LVL_INFO,
			"msg=\"metrics http server\" text=\"%s\"", log_text(buf, sizeof(buf), fmt, ap));
}

struct metrics *metrics_start(const struct mg_settings *s, struct mg_runtime *rt)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage addr;
	struct metrics *m;
	int r;

	r = metrics_parse_listen(s->metrics_listen, &addr);
	if (r == 1) {
		pr_info("msg=\"metrics off\" listen=none");
		errno = 0;
		return NULL;
	}
	if (r < 0) {
		pr_err("msg=\"bad [metrics] listen: want ADDR:PORT, [ADDR6]:PORT or none\" listen=\"%s\"",
		       s->metrics_listen);
		errno = EINVAL;
		return NULL;
	}
	/* the census iterator is loaded here, in the caller's thread: the
	 * server's own thread drops every capability (on_connection) */
	if (rt->gate) {
		struct census c;

		census_read(rt->gate, &c);
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->rt = rt;
	pthread_mutex_init(&m->lock, NULL);
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	m->httpd = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
				    MHD_OPTION_EXTERNAL_LOGGER, httpd_log, m, /* first, to get every message */
				    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNS,
				    MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT,
				    /* HTTP/1.1 without Host, stray whitespace ...: 400 */
				    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
				    MHD_OPTION_END);
	if (!m->httpd) {
		int err = errno ? errno : EADDRNOTAVAIL;

		pr_err("msg=\"cannot serve metrics\" listen=%s err=\"%s\"", s->metrics_listen,
		       strerror(err));
		pthread_mutex_destroy(&m->lock);
		free(m);
		errno = err;
		return NULL;
	}
	info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : 0;
	pr_info("msg=\"serving metrics\" listen=%s port=%u path=/metrics", s->metrics_listen, m->port);
	if (!listen_is_loopback(&addr))
		pr_warn("msg=\"metrics listen on a non-loopback address: the endpoint has no authentication; anyone who reaches it reads the gate's counters and lists (restrict it with a firewall, or listen on 127.0.0.1 behind a proxy)\" listen=%s",
			s->metrics_listen);
	return m;
}

uint16_t metrics_port(const struct metrics *m)
{
	return m ? m->port : 0;
}

void metrics_set_dnsbl(struct metrics *m, struct mg_runtime *rt, struct dnsbl *d)
{
	if (m)
		pthread_mutex_lock(&m->lock);
	rt->dnsbl = d;
	if (m)
		pthread_mutex_unlock(&m->lock);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->httpd); /* waits for its thread */
	pthread_mutex_destroy(&m->lock);
	free(m);
}
