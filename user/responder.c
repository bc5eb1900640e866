// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The responder: with [gate] denied, [gate] banned or [dnsbl] listed =
 * reject, the XDP program lets such a source's SYN pass (within its quotas)
 * and marks it in mg_reject; the sk_lookup program steers the connection to
 * this socket instead of the mail server's. Each connection gets one line
 * saying why (SMTP 554/421, IMAP BYE, POP3 -ERR), then the socket is closed.
 * Implicit-TLS ports (submissions, smtps, imaps, pop3s) get no text a TLS
 * client could read: they are closed at once. The server never sees them. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "gate.skel.h"

/* one listener on loopback, any port: sk_lookup hands it connections to
 * any address; nothing reaches it directly from outside */
static int listen_loopback(int family)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (family == AF_INET ? bind(fd, (struct sockaddr *)&a4, sizeof(a4)) : bind(fd, (struct sockaddr *)&a6, sizeof(a6)))
		goto fail;
	if (listen(fd, 1024))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int responder_start(struct responder *r, struct gate *g)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	int nsfd, err = 0;

	r->fd[0] = r->fd[1] = -1;
	for (uint32_t i = 0; i < 2 && !err; i++) {
		uint64_t val;

		r->fd[i] = listen_loopback(families[i]);
		if (r->fd[i] < 0) {
			err = r->fd[i];
			break;
		}
		val = r->fd[i];
		if (bpf_map_update_elem(bpf_map__fd(g->skel->maps.mg_responder), &i, &val, BPF_ANY))
			err = -errno;
	}
	if (!err) {
		nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (nsfd < 0) {
			err = -errno;
		} else {
			r->link = bpf_program__attach_netns(g->skel->progs.mg_sk_lookup, nsfd);
			if (!r->link)
				err = -errno;
			close(nsfd);
		}
	}
	if (err)
		responder_stop(r);
	return err;
}

void responder_stop(struct responder *r)
{
	bpf_link__destroy(r->link);
	r->link = NULL;
	for (int i = 0; i < 2; i++) {
		if (r->fd[i] >= 0)
			close(r->fd[i]);
		r->fd[i] = -1;
	}
}

static const struct mg_port_entry *port_entry(const struct mg_settings *s, uint16_t port)
{
	for (int i = 0; i < s->n_ports; i++)
		if (s->port_list[i].port == port)
			return &s->port_list[i];
	return NULL;
}

static bool implicit_tls(const struct mg_port_entry *p)
{
	static const char *const names[] = { "submissions", "smtps", "imaps", "pop3s" };

	for (size_t i = 0; p && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(p->name, names[i]))
			return true;
	return false;
}

/* the zones that list a, from the DNSBL cache: "zen.example, bl.example" */
static void listing_zones(const char *pin_dir, const struct mg_addr *a, char *buf, size_t len)
{
	struct json_object *zones = json_object_new_array();
	size_t n = 0;

	buf[0] = 0;
	dnsbl_cached(pin_dir, a, zones);
	for (size_t i = 0; i < json_object_array_length(zones) && n < len; i++) {
		struct json_object *z = json_object_array_get_idx(zones, i), *name, *listed;

		if (!json_object_object_get_ex(z, "listed", &listed) || !json_object_get_boolean(listed) ||
		    !json_object_object_get_ex(z, "zone", &name))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", json_object_get_string(name));
	}
	json_object_put(zones);
	if (!buf[0])
		snprintf(buf, len, "a DNS blocklist");
}

