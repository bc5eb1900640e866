/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A real rbldnsd for DNSBL tests and benchmarks: zone files in a
 * world-readable directory /tmp/mgt-dnsbl-<pid>, the daemon on a free UDP
 * port on 127.0.0.1, started and stopped by its pid. A run that was killed
 * halfway leaves its directory; the next run stops that run's rbldnsd (by
 * the pid recorded in the directory, after checking its command line) and
 * removes the directory. */
#ifndef MAILGATE_DNSBL_LAB_H
#define MAILGATE_DNSBL_LAB_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "dnsbl.h"
#include "cleanup.h"

#define LAB_PREFIX "/tmp/mgt-dnsbl-"

struct lab {
	char dir[64];
	int port;
	pid_t pid;
};

int lab_free_udp_port(void);

/* stop the rbldnsd of a dead run, found by the pid it recorded; remove its directory */
void lab_clean_stale(void);
int lab_init(struct lab *l);

/* write a zone file; mtime_bump moves its mtime forward so that rbldnsd
 * sees a change even within the same second */
int lab_write(struct lab *l, const char *name, const char *text, int mtime_bump);
struct lab_q {
	struct dnsbl_answer *ans;
	bool done;
};

/* one synchronous A query through c-ares; the parsed answer */
void lab_query(int port, const char *qname, struct dnsbl_answer *ans);

/* zones: NULL-terminated "zone:type:file" */
int lab_start(struct lab *l, const char *const *zones, const char *probe_zone);
void lab_stop(struct lab *l);
void lab_resolvers(const struct lab *l, char *buf, size_t len);

#endif /* MAILGATE_DNSBL_LAB_H */
