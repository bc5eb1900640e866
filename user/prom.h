/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* prom.c: the Prometheus text format writer (exposition format 0.0.4), for
 * every module's families (metrics.c, dnsbl_metrics_write,
 * crowdsec_metrics_write). */
#ifndef MAILGATE_PROM_H
#define MAILGATE_PROM_H

#include <stdint.h>
#include <stdio.h>

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram) */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);
/* a label value, escaped (\\, \", \n), without the quotes */
void metrics_label(FILE *f, const char *value);
/* the samples of one histogram: name_bucket{labels,le=...} cumulated from
 * per-bucket counts (counts[i] observations <= bounds[i], counts[n] above
 * the last bound), then name_sum and name_count. labels: "" or already
 * escaped pairs, e.g. zone="zen.spamhaus.org" */
void metrics_histogram(FILE *f, const char *name, const char *labels, const double *bounds,
		       const uint64_t *counts, int n, double sum);

#endif /* MAILGATE_PROM_H */
