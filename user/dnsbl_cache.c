// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The per-zone DNSBL answer cache: two maps the controller creates and pins
 * next to the data path's (MG_MAP_DNSBL_CACHE, MG_MAP_DNSBL_ZONES), so that
 * `mailgate lookup` in another process can say what each zone answered. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "dnsbl.h"

uint32_t dnsbl_zone_id(const char *zone)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)zone; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static int open_or_create(const char *pin_dir, const char *name, enum bpf_map_type type,
			  uint32_t key_size, uint32_t value_size, uint32_t max, bool create)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (!map_info(fd, &info) && info.type == type &&
		    info.key_size == key_size && info.value_size == value_size)
			return fd;
		close(fd);
		if (!create)
			return -EINVAL;
		unlink(path); /* an older layout: start afresh */
	} else if (!create) {
		return -errno;
	}
	fd = bpf_map_create(type, name, key_size, value_size, max, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int dnsbl_cache_open(struct dnsbl_cache *c, const char *pin_dir, bool create)
{
	c->cache_fd = open_or_create(pin_dir, MG_MAP_DNSBL_CACHE, BPF_MAP_TYPE_LRU_HASH,
				     sizeof(struct dnsbl_cache_key), sizeof(struct dnsbl_cache_val),
				     DNSBL_CACHE_ENTRIES, create);
	c->zones_fd = open_or_create(pin_dir, MG_MAP_DNSBL_ZONES, BPF_MAP_TYPE_HASH,
				     sizeof(uint32_t), DNSBL_ZONE_NAME_LEN, DNSBL_ZONES_ENTRIES, create);
	if (c->cache_fd < 0 || c->zones_fd < 0) {
		int err = c->cache_fd < 0 ? c->cache_fd : c->zones_fd;

		dnsbl_cache_close(c);
		return err;
	}
	return 0;
}

void dnsbl_cache_close(struct dnsbl_cache *c)
{
	if (c->cache_fd >= 0)
		close(c->cache_fd);
	if (c->zones_fd >= 0)
		close(c->zones_fd);
	c->cache_fd = c->zones_fd = -1;
}

static int put_zone(int fd, const char *zone)
{
	char name[DNSBL_ZONE_NAME_LEN] = {};
	uint32_t id = dnsbl_zone_id(zone);

	snprintf(name, sizeof(name), "%s", zone);
	return bpf_map_update_elem(fd, &id, name, BPF_ANY) ? -errno : 0;
}

struct zones_walk {
	int fd;
	const struct dnsbl_sites *ss;
};

static int drop_unused_zone(const void *key, const void *value, void *ctx)
{
	const struct zones_walk *w = ctx;
	uint32_t id = *(const uint32_t *)key;

	for (int z = 0; z < w->ss->n_zones; z++)
		if (dnsbl_zone_id(w->ss->zone[z]) == id)
			return 0;
	bpf_map_delete_elem(w->fd, &id);
	return 0;
}

/* The zones map names the zones in use now: `lookup` shows only those. */
int dnsbl_cache_set_zones(struct dnsbl_cache *c, const struct dnsbl_sites *ss)
{
	struct zones_walk w = { c->zones_fd, ss };
	int err;

	if (c->zones_fd < 0)
		return -EBADF;
	err = map_walk(c->zones_fd, drop_unused_zone, &w);
	for (int z = 0; z < ss->n_zones; z++) {
		int r = put_zone(c->zones_fd, ss->zone[z]);

		if (r && !err)
			err = r;
	}
	return err;
}

int dnsbl_cache_put(struct dnsbl_cache *c, const struct mg_addr *a, const char *zone,
		    const struct dnsbl_cache_val *v)
{
	struct dnsbl_cache_key k = { .addr = *a, .zone_id = dnsbl_zone_id(zone) };

	if (c->cache_fd < 0)
		return -EBADF;
	return bpf_map_update_elem(c->cache_fd, &k, v, BPF_ANY) ? -errno : 0;
}

static struct json_object *ip4_json(uint32_t a)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return json_object_new_string(buf);
}

struct cached_walk {
	struct dnsbl_cache *c;
	const struct mg_addr *a;
	struct json_object *zones;
	uint64_t now;
	int n;
};

/* one zone in use: its answer for the source, if cached and fresh */
static int cached_zone(const void *key, const void *value, void *ctx)
{
	struct cached_walk *w = ctx;
	struct dnsbl_cache_key k = { .addr = *w->a, .zone_id = *(const uint32_t *)key };
	struct json_object *o, *ans;
	struct dnsbl_cache_val v;
	char name[DNSBL_ZONE_NAME_LEN];

	if (bpf_map_lookup_elem(w->c->cache_fd, &k, &v) || v.expires_ns <= w->now)
		return 0;
	memcpy(name, value, sizeof(name));
	name[sizeof(name) - 1] = 0;
	o = json_object_new_object();
	ans = json_object_new_array();
	for (int i = 0; i < v.n_answers && i < 4; i++)
		json_object_array_add(ans, ip4_json(v.answers[i]));
	json_object_object_add(o, "zone", json_object_new_string(name));
	json_object_object_add(o, "answer", v.n_answers ? ip4_json(v.answers[0]) : NULL);
	json_object_object_add(o, "answers", ans);
	json_object_object_add(o, "result", json_object_new_string(
		v.result < DR_MAX ? dnsbl_result_names[v.result] : "unknown"));
	json_object_object_add(o, "weight", json_object_new_int(v.weight));
	json_object_object_add(o, "listed", json_object_new_boolean(v.listed));
	json_object_object_add(o, "expires_in_s",
			       json_object_new_int64((v.expires_ns - w->now + NSEC_PER_SEC - 1) / NSEC_PER_SEC));
	json_object_array_add(w->zones, o);
	w->n++;
	return 0;
}

int dnsbl_cached(const char *pin_dir, const struct mg_addr *a, struct json_object *zones)
{
	struct dnsbl_cache c;
	struct cached_walk w = { &c, a, zones, now_boot_ns(), 0 };

	if (dnsbl_cache_open(&c, pin_dir, false))
		return 0;
	map_walk(c.zones_fd, cached_zone, &w);
	dnsbl_cache_close(&c);
	return w.n;
}
