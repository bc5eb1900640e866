/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Two network namespaces joined by a veth pair, for tests with real TCP:
 * "server" (192.0.2.1, 2001:db8::1) and "client" (192.0.2.2.., 2001:db8::2..).
 * Names carry the test's pid (mgt-<tag>-s-<pid>, veth mgts<pid>/mgtc<pid>);
 * those of dead test processes are removed first. The test process stays in
 * its own namespaces (so /sys/fs/bpf stays visible) and enters the others
 * with setns() only to create sockets or find an interface. */
#ifndef MAILGATE_NETNS_H
#define MAILGATE_NETNS_H

/* needs _GNU_SOURCE (setns) defined before the first include */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>

#define NS_CLIENTS 8 /* client addresses 192.0.2.2..9, 2001:db8::2..9 */

struct netpair {
	char srv[64], cli[64];        /* namespace names */
	char srv_if[IFNAMSIZ], cli_if[IFNAMSIZ];
	int srv_fd, cli_fd, self_fd;  /* namespace fds */
	unsigned long srv_ino;        /* the server namespace's inode (netns_ino) */
};

int ns_sh(const char *fmt, ...);

/* namespaces of killed test runs with this tag (mgt-<tag>-s-<pid>, -c-) */
void ns_clean_stale(const char *tag);
int ns_enter(int fd);
int ns_open(const char *name);
void netpair_destroy(struct netpair *p);
int netpair_create(struct netpair *p, const char *tag);

/* the interface index of name inside namespace ns_fd */
int ns_ifindex(struct netpair *p, int ns_fd, const char *name);

/* a socket address from "192.0.2.1" or "2001:db8::1" */
socklen_t ns_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss);

/* A listening TCP socket in namespace ns_fd: addr "::" (dual stack),
 * "0.0.0.0" (IPv4 only) ... */
int ns_listen(struct netpair *p, int ns_fd, const char *addr, uint16_t port,
	      int backlog);

/* Connect from namespace ns_fd, address src, to dst:port within
 * timeout_ms. Returns the connected fd, or a negative errno (-ETIMEDOUT when
 * no answer: the SYNs were dropped). */
int ns_connect(struct netpair *p, int ns_fd, const char *src, const char *dst,
	       uint16_t port, int timeout_ms);

/* Attach XDP prog in native mode to ifindex inside namespace ns_fd (back in
 * the test's own namespace after); 0 or a negative errno. */
int ns_xdp_attach(struct netpair *p, int ns_fd, int ifindex, int prog);

/* close with RST (SO_LINGER 0) instead of FIN */
void ns_abort(int fd);

#endif /* MAILGATE_NETNS_H */
