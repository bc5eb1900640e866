// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Least privilege for the daemon: once the programs are loaded and attached,
 * a thread keeps only MG_RUNTIME_CAPS (capset(2) directly: capabilities are
 * per thread, so every thread that exists by then drops its own, and threads
 * started later inherit the reduced sets). */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "mailgate.h"

static int caps_get(struct __user_cap_data_struct *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &h, c) ? -errno : 0;
}

uint64_t caps_effective(void)
{
	struct __user_cap_data_struct c[2] = {};

	if (caps_get(c))
		return 0;
	return (uint64_t)c[1].effective << 32 | c[0].effective;
}

int caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2] = {};
	uint64_t perm;
	int err;

	err = caps_get(c);
	if (err)
		return err;
	perm = ((uint64_t)c[1].permitted << 32 | c[0].permitted) & keep;
	/* the bounding set first (that needs CAP_SETPCAP, dropped below); an
	 * uid 0 that execs regains nothing beyond it */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		c[i].permitted = (uint32_t)(perm >> (32 * i));
		c[i].effective = c[i].permitted;
		c[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, c))
		return -errno;
	return 0;
}

const char *caps_names(uint64_t set, char *buf, size_t len)
{
	static const struct { int cap; const char *name; } names[] = {
		{ CAP_CHOWN, "chown" }, { CAP_DAC_OVERRIDE, "dac_override" },
		{ CAP_DAC_READ_SEARCH, "dac_read_search" }, { CAP_FOWNER, "fowner" },
		{ CAP_KILL, "kill" }, { CAP_SETUID, "setuid" }, { CAP_SETGID, "setgid" },
		{ CAP_SETPCAP, "setpcap" }, { CAP_NET_BIND_SERVICE, "net_bind_service" },
		{ CAP_NET_ADMIN, "net_admin" }, { CAP_NET_RAW, "net_raw" }, { CAP_IPC_LOCK, "ipc_lock" },
		{ CAP_SYS_MODULE, "sys_module" }, { CAP_SYS_PTRACE, "sys_ptrace" },
		{ CAP_SYS_ADMIN, "sys_admin" }, { CAP_SYS_RESOURCE, "sys_resource" },
		{ CAP_PERFMON, "perfmon" }, { CAP_BPF, "bpf" },
	};
	size_t off = 0;
	int others = 0;

	buf[0] = 0;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		const char *n = NULL;

		if (!(set & (1ULL << cap)))
			continue;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (names[i].cap == cap)
				n = names[i].name;
		if (!n) {
			others++;
			continue;
		}
		if (off < len)
			off += snprintf(buf + off, len - off, "%s%s", off ? "," : "", n);
	}
	if (others && off < len)
		snprintf(buf + off, len - off, "%s+%d more", off ? "," : "", others);
	if (!set)
		snprintf(buf, len, "none");
	return buf;
}
