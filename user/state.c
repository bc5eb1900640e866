// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The state file: what the pinned maps hold that nothing else brings back
 * after a reboot or `detach` (every ban; the allow/deny entries of origin
 * cli). Config entries come back from the config, zone entries from
 * `zone load`, CrowdSec's from its Local API stream.
 *
 * Format (text, version 1), one record a line, times in CLOCK_REALTIME ns
 * (CLOCK_BOOTTIME starts again at every boot), 0 = never:
 *   mailgate-state 1
 *   pin_dir PATH
 *   written UNIX_NS
 *   ban ADDR ORIGIN LEVEL CREATED_UNIX_NS EXPIRES_UNIX_NS
 *   allow CIDR EXPIRES_UNIX_NS
 *   deny CIDR EXPIRES_UNIX_NS
 *   end RECORDS CRC32
 * CRC32 (zlib, hex) covers every byte before the end line; RECORDS counts
 * the ban/allow/deny lines. A file without a valid end line is refused
 * whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <bpf/bpf.h>
#include "listset.h"
#include "cli.h"

#define STATE_MAGIC "mailgate-state 1\n"

int state_path(const char *state_dir, const char *pin_dir, char *buf, size_t len)
{
	char abs[PATH_MAX], name[128];
	size_t j = 0;

	if (!realpath(pin_dir, abs))
		snprintf(abs, sizeof(abs), "%s", pin_dir);
	for (const char *p = abs; *p && j < sizeof(name) - 1; p++) {
		char ch = *p;

		if (ch == '/' && (p == abs || !p[1]))
			continue;
		name[j++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
				    ch == '.' || ch == '-' ? ch : '_';
	}
	name[j] = 0;
	if ((size_t)snprintf(buf, len, "%s/%s-%08lx.state", state_dir, name,
			     crc32(0, (const Bytef *)abs, (uInt)strlen(abs))) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- save ---- */

struct saver {
	FILE *f;
	size_t n;
	uint64_t off;      /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t now;      /* CLOCK_BOOTTIME */
	const char *list;  /* "allow" / "deny" while walking a list */
};

static uint64_t to_real(const struct saver *s, uint64_t boot_ns)
{
	return boot_ns ? boot_ns + s->off : 0;
}

static int save_ban(const void *key, const void *value, void *ctx)
{
	const struct mg_ban *b = value;
	struct saver *s = ctx;
	char a[MG_ADDRSTRLEN];

	fprintf(s->f, "ban %s %s %u %llu %llu\n", format_addr(key, a, sizeof(a)), origin_name(b->origin), b->level,
		(unsigned long long)to_real(s, b->created_ns), (unsigned long long)to_real(s, b->expires_ns));
	s->n++;
	return 0;
}

static int save_rule(const void *key, const void *value, void *ctx)
{
	const struct mg_rule *r = value;
	struct saver *s = ctx;
	char c[MG_ADDRSTRLEN + 8];

	if (r->origin != MG_ORIGIN_CLI || !mg_rule_active(r, s->now))
		return 0;
	fprintf(s->f, "%s %s %llu\n", s->list, format_cidr(key, c, sizeof(c)),
		(unsigned long long)to_real(s, r->expires_ns));
	s->n++;
	return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	int fd, dfd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len && !err;) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno != EINTR)
			err = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd))
			err = -errno;
		close(dfd);
	}
	return err;
}

/* the lists' part of the last file: a deny list of millions of zone entries
 * is walked only when its CLI entries may have changed */
static struct {
	char *text;
	size_t len, n;
	uint64_t off;
	bool valid;
} lists_cache;

static int save_lists(struct gate *g, struct saver *s)
{
	struct saver ls = { .now = s->now, .off = s->off };
	char *buf = NULL;
	size_t len = 0;
	int err = 0;

	ls.f = open_memstream(&buf, &len);
	if (!ls.f)
		return -errno;
	for (int l = 0; !err && l < MG_LISTS; l++) {
		ls.list = list_name(l);
		err = list_walk(g, l, save_rule, &ls);
		if (err == -ENOENT) /* the list never had a set */
			err = 0;
	}
	if (fclose(ls.f) && !err)
		err = -errno;
	if (err) {
		free(buf);
		return err;
	}
	free(lists_cache.text);
	lists_cache.text = buf;
	lists_cache.len = len;
	lists_cache.n = ls.n;
	lists_cache.off = s->off;
	lists_cache.valid = true;
	return 0;
}

