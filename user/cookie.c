// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* SYN cookies, the userspace side (include/cookie.h, bpf/syncookie.bpf.c):
 * the keys (written and rotated here), the TC ingress program that checks
 * the ACKs (loaded onto the gate's pinned maps, attached to clsact on each
 * gated interface), and whether this kernel can do it at all. */
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

/* the clsact filter mailgate owns on an interface */
#define COOKIE_TC_HANDLE   0x6d67 /* "mg" */
#define COOKIE_TC_PRIORITY 0x6d67

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

int cookie_tc_attach(struct cookie_tc *c, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = COOKIE_TC_HANDLE, .priority = COOKIE_TC_PRIORITY,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = bpf_program__fd(c->skel->progs.mg_tc_cookie));
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &o);
}

/* Remove mailgate's filter from the interface's clsact ingress (the qdisc
 * stays: other filters may use it). -ENOENT when there is none. */
int cookie_tc_detach(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = COOKIE_TC_HANDLE, .priority = COOKIE_TC_PRIORITY);

	return bpf_tc_detach(&hook, &o);
}

/* Is mailgate's filter on the interface? */
bool cookie_tc_attached(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = COOKIE_TC_HANDLE, .priority = COOKIE_TC_PRIORITY);

	return bpf_tc_query(&hook, &o) == 0;
}

void cookie_tc_close(struct cookie_tc *c)
{
	if (!c)
		return;
	syncookie_bpf__destroy(c->skel);
	free(c);
}
