/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The CrowdSec bouncer (user/crowdsec.c): the daemon as a bouncer of a
 * CrowdSec Local API. Its settings are [crowdsec] in struct mg_settings, its
 * counters struct crowdsec_stats in struct mg_runtime (mailgate.h). */
#ifndef MAILGATE_CROWDSEC_H
#define MAILGATE_CROWDSEC_H

#include "mailgate.h"

/* pinned next to the maps by the daemon: array[1] of struct crowdsec_state,
 * what `mailgate status` shows of the bouncer */
#define MG_MAP_CROWDSEC "mg_crowdsec"
struct crowdsec_state {
	struct crowdsec_stats st;
	uint64_t updated_unix_ms; /* when the daemon last wrote this */
	uint64_t poll_ns;
	char url[512];            /* lapi_url ("" = the bouncer is off) */
};

#define CS_POLL_MIN_NS     (1 * NSEC_PER_SEC)
#define CS_POLL_MAX_NS     (3600 * NSEC_PER_SEC)
#define CS_BACKOFF_MIN_NS  (1 * NSEC_PER_SEC)   /* first retry after a failed poll ... */
#define CS_BACKOFF_MAX_NS  (60 * NSEC_PER_SEC)  /* ... doubling up to this (or poll, if longer) */
#define CS_RESYNC_NS       (60 * NSEC_PER_SEC)  /* every entry checked against the maps again */

/* [crowdsec] values: 0, or -EINVAL with the reason in err */
int crowdsec_url_check(const char *url, char *err, size_t errlen);
int crowdsec_key_check(const char *key, char *err, size_t errlen);
/* the lapi_url, api_key and poll settings differ (a SIGHUP restarts the bouncer) */
bool crowdsec_settings_changed(const struct mg_settings *a, const struct mg_settings *b);

/* Start the bouncer thread for s (s->crowdsec_url set); NULL on failure (logged). */
struct crowdsec;
struct crowdsec *crowdsec_start(const struct mg_settings *s, struct gate *g, struct crowdsec_stats *st);
/* Stop and join it (a transfer in flight is aborted); the entries stay. */
void crowdsec_stop(struct crowdsec *c);
/* Prometheus families mailgate_crowdsec_* */
void crowdsec_metrics_write(const struct crowdsec_stats *st, FILE *f);
/* `mailgate status`: the pinned state; 0, or -ENOENT when no daemon ever ran a bouncer here */
int crowdsec_state_read(const char *pin_dir, struct crowdsec_state *out);

/* ---- the parts under the thread, for tests and the bench ---- */
/* Go's time.Duration text ("3h59m58.7s", "-15.4ms", "1h0m0s"): 0 or -EINVAL */
int crowdsec_parse_duration(const char *s, int64_t *ns);
/* A bouncer without thread and HTTP: decisions go in as stream answers. */
struct crowdsec *crowdsec_new(struct gate *g, struct crowdsec_stats *st);
/* One answer of /v1/decisions/stream ({"new": [...], "deleted": [...]}):
 * startup = the complete set (entries of origin crowdsec not in it are
 * removed from the maps). 0, or -EINVAL (bad JSON: nothing changed), or
 * -errno of a map write. */
int crowdsec_apply(struct crowdsec *c, const char *body, size_t len, bool startup);
/* Expired decisions out, shadowed entries tried again; every entry checked
 * against the maps when full is set. */
void crowdsec_maintain(struct crowdsec *c, bool full);
void crowdsec_free(struct crowdsec *c);

#endif /* MAILGATE_CROWDSEC_H */