int state_save(struct gate *g, const char *path, bool walk_lists, size_t *n)
{
	struct saver s = { .now = now_boot_ns() };
	char *buf = NULL;
	size_t len = 0;
	int err;

	s.off = now_real_ns() - s.now;
	s.f = open_memstream(&buf, &len);
	if (!s.f)
		return -errno;
	fprintf(s.f, STATE_MAGIC "pin_dir %s\nwritten %llu\n", g->pin_dir, (unsigned long long)(s.now + s.off));
	err = map_walk(g->fd[GM_BAN], save_ban, &s);
	if (!err)
		err = map_walk(g->fd[GM_BAN_QUOTA], save_ban, &s);
	/* the clocks' offset moves only with a wall-clock step: then walk again */
	if (!err && (walk_lists || !lists_cache.valid || lists_cache.off + NSEC_PER_SEC < s.off ||
		     s.off + NSEC_PER_SEC < lists_cache.off))
		err = save_lists(g, &s);
	if (!err) {
		fwrite(lists_cache.text, 1, lists_cache.len, s.f);
		s.n += lists_cache.n;
	}
	if (fflush(s.f) && !err)
		err = -errno;
	if (!err) {
		unsigned long crc = crc32(0, (const Bytef *)buf, (uInt)len);

		fprintf(s.f, "end %zu %08lx\n", s.n, crc);
		if (fflush(s.f))
			err = -errno;
	}
	fclose(s.f);
	if (!err)
		err = write_file(path, buf, len);
	free(buf);
	if (!err && n)
		*n = s.n;
	return err;
}

/* ---- restore ---- */

struct rec {
	int kind; /* 0 ban, 1 + enum mg_list */
	union {
		struct { struct mg_addr a; struct mg_ban b; } ban;
		struct { struct mg_lpm_key k; struct mg_rule r; } rule;
	};
};

static int parse_origin(const char *s, uint32_t *out)
{
	for (uint32_t o = 0; o < MG_ORIGIN_MAX; o++)
		if (mg_origin_names[o] && !strcmp(s, mg_origin_names[o])) {
			*out = o;
			return 0;
		}
	return -EINVAL;
}