/* Compose the line for one rejected connection; returns its length. */
static int compose(char *line, size_t len, struct gate *g, const struct mg_addr *a, uint32_t reason,
		   uint32_t class)
{
	char addr[MG_ADDRSTRLEN], why[512], zones[384];
	bool temp = false;

	format_addr(a, addr, sizeof(addr));
	if (reason == MG_REASON_REJECT_DNSBL) {
		listing_zones(g->pin_dir, a, zones, sizeof(zones));
		snprintf(why, sizeof(why), "client [%s] blocked using %s", addr, zones);
	} else if (reason == MG_REASON_REJECT_BAN) {
		struct mg_ban b;

		temp = ban_get(g, a, now_boot_ns(), &b) && b.expires_ns;
		snprintf(why, sizeof(why), "client [%s] is %sbanned%s", addr, temp ? "temporarily " : "",
			 temp ? " for abuse, try again later" : " for abuse");
	} else if (reason == MG_REASON_REJECT_DENY) {
		snprintf(why, sizeof(why), "client [%s] is on this server's deny list", addr);
	} else {
		snprintf(why, sizeof(why), "client [%s] refused", addr);
	}
	switch (class) {
	case MG_CLASS_IMAP:
		return snprintf(line, len, "* BYE [UNAVAILABLE] %s\r\n", why);
	case MG_CLASS_POP3:
		return snprintf(line, len, "-ERR [SYS/%s] %s\r\n", temp ? "TEMP" : "PERM", why);
	default: /* SMTP, submission: refused at the greeting (RFC 5321 3.1) */
		return snprintf(line, len, temp ? "421 4.7.1 Service unavailable; %s\r\n"
						: "554 5.7.1 Service unavailable; %s\r\n", why);
	}
}

/* the peer and local end of an accepted connection as the key XDP wrote */
static int conn_key(int c, struct mg_reject_key *k)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);

	if (getpeername(c, (struct sockaddr *)&peer, &pl) || getsockname(c, (struct sockaddr *)&local, &ll) ||
	    peer.ss_family != local.ss_family)
		return -1;
	memset(k, 0, sizeof(*k));
	if (peer.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&peer, *l = (const void *)&local;

		k->addr.a[10] = k->addr.a[11] = 0xff;
		memcpy(&k->addr.a[12], &p->sin_addr, 4);
		k->sport = ntohs(p->sin_port);
		k->dport = ntohs(l->sin_port);
	} else if (peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const void *)&peer, *l = (const void *)&local;

		memcpy(k->addr.a, &p->sin6_addr, 16);
		k->sport = ntohs(p->sin6_port);
		k->dport = ntohs(l->sin6_port);
	} else {
		return -1;
	}
	return 0;
}

void responder_answer(int fd, struct gate *g, const struct mg_settings *s, struct mg_runtime *rt)
{
	for (int i = 0; i < 256; i++) { /* a bounded batch; the rest at the next wakeup */
		const struct mg_port_entry *p;
		struct mg_reject_key k;
		struct mg_reject m = { .reason = MG_REASON_MAX };
		char line[1024], addr[MG_ADDRSTRLEN];
		int c, n;

		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			return;
		if (conn_key(c, &k)) {
			close(c);
			continue;
		}
		p = port_entry(s, k.dport);
		if (bpf_map_lookup_elem(g->fd[GM_REJECT], &k, &m) || m.class >= MG_CLASS_MAX)
			m.class = p ? p->class : MG_CLASS_SMTP;
		if (!implicit_tls(p)) {
			n = compose(line, sizeof(line), g, &k.addr, m.reason, m.class);
			if (n > 0 && send(c, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
					  MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				pr_debug("msg=\"responder: send failed\" addr=%s err=\"%s\"",
					 format_addr(&k.addr, addr, sizeof(addr)), strerror(errno));
		}
		close(c);
		if (m.reason < MG_REASON_MAX)
			__atomic_fetch_add(&rt->rejects_answered[m.reason], 1, __ATOMIC_RELAXED);
		pr_debug("msg=\"rejected connection answered\" addr=%s port=%u reason=%s",
			 format_addr(&k.addr, addr, sizeof(addr)), k.dport,
			 m.reason < MG_REASON_MAX ? mg_reason_names[m.reason] : "unknown");
	}
}
