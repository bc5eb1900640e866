// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* DNSBL queries with c-ares: the channel (resolvers, timeouts), driving it
 * with poll(), and turning a reply into a classified answer. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dnsbl.h"

const char *const dnsbl_result_names[DR_MAX] = {
	[DR_LISTED] = "listed",     [DR_CLEAN] = "clean",       [DR_NXDOMAIN] = "nxdomain",
	[DR_TIMEOUT] = "timeout",   [DR_SERVFAIL] = "servfail", [DR_REFUSED] = "refused",
	[DR_GARBAGE] = "garbage",   [DR_REFUSAL_CODE] = "refusal_code",
};

bool dnsbl_is_refusal_code(uint32_t a)
{
	return (a & 0xffffff00u) == 0x7fffff00u || a == 0x7f0000ffu;
}

void dnsbl_answer_parse(int status, const unsigned char *abuf, int alen, struct dnsbl_answer *ans)
{
	struct ares_addrttl *t;
	int n;

	memset(ans, 0, sizeof(*ans));
	ans->ares_status = status;
	switch (status) {
	case ARES_SUCCESS:
		break;
	case ARES_ENODATA:
		ans->result = DR_CLEAN;
		return;
	case ARES_ENOTFOUND:
		ans->result = DR_NXDOMAIN;
		return;
	case ARES_ETIMEOUT:
	case ARES_ECONNREFUSED: /* nobody listening: no answer, like a timeout */
		ans->result = DR_TIMEOUT;
		return;
	case ARES_ESERVFAIL:
		ans->result = DR_SERVFAIL;
		return;
	case ARES_EREFUSED:
		ans->result = DR_REFUSED;
		return;
	default: /* EFORMERR, ENOTIMP, EBADRESP, ... */
		ans->result = DR_GARBAGE;
		return;
	}
	/* a truncated reply (TC bit; the channel does not retry over TCP)
	 * is not trusted, whatever it holds */
	if (alen < 12 || (abuf[2] & 0x02)) {
		ans->result = DR_GARBAGE;
		return;
	}
	/* room for every A record the reply can hold (each takes at least 15
	 * bytes), so that none is left unread */
	n = alen / 15 + 1;
	t = calloc(n, sizeof(*t));
	if (!t) {
		ans->result = DR_GARBAGE;
		return;
	}
	status = ares_parse_a_reply(abuf, alen, NULL, t, &n);
	if (status == ARES_ENODATA) {
		free(t);
		ans->result = DR_CLEAN;
		return;
	}
	if (status != ARES_SUCCESS || n <= 0) {
		free(t);
		ans->result = DR_GARBAGE;
		ans->ares_status = status;
		return;
	}
	ans->result = DR_CLEAN;
	ans->n = n < DNSBL_MAX_ANSWERS ? n : DNSBL_MAX_ANSWERS;
	for (int i = 0; i < n; i++) {
		uint32_t a = ntohl(t[i].ipaddr.s_addr);
		uint32_t ttl = t[i].ttl > 0 ? (uint32_t)t[i].ttl : 0;

		if (i < DNSBL_MAX_ANSWERS)
			ans->a[i] = a;
		if (i == 0 || ttl < ans->ttl)
			ans->ttl = ttl;
		/* a refusal code anywhere taints the whole answer; so does an
		 * address outside 127.0.0.0/8 (a hijacking resolver) */
		if (dnsbl_is_refusal_code(a)) {
			if (ans->result != DR_REFUSAL_CODE)
				ans->bad = a;
			ans->result = DR_REFUSAL_CODE;
		} else if ((a >> 24) != 127 && ans->result == DR_CLEAN) {
			ans->result = DR_GARBAGE;
			ans->bad = a;
		}
	}
	/* more codes than can be scored (a plain UDP reply holds at most 31):
	 * not a DNSBL's answer; never scored on a part of it */
	if (n > DNSBL_MAX_ANSWERS && ans->result == DR_CLEAN) {
		ans->result = DR_GARBAGE;
		ans->bad = 0;
	}
	free(t);
}

/* ---- resolvers ---- */

/* One "addr[:port]" / "[v6]:port" / "v6" entry. */
static int parse_server(const char *tok, struct ares_addr_port_node *n, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	size_t hl;
	uint32_t p = 53;

	memset(n, 0, sizeof(*n));
	if (tok[0] == '[') {
		const char *rb = strchr(tok, ']');

		if (!rb)
			goto bad;
		hl = rb - tok - 1;
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, tok + 1, hl);
		host[hl] = 0;
		if (rb[1] == ':')
			port = rb + 2;
		else if (rb[1])
			goto bad;
		n->family = AF_INET6;
	} else if (strchr(tok, ':') && strchr(tok, ':') == strrchr(tok, ':')) {
		const char *c = strchr(tok, ':');

		hl = c - tok;
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, tok, hl);
		host[hl] = 0;
		port = c + 1;
		n->family = AF_INET;
	} else {
		if (strlen(tok) >= sizeof(host))
			goto bad;
		strcpy(host, tok);
		n->family = strchr(tok, ':') ? AF_INET6 : AF_INET;
	}
	if (n->family == AF_INET ? inet_pton(AF_INET, host, &n->addr.addr4) != 1
				 : inet_pton(AF_INET6, host, &n->addr.addr6) != 1)
		goto bad;
	if (port && parse_u32(port, 1, 65535, &p)) {
		snprintf(err, errlen, "resolvers: bad port in '%s' (1..65535)", tok);
		return -EINVAL;
	}
	n->udp_port = n->tcp_port = (int)p;
	return 0;
