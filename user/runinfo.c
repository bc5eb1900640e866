// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What a running daemon tells the CLI about itself, in a pinned map of its
 * pin dir (MG_PIN_RUN_CONFIG: one entry, the config file's absolute path, ""
 * for the built-in defaults): `dnsbl check` without -c uses the zones the
 * daemon runs with. A pin, not a file: it lives and goes with the pin dir
 * (`detach`), and two daemons on two pin dirs never share it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "mailgate.h"

#define RUN_CONFIG_LEN PATH_MAX

int run_config_record(const char *pin_dir, const char *config)
{
	static char val[RUN_CONFIG_LEN];
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, err = 0;

	memset(val, 0, sizeof(val));
	if (config && !realpath(config, val))
		snprintf(val, sizeof(val), "%s", config);
	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, MG_PIN_RUN_CONFIG) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, MG_PIN_RUN_CONFIG, 4, sizeof(val), 1, NULL);
		if (fd < 0)
			return -errno;
		if (bpf_obj_pin(fd, path))
			err = -errno;
	}
	if (!err && bpf_map_update_elem(fd, &zero, val, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int run_config_read(const char *pin_dir, char *buf, size_t len)
{
	static char val[RUN_CONFIG_LEN];
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, err = 0;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, MG_PIN_RUN_CONFIG) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, val))
		err = -errno;
	close(fd);
	if (err)
		return err;
	val[sizeof(val) - 1] = 0;
	snprintf(buf, len, "%s", val);
	return 0;
}
