/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The record bpf/census.bpf.c writes per map and user/census.c reads. */
#ifndef MAILGATE_CENSUS_H
#define MAILGATE_CENSUS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct census_rec {
	__u32 id;      /* map id */
	__u32 pad;
	__s64 entries; /* entries the map holds now */
};

#endif /* MAILGATE_CENSUS_H */
