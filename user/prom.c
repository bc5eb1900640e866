// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The Prometheus text format (0.0.4): family headers, escaped label values,
 * histograms. Used by every module that writes metrics (metrics.c,
 * dnsbl.c, crowdsec.c); it calls none of them. */
#include <stdint.h>
#include <stdio.h>
#include "prom.h"

void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

void metrics_label(FILE *f, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

void metrics_histogram(FILE *f, const char *name, const char *labels, const double *bounds,
		       const uint64_t *counts, int n, double sum)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t total = 0;

	if (!labels)
		labels = "";
	for (int i = 0; i <= n; i++) {
		total += counts[i];
		if (i < n)
			fprintf(f, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, sep, bounds[i],
				(unsigned long long)total);
		else
			fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				(unsigned long long)total);
	}
	if (*labels) {
		fprintf(f, "%s_sum{%s} %.9g\n", name, labels, sum);
		fprintf(f, "%s_count{%s} %llu\n", name, labels, (unsigned long long)total);
	} else {
		fprintf(f, "%s_sum %.9g\n", name, sum);
		fprintf(f, "%s_count %llu\n", name, (unsigned long long)total);
	}
}
