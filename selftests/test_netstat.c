// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/netstat.c: the TcpExt counters flood mode's kernel evidence reads
 * (the daemon's side is test_flood_kernel.sh, with a real listener). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include "test.h"
#include "mailgate.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* this namespace's own file: every field there, as the kernel names them */
TEST(reads_proc_net_netstat)
{
	struct netstat n;

	ASSERT_OK(netstat_read(NULL, &n), "/proc/net/netstat");
	ASSERT_EQ(n.seen, (1u << NETSTAT_FIELDS) - 1, "every field found");
}

/* the fields are found by name wherever they stand; other lines are skipped */
TEST(fields_by_name)
{
	struct netstat a, b;
	char names[96];

	write_file("IpExt: InNoRoutes SyncookiesSent\nIpExt: 5 77\n"
		   "TcpExt: TW ListenOverflows SyncookiesSent TCPReqQFullDoCookies TCPReqQFullDrop\n"
		   "TcpExt: 1 2 3 4 5\n");
	ASSERT_OK(netstat_read(path, &a), "read");
	ASSERT_EQ(a.v[0], 3, "SyncookiesSent (not IpExt's)");
	ASSERT_EQ(a.v[1], 2, "ListenOverflows");
	ASSERT_EQ(a.v[2], 5, "TCPReqQFullDrop");
	ASSERT_EQ(a.v[3], 4, "TCPReqQFullDoCookies");
	write_file("TcpExt: TW ListenOverflows SyncookiesSent TCPReqQFullDoCookies TCPReqQFullDrop\n"
		   "TcpExt: 9 2 10 4 5\n");
	ASSERT_OK(netstat_read(path, &b), "read again");
	ASSERT_EQ(netstat_trouble(&a, &b), MG_TROUBLE_SYNCOOKIES, "only SyncookiesSent grew");
	ASSERT_EQ(netstat_trouble(&b, &b), 0, "nothing grew");
	ASSERT_STREQ(trouble_names(MG_TROUBLE_SYNCOOKIES | MG_TROUBLE_LISTEN_OVF, names, sizeof(names)),
		     "SyncookiesSent,ListenOverflows", "two troubles");
}

/* a field the kernel does not have never reports trouble; a file without
 * TcpExt is refused (-ENOENT), a missing one too */
TEST(missing_fields_and_files)
{
	struct netstat a, b;

	write_file("TcpExt: SyncookiesSent\nTcpExt: 1\n");
	ASSERT_OK(netstat_read(path, &a), "read");
	ASSERT_EQ(a.seen, 1, "only SyncookiesSent seen");
	b = a;
	b.v[1] = 100; /* not seen: never compared */
	ASSERT_EQ(netstat_trouble(&a, &b), 0, "a field not seen");
	write_file("IpExt: InNoRoutes\nIpExt: 1\n");
	ASSERT_EQ(netstat_read(path, &a), -ENOENT, "no TcpExt");
	unlink(path);
	ASSERT_EQ(netstat_read(path, &a), -ENOENT, "no file");
}

int main(int argc, char **argv)
{
	int rc;

	snprintf(path, sizeof(path), "/tmp/mg-netstat-%d", getpid());
	rc = test_main(argc, argv, NULL, NULL);
	unlink(path);
	return rc;
}