static int parse_u64(const char *s, __u64 *out)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/* one record line (without its newline) into r; -EINVAL when malformed */
static int parse_rec(char *line, struct rec *r)
{
	char *f[7];
	int n = 0;
	__u64 level;

	for (char *save, *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (n < 7)
			f[n++] = t;
		else
			return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (n == 6 && !strcmp(f[0], "ban")) {
		r->kind = 0;
		if (parse_addr(f[1], &r->ban.a) || parse_origin(f[2], &r->ban.b.origin) || parse_u64(f[3], &level) ||
		    level > UINT32_MAX || parse_u64(f[4], &r->ban.b.created_ns) || parse_u64(f[5], &r->ban.b.expires_ns))
			return -EINVAL;
		r->ban.b.level = (uint32_t)level;
		return 0;
	}
	if (n == 3 && (!strcmp(f[0], "allow") || !strcmp(f[0], "deny"))) {
		r->kind = 1 + (!strcmp(f[0], "allow") ? MG_LIST_ALLOW : MG_LIST_DENY);
		if (parse_cidr(f[1], &r->rule.k) || parse_u64(f[2], &r->rule.r.expires_ns))
			return -EINVAL;
		r->rule.r.prefixlen = r->rule.k.prefixlen;
		r->rule.r.origin = MG_ORIGIN_CLI;
		return 0;
	}
	return -EINVAL;
}

/* the whole file into recs, checked; -EBADMSG with err set when refused */
static int state_read(FILE *f, struct rec **out, size_t *nout, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0, n = 0, rcap = 0, lineno = 0;
	ssize_t len;
	unsigned long crc = crc32(0, NULL, 0);
	struct rec *recs = NULL;
	bool ended = false;
	int rc = -EBADMSG;

	err[0] = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (ended) {
			snprintf(err, errlen, "line %zu: data after the end line", lineno);
			goto out;
		}
		if (line[len - 1] != '\n') {
			snprintf(err, errlen, "line %zu: cut short (no end line)", lineno);
			goto out;
		}
		if (!strncmp(line, "end ", 4)) {
			size_t count;
			unsigned long want;
			char extra;

			if (sscanf(line, "end %zu %lx%c", &count, &want, &extra) != 3 || extra != '\n') {
				snprintf(err, errlen, "line %zu: bad end line", lineno);
				goto out;
			}
			if (want != crc) {
				snprintf(err, errlen, "checksum mismatch (file says %08lx, content has %08lx)", want, crc);
				goto out;
			}
			if (count != n) {
				snprintf(err, errlen, "record count mismatch (end line says %zu, file has %zu)", count, n);
				goto out;
			}
			ended = true;
			continue;
		}
		crc = crc32(crc, (const Bytef *)line, (uInt)len);
		line[len - 1] = 0;
		if (lineno == 1) {
			if (strcmp(line, "mailgate-state 1")) {
				snprintf(err, errlen, "not a mailgate state file of version 1");
				goto out;
			}
			continue;
		}
		if (!strncmp(line, "pin_dir ", 8) || !strncmp(line, "written ", 8))
			continue;
		if (n == rcap) {
			size_t c = rcap ? 2 * rcap : 1024;
			struct rec *p = realloc(recs, c * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			recs = p;
			rcap = c;
		}
		if (parse_rec(line, &recs[n])) {
			snprintf(err, errlen, "line %zu: bad record '%.80s'", lineno, line);
			goto out;
		}
		n++;
	}
	if (ferror(f)) {
		rc = -errno;
		snprintf(err, errlen, "read error: %s", strerror(errno));
		goto out;
	}
	if (!ended) {
		snprintf(err, errlen, lineno ? "cut short (no end line)" : "empty");
		goto out;
	}
	*out = recs;
	*nout = n;
	recs = NULL;
	rc = 0;
out:
	free(recs);
	free(line);
	return rc;
}

int state_restore(struct gate *g, const char *path, uint64_t ban_time_max_ns, size_t *n, size_t *n_expired,
		  char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct rec *recs = NULL;
	size_t nrec = 0;
	uint64_t now = now_boot_ns(), off = now_real_ns() - now, real = now + off;
	int rc, fails = 0, first_err = 0, lock = -1;

	*n = *n_expired = 0;
	if (!f)
		return -errno;
	rc = state_read(f, &recs, &nrec, err, errlen);
	fclose(f);
	if (rc)
		return rc;
	for (size_t i = 0; i < nrec; i++) {
		struct rec *r = &recs[i];
		int e;

		if (r->kind == 0) {
			struct mg_ban *b = &r->ban.b;
			/* quota bans are kept past their end for their level, as the sweep does */
			uint64_t keep = b->origin == MG_ORIGIN_QUOTA ? ban_time_max_ns : 0;

			if (b->expires_ns && b->expires_ns + keep <= real) {
				(*n_expired)++;
				continue;
			}
			/* created before this boot: as old as the boot (BOOTTIME has no earlier) */
			b->created_ns = b->created_ns > off ? b->created_ns - off : 0;
			if (b->expires_ns)
				b->expires_ns = b->expires_ns > off ? b->expires_ns - off : 1;
			e = bpf_map_update_elem(g->fd[ban_map(b->origin)], &r->ban.a, b, BPF_ANY) ? -errno : 0;
		} else {
			struct mg_rule *ru = &r->rule.r;

			if (ru->expires_ns && ru->expires_ns <= real) {
				(*n_expired)++;
				continue;
			}
			if (ru->expires_ns)
				ru->expires_ns -= off;
			if (lock < 0)
				lock = list_lock(g);
			e = lock < 0 ? lock : list_put(g, r->kind - 1, &r->rule.k, ru);
		}
		if (e) {
			fails++;
			if (!first_err)
				first_err = e;
		} else {
			(*n)++;
		}
	}
	list_unlock(lock);
	free(recs);
	if (fails) {
		snprintf(err, errlen, "%d entries not restored: %s", fails, strerror(-first_err));
		return first_err;
	}
	return 0;
}
