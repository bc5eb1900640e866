// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/netns.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include <linux/if_link.h>
#include <bpf/libbpf.h>
#include "netns.h"

int ns_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		printf("  command failed (%d): %s\n", rc, cmd);
	return rc;
}

void ns_clean_stale(const char *tag)
{
	char prefix[64];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "mgt-%s-", tag);
	struct dirent *e;
	DIR *d = opendir("/run/netns");

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *rest = e->d_name + n;
		int pid = strncmp(e->d_name, prefix, n) == 0 && (rest[0] == 's' || rest[0] == 'c') &&
			  rest[1] == '-' ? atoi(rest + 2) : 0;

		if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
			ns_sh("ip netns del %s 2>/dev/null", e->d_name);
	}
	closedir(d);
}

int ns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

int ns_open(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

void netpair_destroy(struct netpair *p)
{
	if (p->self_fd > 0)
		ns_enter(p->self_fd);
	if (p->srv_fd > 0)
		close(p->srv_fd);
	if (p->cli_fd > 0)
		close(p->cli_fd);
	if (p->self_fd > 0)
		close(p->self_fd);
	if (p->srv[0])
		ns_sh("ip netns del %s 2>/dev/null", p->srv);
	if (p->cli[0])
		ns_sh("ip netns del %s 2>/dev/null", p->cli);
	memset(p, 0, sizeof(*p));
}

int netpair_create(struct netpair *p, const char *tag)
{
	int pid = getpid(), err = 0;
	struct stat st;

	memset(p, 0, sizeof(*p));
	ns_clean_stale(tag);
	snprintf(p->srv, sizeof(p->srv), "mgt-%s-s-%d", tag, pid);
	snprintf(p->cli, sizeof(p->cli), "mgt-%s-c-%d", tag, pid);
	snprintf(p->srv_if, sizeof(p->srv_if), "mgts%d", pid);
	snprintf(p->cli_if, sizeof(p->cli_if), "mgtc%d", pid);
	ns_sh("{ ip netns del %s; ip netns del %s; } 2>/dev/null; true", p->srv, p->cli);
	err = err ?: ns_sh("ip netns add %s && ip netns add %s", p->srv, p->cli);
	err = err ?: ns_sh("ip link add %s netns %s type veth peer name %s netns %s", p->srv_if,
			   p->srv, p->cli_if, p->cli);
	err = err ?: ns_sh("ip -n %s link set lo up && ip -n %s link set lo up", p->srv, p->cli);
	err = err ?: ns_sh("ip -n %s addr add 192.0.2.1/24 dev %s && "
			   "ip -n %s addr add 2001:db8::1/64 dev %s nodad && ip -n %s link set %s up",
			   p->srv, p->srv_if, p->srv, p->srv_if, p->srv, p->srv_if);
	for (int i = 2; !err && i < 2 + NS_CLIENTS; i++)
		err = ns_sh("ip -n %s addr add 192.0.2.%d/24 dev %s && "
			    "ip -n %s addr add 2001:db8::%d/64 dev %s nodad",
			    p->cli, i, p->cli_if, p->cli, i, p->cli_if);
	err = err ?: ns_sh("ip -n %s link set %s up", p->cli, p->cli_if);
	if (err) {
		netpair_destroy(p);
		return -EIO;
	}
	p->self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	p->srv_fd = ns_open(p->srv);
	p->cli_fd = ns_open(p->cli);
	if (p->self_fd < 0 || p->srv_fd < 0 || p->cli_fd < 0 || fstat(p->srv_fd, &st)) {
		netpair_destroy(p);
		return -EIO;
	}
	p->srv_ino = st.st_ino;
	return 0;
}

int ns_ifindex(struct netpair *p, int ns_fd, const char *name)
{
	int idx;

	if (ns_enter(ns_fd))
		return -errno;
	idx = (int)if_nametoindex(name);
	ns_enter(p->self_fd);
	return idx ? idx : -ENODEV;
}

socklen_t ns_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		return sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		return sizeof(*s4);
	}
}

int ns_listen(struct netpair *p, int ns_fd, const char *addr, uint16_t port,
	      int backlog)
{
	struct sockaddr_storage ss;
	socklen_t sl = ns_sockaddr(addr, port, &ss);
	int fd, one = 1, zero = 0;

	if (ns_enter(ns_fd))
		return -errno;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ns_enter(p->self_fd);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (void *)&ss, sl) || listen(fd, backlog)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ns_connect(struct netpair *p, int ns_fd, const char *src, const char *dst,
	       uint16_t port, int timeout_ms)
{
	struct sockaddr_storage s, d;
	socklen_t sl = ns_sockaddr(src, 0, &s), dl = ns_sockaddr(dst, port, &d);
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	if (ns_enter(ns_fd))
		return -errno;
	fd = socket(d.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ns_enter(p->self_fd);
	if (fd < 0)
		return -errno;
	if (bind(fd, (void *)&s, sl) || (connect(fd, (void *)&d, dl) && errno != EINPROGRESS)) {
		err = -errno;
		close(fd);
		return err;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, timeout_ms) != 1) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

void ns_abort(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

int ns_xdp_attach(struct netpair *p, int ns_fd, int ifindex, int prog)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, xo);
	int err;

	ns_enter(ns_fd);
	err = bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, &xo);
	ns_enter(p->self_fd);
	return err;
}
