// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/cleanup.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include "cleanup.h"

void rm_dir(const char *dir)
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

bool left_behind(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	int pid;

	if (strncmp(name, prefix, n))
		return false;
	pid = atoi(name + n);
	return pid > 0 && (pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH));
}

void rm_left_behind(const char *parent, const char *prefix)
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
