// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* SYN cookies, the userspace side (include/cookie.h, bpf/syncookie.bpf.c):
 * the keys (written and rotated here), the TC ingress program that checks
 * the ACKs (loaded onto the gate's pinned maps, attached to the TC ingress
 * of each gated interface as a tcx link), and whether this kernel can do it
 * at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mailgate.h"
#include "cookie.h"
#include "syncookie.skel.h"

/* BPF_TCX_INGRESS (Linux 6.6), for headers older than it */
#define MG_BPF_TCX_INGRESS 46

static int random_key(__u64 key[2])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t n = getrandom((char *)key + got, 16 - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += n;
	}
	return 0;
}

int cookie_keys_rotate(struct gate *g, uint64_t now)
{
	struct mg_cookie_keys k;
	uint64_t slot = now >> MG_COOKIE_SLOT_SHIFT;
	uint32_t zero = 0;
	int err;

	if (bpf_map_lookup_elem(g->fd[GM_COOKIE], &zero, &k))
		return -errno;
	if (!k.ready) { /* all four, fresh */
		for (int i = 0; i < MG_COOKIE_KEYS; i++) {
			err = random_key(k.key[i]);
			if (err)
				return err;
			k.slot[i] = slot - ((slot - i) & 3);
		}
		k.ready = 1;
	} else if (k.slot[(slot + 2) & 3] != slot + 2) {
		/* the key of slot + 2: no valid cookie uses it now (they are of
		 * slot and slot - 1) */
		err = random_key(k.key[(slot + 2) & 3]);
		if (err)
			return err;
		k.slot[(slot + 2) & 3] = slot + 2;
	} else {
		return 0;
	}
	return bpf_map_update_elem(g->fd[GM_COOKIE], &zero, &k, BPF_ANY) ? -errno : 0;
}

int cookie_keys_clear(struct gate *g)
{
	struct mg_cookie_keys k = {};
	uint32_t zero = 0;

	return bpf_map_update_elem(g->fd[GM_COOKIE], &zero, &k, BPF_ANY) ? -errno : 0;
}

int cookie_syncookies_sysctl(void)
{
	char buf[16] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_syncookies", "r");

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return atoi(buf);
}

struct cookie_tc {
	struct syncookie_bpf *skel;
};

struct cookie_tc *cookie_tc_load(struct gate *g, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = g->pin_dir);
	struct cookie_tc *c;
	int err, sc = cookie_syncookies_sysctl();

	if (sc <= 0) {
		snprintf(why, whylen, "net.ipv4.tcp_syncookies is %s (needs 1 or 2)",
			 sc == 0 ? "0" : "unreadable");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	c->skel = syncookie_bpf__open_opts(&opts);
	if (!c->skel) {
		snprintf(why, whylen, "cannot open the TC object: %s", strerror(errno));
		free(c);
		return NULL;
	}
	err = syncookie_bpf__load(c->skel);
	if (err) {
		snprintf(why, whylen, "the kernel does not load the TC program (bpf_sk_assign_tcp_reqsk needs Linux 6.9+): %s",
			 strerror(-err));
		syncookie_bpf__destroy(c->skel);
		free(c);
		return NULL;
	}
	return c;
}

/* Attach to the interface's TC ingress as a BPF link (tcx: Linux 6.6+,
 * every kernel with the kfunc has it). pin: where the link is pinned (an
 * earlier run's link there gets the new program, the interface is never
 * without one), or NULL. Returns the link's fd (the caller closes it; a
 * pinned link stays) or -errno. */
int cookie_tc_attach(struct cookie_tc *c, int ifindex, const char *pin)
{
	int prog = bpf_program__fd(c->skel->progs.mg_tc_cookie), fd, err;

	if (pin) {
		fd = bpf_obj_get(pin);
		if (fd >= 0) {
			if (bpf_link_update(fd, prog, NULL) == 0)
				return fd;
			bpf_link_detach(fd); /* a stale pin (the interface went away) */
			close(fd);
			unlink(pin);
		}
	}
	fd = bpf_link_create(prog, ifindex, MG_BPF_TCX_INGRESS, NULL);
	if (fd < 0)
		return -errno;
	if (pin && bpf_obj_pin(fd, pin)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Detach the link pinned at pin and remove the pin: 0, or -ENOENT */
int cookie_tc_detach(const char *pin)
{
	int fd = bpf_obj_get(pin);

	if (fd < 0)
		return -errno;
	bpf_link_detach(fd);
	close(fd);
	return unlink(pin) ? -errno : 0;
}

void cookie_tc_close(struct cookie_tc *c)
{
	if (!c)
		return;
	syncookie_bpf__destroy(c->skel);
	free(c);
}
