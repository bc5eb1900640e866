// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Logging: one line per event on stderr, logfmt style:
 *   ts=2024-05-01T12:00:00.123Z level=warn msg="map nearly full" map=mg_src fill_pct=93
 * Callers write msg="..." and key=value fields. Under systemd (stderr is the
 * journal: $JOURNAL_STREAM) the line starts with the syslog priority "<4>"
 * instead of ts=, so `journalctl -p warning` works and the journal keeps the
 * time. Each line goes out in one write(), so threads never interleave, and
 * control characters are escaped, so no value can forge a line. libbpf's own
 * output only at debug level. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mailgate.h"

enum log_level log_level = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_prio[] = { 3, 4, 6, 7 }; /* syslog: err, warning, info, debug */

/* stderr is the journal when $JOURNAL_STREAM names its device and inode */
static bool to_journal(void)
{
	static int cached = -1;
	unsigned long long dev, ino;
	const char *js;
	struct stat st;

	if (cached >= 0)
		return cached;
	js = getenv("JOURNAL_STREAM");
	cached = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
		 st.st_dev == dev && st.st_ino == ino;
	return cached;
}

static void log_vline(enum log_level lvl, const char *extra, const char *fmt, va_list ap)
{
	char msg[2048], line[4096];
	size_t n = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (to_journal()) {
		n = snprintf(line, sizeof(line), "<%d>", level_prio[lvl]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	n += snprintf(line + n, sizeof(line) - n, "level=%s ", level_names[lvl]);
	for (const char *p = msg; *p && n < sizeof(line) - 8; p++) {
		unsigned char ch = *p;

		if (ch == '\n')
			n += snprintf(line + n, sizeof(line) - n, "\\n");
		else if (ch < 0x20 || ch == 0x7f)
			n += snprintf(line + n, sizeof(line) - n, "\\x%02x", ch);
		else
			line[n++] = ch;
	}
	if (extra && n < sizeof(line) - 2)
		n += snprintf(line + n, sizeof(line) - n - 1, "%s", extra);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to say it */
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	log_vline(lvl, NULL, fmt, ap);
	va_end(ap);
}

/* ---- rate limiting: a small table of keys, the least recently printed
 * one recycled when full (a recycled key just starts afresh) ---- */
#define RL_SLOTS 64

struct rl_slot {
	char key[64];
	uint64_t last_ns;     /* when it last printed */
	uint64_t suppressed;  /* dropped since */
};

static struct rl_slot rl_slots[RL_SLOTS];
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_ratelimited(const char *key, uint64_t interval_ns, enum log_level lvl, const char *fmt, ...)
{
	struct rl_slot *s = NULL, *oldest = &rl_slots[0];
	uint64_t now = now_boot_ns(), suppressed = 0;
	bool print = true;
	char extra[48] = "";
	va_list ap;

	if (lvl > log_level)
		return false;
	pthread_mutex_lock(&rl_lock);
	for (int i = 0; i < RL_SLOTS; i++) {
		if (rl_slots[i].key[0] && !strncmp(rl_slots[i].key, key, sizeof(rl_slots[i].key) - 1)) {
			s = &rl_slots[i];
			break;
		}
		if (rl_slots[i].last_ns < oldest->last_ns)
			oldest = &rl_slots[i];
	}
	if (s && now - s->last_ns < interval_ns) {
		s->suppressed++;
		print = false;
	} else {
		if (!s) {
			s = oldest;
			memset(s, 0, sizeof(*s));
			snprintf(s->key, sizeof(s->key), "%s", key);
		}
		suppressed = s->suppressed;
		s->suppressed = 0;
		s->last_ns = now;
	}
	pthread_mutex_unlock(&rl_lock);
	if (!print)
		return false;
	if (suppressed)
		snprintf(extra, sizeof(extra), " suppressed=%llu", (unsigned long long)suppressed);
	va_start(ap, fmt);
	log_vline(lvl, extra, fmt, ap);
	va_end(ap);
	return true;
}

/* ---- map fill ----
 * Two kinds of maps: those where full means refusal (the lists, and any
 * hash map that is not LRU): a warning near full; and the LRU maps, where
 * full only means the oldest entries are recycled: for those, the turnover
 * (entries leaving per second), estimated from a sample of keys: each check
 * looks up the keys it sampled at the previous one; the share gone, times
 * the entries, over the time between, is the rate at which entries are
 * evicted (or removed). A warning only when that means state lives shorter
 * than LOG_MAP_SHORT_LIFE_NS. */
#define TURNOVER_SAMPLE 64
#define TURNOVER_KEY_MAX 64
struct turnover {
	uint8_t keys[TURNOVER_SAMPLE][TURNOVER_KEY_MAX];
	int n;
	uint32_t map_id, key_size;
	uint64_t taken_ns;
	double per_s;           /* < 0: not known yet */
};
static struct turnover turn[GM_MAX];
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;

static void turnover_update(int fd, const struct bpf_map_info *info, struct turnover *t, uint64_t entries,
			    uint64_t now)
{
	static uint8_t val[1 << 16];
	int gone = 0, n = 0;

	if (info->key_size > TURNOVER_KEY_MAX || info->value_size > sizeof(val)) {
		t->per_s = -1;
		return;
	}
	if (t->n && t->map_id == info->id && now > t->taken_ns) {
		for (int i = 0; i < t->n; i++)
			gone += bpf_map_lookup_elem(fd, t->keys[i], val) && errno == ENOENT;
		t->per_s = (double)gone / t->n * (double)entries / ((double)(now - t->taken_ns) / NSEC_PER_SEC);
	} else {
		t->per_s = -1;
	}
	/* a new sample: the first keys of a walk (where a key sits in the
	 * hash table says nothing about its age) */
	while (n < TURNOVER_SAMPLE &&
	       !bpf_map_get_next_key(fd, n ? t->keys[n - 1] : NULL, t->keys[n]))
		n++;
	t->n = n;
	t->map_id = info->id;
	t->key_size = info->key_size;
	t->taken_ns = now;
}

bool log_map_turnover(int m, double *per_s)
{
	bool known;

	pthread_mutex_lock(&turn_lock);
	known = m >= 0 && m < GM_MAX && turn[m].map_id && turn[m].per_s >= 0;
	if (known)
		*per_s = turn[m].per_s;
	pthread_mutex_unlock(&turn_lock);
	return known;
}

int log_map_fill(struct gate *g)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last_check_ns;
	static int over_now;
	static bool over[GM_MAX];
	struct bpf_map_info info;
	struct census c;
	uint64_t now = now_boot_ns();
	char key[64];
	int err;

	pthread_mutex_lock(&lock);
	if (last_check_ns && now - last_check_ns < LOG_MAP_FILL_CHECK_NS) {
		err = over_now;
		goto out;
	}
	last_check_ns = now;
	err = census_read(g, &c);
	if (err) {
		log_ratelimited("map_fill_census", LOG_MAP_FULL_EVERY_NS, LOG_LVL_WARN,
				"msg=\"cannot count map entries\" err=\"%s\"", strerror(-err));
		goto out;
	}
	over_now = 0;
	for (int m = 0; m < GM_MAX; m++) {
		uint64_t pct;
		bool lru;

		if (!c.counted[m] || !c.capacity[m] || map_info(g->fd[m], &info))
			continue;
		if (m == GM_STOPPED) /* only `top` reads it: recycled fast under a flood, top's loss alone */
			continue;
		lru = info.type == BPF_MAP_TYPE_LRU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
		pct = c.entries[m] * 100 / c.capacity[m];
		snprintf(key, sizeof(key), "map_full:%s", gate_map_names[m]);
		if (lru) {
			double per_s = -1, life;

			pthread_mutex_lock(&turn_lock);
			turnover_update(g->fd[m], &info, &turn[m], c.entries[m], now);
			per_s = turn[m].per_s;
			pthread_mutex_unlock(&turn_lock);
			if (pct < LOG_MAP_FULL_PCT || per_s <= 0)
				continue;
			life = (double)c.entries[m] / per_s;
			if (life * NSEC_PER_SEC < LOG_MAP_SHORT_LIFE_NS) {
				over_now++;
				log_ratelimited(key, LOG_MAP_FULL_EVERY_NS, LOG_LVL_WARN,
						"msg=\"map full and recycled fast: its entries (rate buckets, bans, verdicts) are forgotten within about a minute; raise max_sources\" map=%s entries=%llu capacity=%u turnover_per_s=%.0f entry_life_s=%.0f",
						gate_map_names[m], (unsigned long long)c.entries[m], c.capacity[m],
						per_s, life);
			} else {
				log_ratelimited(key, LOG_MAP_FULL_EVERY_NS, LOG_LVL_INFO,
						"msg=\"map full: the LRU recycles its oldest entries\" map=%s entries=%llu capacity=%u turnover_per_s=%.1f entry_life_s=%.0f",
						gate_map_names[m], (unsigned long long)c.entries[m], c.capacity[m],
						per_s, life);
			}
			continue;
		}
		if (pct >= LOG_MAP_FULL_PCT) {
			over_now++;
			over[m] = true;
			log_ratelimited(key, LOG_MAP_FULL_EVERY_NS, LOG_LVL_WARN,
					"msg=\"map nearly full: once full, new entries are refused; raise its size (or trim the list)\" map=%s entries=%llu capacity=%u fill_pct=%llu",
					gate_map_names[m], (unsigned long long)c.entries[m],
					c.capacity[m], (unsigned long long)pct);
		} else if (over[m] && pct < LOG_MAP_FULL_PCT - 10) {
			over[m] = false;
			pr_info("msg=\"map fill back to normal\" map=%s entries=%llu capacity=%u fill_pct=%llu",
				gate_map_names[m], (unsigned long long)c.entries[m], c.capacity[m],
				(unsigned long long)pct);
		}
	}
	err = over_now;
out:
	pthread_mutex_unlock(&lock);
	return err;
}

/* ---- other libraries' messages ---- */
const char *log_text(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t n;

	vsnprintf(buf, len, fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '"')
			*p = '\'';
	return buf;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (log_level < LOG_LVL_DEBUG)
		return 0;
	log_msg(LOG_LVL_DEBUG, "msg=\"libbpf\" text=\"%s\"", log_text(buf, sizeof(buf), fmt, ap));
	return 0;
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
