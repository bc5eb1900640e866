// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The kernel's own word on SYN trouble: the TcpExt counters of the network
 * namespace the daemon runs in (/proc/net/netstat is the reading thread's
 * namespace), read on every netstat tick of the daemon's loop. A counter
 * that grew since the last reading is reported to the data path
 * (gate_trouble: mg_ctl.trouble), where it lowers the bar of flood mode's
 * handshake evidence (docs/datapath.md, adaptive detection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "mailgate.h"

static const struct {
	const char *name; /* TcpExt field */
	uint32_t bit;     /* MG_TROUBLE_* */
} fields[NETSTAT_FIELDS] = {
	{ "SyncookiesSent", MG_TROUBLE_SYNCOOKIES },
	{ "ListenOverflows", MG_TROUBLE_LISTEN_OVF },
	{ "TCPReqQFullDrop", MG_TROUBLE_REQQ_FULL },
	{ "TCPReqQFullDoCookies", MG_TROUBLE_REQQ_COOKIES },
};

const char *netstat_name(int i)
{
	return i >= 0 && i < NETSTAT_FIELDS ? fields[i].name : "";
}

/* The values of the TcpExt line under the names of the line before it */
static void netstat_pick(char *names, char *values, struct netstat *out)
{
	char *sn, *sv, *n = strtok_r(names, " \n", &sn), *v = strtok_r(values, " \n", &sv);

	for (; n && v; n = strtok_r(NULL, " \n", &sn), v = strtok_r(NULL, " \n", &sv))
		for (int i = 0; i < NETSTAT_FIELDS; i++)
			if (!strcmp(n, fields[i].name)) {
				out->v[i] = strtoull(v, NULL, 10);
				out->seen |= 1u << i;
			}
}

int netstat_read(const char *path, struct netstat *out)
{
	char names[8192], values[8192];
	FILE *f = fopen(path ? path : "/proc/net/netstat", "re");
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!f)
		return -errno;
	while (fgets(names, sizeof(names), f)) {
		if (!fgets(values, sizeof(values), f))
			break;
		if (!strncmp(names, "TcpExt:", 7) && !strncmp(values, "TcpExt:", 7))
			netstat_pick(names + 7, values + 7, out);
	}
	if (!out->seen)
		err = -ENOENT; /* no TcpExt line: not the file it should be */
	fclose(f);
	return err;
}

uint32_t netstat_trouble(const struct netstat *before, const struct netstat *now)
{
	uint32_t bits = 0;

	for (int i = 0; i < NETSTAT_FIELDS; i++)
		if ((before->seen & now->seen & (1u << i)) && now->v[i] > before->v[i])
			bits |= fields[i].bit;
	return bits;
}

const char *trouble_names(uint32_t bits, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < NETSTAT_FIELDS && n < len; i++)
		if (bits & fields[i].bit)
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", fields[i].name);
	return buf;
}