bad:
	snprintf(err, errlen, "resolvers: '%s' is not an address[:port] (e.g. 127.0.0.1:53, [::1]:5353)",
		 tok);
	return -EINVAL;
}

/* Parse a list into nodes[] (at most max); returns how many, or -EINVAL.
 * 0 means "system". */
static int parse_servers(const char *list, struct ares_addr_port_node *nodes, int max, char *err,
			 size_t errlen)
{
	char tok[128];
	const char *p = list;
	int n = 0, r;

	while ((r = dnsbl_list_next(&p, tok, sizeof(tok))) > 0) {
		if (!strcmp(tok, "system")) {
			if (n || p[strspn(p, " \t\r\n")]) {
				snprintf(err, errlen, "resolvers: 'system' cannot be combined with addresses");
				return -EINVAL;
			}
			return 0;
		}
		if (n >= max) {
			snprintf(err, errlen, "resolvers: more than %d servers", max);
			return -EINVAL;
		}
		r = parse_server(tok, &nodes[n], err, errlen);
		if (r)
			return r;
		n++;
	}
	if (r < 0) {
		snprintf(err, errlen, "resolvers: entry '%.40s...' too long", p);
		return -EINVAL;
	}
	return n;
}

#define MAX_SERVERS 8

int dnsbl_resolvers_check(const char *list, char *err, size_t errlen)
{
	struct ares_addr_port_node nodes[MAX_SERVERS];
	int n = parse_servers(list, nodes, MAX_SERVERS, err, errlen);

	return n < 0 ? n : 0;
}

int dnsbl_channel_new(ares_channel *ch, const char *resolvers, uint64_t timeout_ns, char *err,
		      size_t errlen)
{
	struct ares_addr_port_node nodes[MAX_SERVERS], *servers = NULL;
	struct ares_options o = {
		.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
			 ARES_FLAG_IGNTC,
		.tries = 1,
		.ndots = 1,
		.socket_receive_buffer_size = 1 << 20,
	};
	int mask = ARES_OPT_FLAGS | ARES_OPT_TRIES | ARES_OPT_NDOTS | ARES_OPT_TIMEOUTMS |
		   ARES_OPT_NOROTATE | ARES_OPT_SOCK_RCVBUF;
	int n, r, nservers = 1;
	uint64_t per_try;

	n = parse_servers(resolvers ? resolvers : "system", nodes, MAX_SERVERS, err, errlen);
	if (n < 0)
		return n;
	if (!timeout_ns)
		timeout_ns = 2 * NSEC_PER_SEC;
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(r));
		return -EIO;
	}
	for (int i = 0; i < n; i++) {
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
		servers = &nodes[0];
	}
	if (n)
		nservers = n;
	/* every server is tried once; together they take at most timeout */
	per_try = timeout_ns / nservers / 1000000;
	o.timeout = per_try < 50 ? 50 : (int)per_try;
	r = ares_init_options(ch, &o, mask);
	if (r != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares init: %s", ares_strerror(r));
		return -EIO;
	}
	if (servers) {
		r = ares_set_servers_ports(*ch, servers);
		if (r != ARES_SUCCESS) {
			ares_destroy(*ch);
			snprintf(err, errlen, "c-ares servers: %s", ares_strerror(r));
			return -EINVAL;
		}
	} else {
		struct ares_addr_port_node *sys = NULL;

		/* "system" with an unusable resolv.conf leaves c-ares on
		 * 127.0.0.1: say what is in effect */
		if (ares_get_servers_ports(*ch, &sys) == ARES_SUCCESS && sys) {
			int k = 0;

			for (struct ares_addr_port_node *s = sys; s; s = s->next)
				k++;
			ares_free_data(sys);
			if (k > 1) { /* re-init with the per-try timeout for k servers */
				ares_destroy(*ch);
				per_try = timeout_ns / k / 1000000;
				o.timeout = per_try < 50 ? 50 : (int)per_try;
				r = ares_init_options(ch, &o, mask);
				if (r != ARES_SUCCESS) {
					snprintf(err, errlen, "c-ares init: %s", ares_strerror(r));
					return -EIO;
				}
			}
		}
	}
	return 0;
}

bool dnsbl_channel_poll(ares_channel ch, int extra_fd, int max_ms)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd p[ARES_GETSOCK_MAXNUM + 1];
	struct timeval maxtv = { max_ms / 1000, (max_ms % 1000) * 1000 }, tv, *tvp;
	int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
	int n = 0, ms, extra = -1;
	bool woke = false;

	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = 0;

		if (ARES_GETSOCK_READABLE(bits, i))
			ev |= POLLIN;
		if (ARES_GETSOCK_WRITABLE(bits, i))
			ev |= POLLOUT;
		if (!ev)
			continue;
		p[n].fd = socks[i];
		p[n].events = ev;
		p[n].revents = 0;
		n++;
	}
	if (extra_fd >= 0) {
		extra = n;
		p[n].fd = extra_fd;
		p[n].events = POLLIN;
		p[n].revents = 0;
		n++;
	}
	tvp = ares_timeout(ch, &maxtv, &tv);
	ms = tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
	if (poll(p, n, ms) > 0) {
		for (int i = 0; i < n; i++) {
			if (i == extra) {
				woke = p[i].revents & POLLIN;
				continue;
			}
			if (!p[i].revents)
				continue;
			ares_process_fd(ch, p[i].revents & (POLLIN | POLLERR | POLLHUP) ? p[i].fd : ARES_SOCKET_BAD,
					p[i].revents & POLLOUT ? p[i].fd : ARES_SOCKET_BAD);
		}
	}
	ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
	return woke;
}
