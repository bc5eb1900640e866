// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* placeholder: replaced by its own issue's work */
#include <errno.h>
#include <stdio.h>
#include "mailgate.h"

int dnsbl_sites_check(const char *sites, char *err, size_t errlen)
{
	if (!*sites)
		return 0;
	snprintf(err, errlen, "DNSBL sites are not supported yet");
	return -EINVAL;
}
struct dnsbl *dnsbl_start(const struct mg_settings *s, struct gate *g) { return NULL; }
void dnsbl_submit(struct dnsbl *d, const struct mg_addr *a) {}
int dnsbl_reload(struct dnsbl *d, const struct mg_settings *s) { return 0; }
void dnsbl_stop(struct dnsbl *d) {}
int do_dnsbl(int argc, char **argv) { return fail(EXIT_FAIL, "%s: not built yet", argv[0]); }
int dnsbl_cached(const char *pin_dir, const struct mg_addr *a, struct json_object *zones) { return 0; }
void dnsbl_metrics_write(struct dnsbl *d, FILE *f) {}
