/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What a test run leaves behind: flat directories named PREFIX<pid> (pin
 * dirs under /sys/fs/bpf, file dirs under /tmp). A run removes its own at
 * the end; one that was killed halfway leaves them, and the next run removes
 * those whose process is gone. */
#ifndef MAILGATE_CLEANUP_H
#define MAILGATE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the files in dir (pinned maps and links too), then dir */
static inline void rm_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* name is PREFIX<pid> of a run that is over: its process is gone, or it is
 * this process (an earlier one had the same pid) */
static inline bool left_behind(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	int pid;

	if (strncmp(name, prefix, n))
		return false;
	pid = atoi(name + n);
	return pid > 0 && (pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH));
}

/* rm_dir every parent/PREFIX<pid> left behind */
static inline void rm_left_behind(const char *parent, const char *prefix)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(parent);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!left_behind(e->d_name, prefix))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", parent, e->d_name) < (int)sizeof(path))
			rm_dir(path);
	}
	closedir(d);
}

#endif /* MAILGATE_CLEANUP_H */
