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
void rm_dir(const char *dir);

/* name is PREFIX<pid> of a run that is over: its process is gone, or it is
 * this process (an earlier one had the same pid) */
bool left_behind(const char *name, const char *prefix);

/* rm_dir every parent/PREFIX<pid> left behind */
void rm_left_behind(const char *parent, const char *prefix);

#endif /* MAILGATE_CLEANUP_H */
