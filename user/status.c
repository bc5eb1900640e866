// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate status`: attached interfaces and programs, the config in effect
 * (read back from the mg_config and mg_ports maps, in the config file's key
 * names), flood mode, and how full each map is.
 *
 * The daemon pins its links next to the maps: <pin_dir>/link_xdp_<ifname>
 * for each interface and <pin_dir>/link_sock_state for the TCP state
 * tracer; status reads them with bpf_obj_get(). */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "cli.h"
#include "crowdsec.h"
#include "cli.h"
#include "rules.h"

#define LINK_XDP_PREFIX "link_xdp_"
#define LINK_SOCK_STATE "link_sock_state"

struct prog_desc {
	uint32_t id;
	char name[BPF_OBJ_NAME_LEN];
	uint64_t loaded_ago_ns;
};

static void prog_describe(uint32_t id, struct prog_desc *p, uint64_t now)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	memset(p, 0, sizeof(*p));
	p->id = id;
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		snprintf(p->name, sizeof(p->name), "%s", info.name);
		/* load_time is CLOCK_BOOTTIME in ns */
		p->loaded_ago_ns = now > info.load_time ? now - info.load_time : 0;
	}
	close(fd);
}

static int link_info(const char *path, struct bpf_link_info *info)
{
	uint32_t len = sizeof(*info);
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	close(fd);
	return err;
}

/* how the program is attached to ifindex in this network namespace */
static const char *xdp_mode(uint32_t ifindex, uint32_t prog_id, const char *pinned_name)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[IF_NAMESIZE];

	if (!ifindex)
		return "gone (interface removed)";
	if (!if_indextoname(ifindex, name) || strcmp(name, pinned_name))
		return "unknown (interface in another network namespace?)";
	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	if (q.drv_prog_id == prog_id)
		return "native";
	if (q.skb_prog_id == prog_id)
		return "generic";
	if (q.hw_prog_id == prog_id)
		return "offload";
	return "not attached";
}

/* A running daemon holds flock(LOCK_EX) on the pin dir (daemon.c). Read
 * /proc/locks rather than probing with flock(): a probe could make a `run`
 * starting at that moment fail to get its lock. Returns the pid or 0. */
static int daemon_pid(const char *pin_dir)
{
	char line[256], type[16];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	int pid, found = 0;
	FILE *f;

	if (stat(pin_dir, &st) || !(f = fopen("/proc/locks", "r")))
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &pid, &maj, &min, &ino) == 5 &&
		    !strcmp(type, "FLOCK") && ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
			found = pid;
	fclose(f);
	return found;
}

/* the data path's action is reset (its pinned config; in this namespace,
 * where the interfaces' ifindexes mean what they say) */
static bool action_is_reset(const char *pin_dir)
{
	char path[PATH_MAX];
	struct mg_config c;
	struct stat st;
	uint32_t zero = 0;
	bool r = false;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, gate_map_names[GM_CONFIG]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	if (!bpf_map_lookup_elem(fd, &zero, &c) && c.action == MG_ACTION_RESET &&
	    !stat("/proc/self/ns/net", &st) && (uint32_t)st.st_ino == (uint32_t)c.netns_ino)
		r = true;
	close(fd);
	return r;
}

/* the note when VLAN clients behind ifindex get no cookie-correct SYN-ACK */
static void vlan_line(struct json_object *o, char *notes, size_t len, const char *ifname, uint32_t ifindex,
		      uint32_t prog_id)
{
	char note[400];
	bool bound = gate_prog_id_dev_bound(prog_id);

	json_object_object_add(o, "device_bound", json_object_new_boolean(bound));
	if (!gate_vlan_note(ifindex, bound, note, sizeof(note)))
		return;
	json_object_object_add(o, "vlan_note", json_object_new_string(note));
	snprintf(notes + strlen(notes), len - strlen(notes), "  %s: %s\n", ifname, note);
}

static void show_links(const char *pin_dir, struct json_object *doc, uint64_t now)
{
	struct json_object *ifs = json_object_new_array(), *tr = NULL;
	struct table *t = table_new(6, (1u << 1) | (1u << 3) | (1u << 4));
	struct bpf_link_info info;
	struct prog_desc p;
	char path[PATH_MAX], a[32], b[32], c[32], d[48];
	struct dirent *de;
	DIR *dir = opendir(pin_dir);
	char note[320], notes[2048] = "";
	bool reset = action_is_reset(pin_dir);
	int n = 0;
	bool twin;

	table_row(t, "INTERFACE", "IFINDEX", "MODE", "PROG ID", "LINK ID", "PROGRAM");
	while (dir && (de = readdir(dir))) {
		const char *ifname = de->d_name + strlen(LINK_XDP_PREFIX);
		const char *mode;
		struct json_object *o;

		if (strncmp(de->d_name, LINK_XDP_PREFIX, strlen(LINK_XDP_PREFIX)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (link_info(path, &info) || info.type != BPF_LINK_TYPE_XDP)
			continue;
		mode = xdp_mode(info.xdp.ifindex, info.prog_id, ifname);
		prog_describe(info.prog_id, &p, now);
		snprintf(a, sizeof(a), "%u", info.xdp.ifindex);
		snprintf(b, sizeof(b), "%u", info.prog_id);
		snprintf(c, sizeof(c), "%u", info.id);
		snprintf(d, sizeof(d), "%s, loaded %s ago", p.name[0] ? p.name : "?",
			 format_duration(p.loaded_ago_ns, path, sizeof(path)));
		table_row(t, ifname, a, mode, b, c, d);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(ifname));
		json_object_object_add(o, "ifindex", json_object_new_int64(info.xdp.ifindex));
		json_object_object_add(o, "mode", json_object_new_string(mode));
		json_object_object_add(o, "prog_id", json_object_new_int64(info.prog_id));
		json_object_object_add(o, "link_id", json_object_new_int64(info.id));
		json_object_object_add(o, "prog_name", json_object_new_string(p.name));
		json_object_object_add(o, "loaded_s_ago", json_object_new_int64(p.loaded_ago_ns / NSEC_PER_SEC));
		if (reset && reset_veth_note(info.xdp.ifindex, !strcmp(mode, "generic"), note, sizeof(note))) {
			json_object_object_add(o, "reset_note", json_object_new_string(note));
			snprintf(notes + strlen(notes), sizeof(notes) - strlen(notes), "  %s: %s\n", ifname, note);
		}
		if (!strncmp(mode, "native", 6) || !strcmp(mode, "generic")) /* rx VLAN offload, and no tag metadata */
			vlan_line(o, notes, sizeof(notes), ifname, info.xdp.ifindex, info.prog_id);
		json_object_array_add(ifs, o);
		n++;
	}
	if (dir)
		closedir(dir);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, MG_PIN_LINK_SOCK_STATE2);
	twin = !access(path, F_OK);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, LINK_SOCK_STATE);
	if (!link_info(path, &info)) {
		prog_describe(info.prog_id, &p, now);
		tr = json_object_new_object();
		json_object_object_add(tr, "prog_id", json_object_new_int64(info.prog_id));
		json_object_object_add(tr, "link_id", json_object_new_int64(info.id));
		json_object_object_add(tr, "prog_name", json_object_new_string(p.name));
		json_object_object_add(tr, "twin", json_object_new_boolean(twin));
	}
	if (opts.json) {
		json_object_object_add(doc, "interfaces", ifs);
		json_object_object_add(doc, "sock_state_link", tr);
	} else {
		printf("interfaces:\n");
		if (n)
			table_print(t, stdout, 2);
		else
			printf("  none attached (no %s* link pinned under %s)\n", LINK_XDP_PREFIX, pin_dir);
		fputs(notes, stdout);
		if (tr)
			printf("  connection tracking: %s, prog id %u, link id %u%s\n", p.name[0] ? p.name : "?",
			       info.prog_id, info.id, twin ? " (and its twin)" : " (its twin " MG_PIN_LINK_SOCK_STATE2 " is missing: a transition the kernel skips it for is lost)");
		else
			printf("  connection tracking: not attached (no %s pin): concurrent limits see no connections\n",
			       LINK_SOCK_STATE);
		json_object_put(ifs);
		json_object_put(tr);
	}
	table_free(t);
}

/* the gated ports, grouped by class: "smtp 25; submission 465 587" */
static void ports_text(const uint8_t *ports, char *buf, size_t len, struct json_object *arr)
{
	size_t off = 0;

	buf[0] = 0;
	for (int c = 1; c < MG_CLASS_MAX; c++) {
		bool any = false;

		for (uint32_t p = 1; p < 65536; p++) {
			if (ports[p] != c)
				continue;
			if (off < len)
				off += snprintf(buf + off, len - off, "%s%s%s%u", off ? (any ? ", " : "; ") : "",
						any ? "" : mg_class_names[c], any ? "" : " ", p);
			any = true;
			if (arr) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "port", json_object_new_int(p));
				json_object_object_add(o, "class", json_object_new_string(mg_class_names[c]));
				json_object_array_add(arr, o);
			}
		}
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

static void kv(struct table *t, struct json_object *o, const char *key, const char *text, struct json_object *val)
{
	table_row(t, key, text);
	json_object_object_add(o, key, val);
}

static void u32_kv(struct table *t, struct json_object *o, const char *key, uint32_t v, const char *zero)
{
	char buf[64];

	if (v || !zero)
		snprintf(buf, sizeof(buf), "%u", v);
	else
		snprintf(buf, sizeof(buf), "0 (%s)", zero);
	kv(t, o, key, buf, json_object_new_int64(v));
}

/* syn_rate and syn_burst as the config writes them (the plain value, then
 * the classes of their own); JSON: the plain values, and each class's in
 * effect under syn_rate_class / syn_burst_class */
static void syn_kv(struct table *t, struct json_object *o, const struct mg_config *c)
{
	struct json_object *jr = json_object_new_object(), *jb = json_object_new_object();
	char rate[256], burst[256], r[32];
	size_t ro, bo;

	ro = snprintf(rate, sizeof(rate), "%s", format_rate(c->syn_interval_ns, r, sizeof(r)));
	bo = snprintf(burst, sizeof(burst), "%u", c->syn_burst);
	for (int cl = MG_CLASS_NONE + 1; cl < MG_CLASS_MAX; cl++) {
		if (c->syn_rate_classes >> cl & 1)
			ro += snprintf(rate + ro, ro < sizeof(rate) ? sizeof(rate) - ro : 0, ", %s:%s", mg_class_names[cl],
				       format_rate(c->syn_class_interval_ns[cl], r, sizeof(r)));
		if (c->syn_burst_classes >> cl & 1)
			bo += snprintf(burst + bo, bo < sizeof(burst) ? sizeof(burst) - bo : 0, ", %s:%u", mg_class_names[cl],
				       c->syn_class_burst[cl]);
		json_object_object_add(jr, mg_class_names[cl], json_rate(mg_syn_interval(c, cl)));
		json_object_object_add(jb, mg_class_names[cl], json_object_new_int64(mg_syn_burst(c, cl)));
	}
	kv(t, o, "syn_rate", rate, json_rate(c->syn_interval_ns));
	kv(t, o, "syn_burst", burst, json_object_new_int64(c->syn_burst));
	json_object_object_add(o, "syn_rate_class", jr);
	json_object_object_add(o, "syn_burst_class", jb);
}

static void show_config(struct gate *g, struct json_object *doc)
{
	struct json_object *o = json_object_new_object(), *parr = json_object_new_array();
	struct table *t = table_new(2, 0);
	uint8_t *ports = calloc(65536, 1);
	struct mg_config c;
	char buf[1024], d[32];

	if (gate_read_config(g, &c)) {
		printf("config: cannot read %s: %s\n", gate_map_names[GM_CONFIG], strerror(errno));
		free(ports);
		table_free(t);
		json_object_put(o);
		json_object_put(parr);
		return;
	}
	/* 65536 one-byte lookups are quick enough, and need no batch support */
	for (uint32_t p = 0; ports && p < 65536; p++)
		bpf_map_lookup_elem(g->fd[GM_PORTS], &p, &ports[p]);
	if (ports)
		ports_text(ports, buf, sizeof(buf), parr);
	kv(t, o, "ports", buf, parr);
	kv(t, o, "mode", c.mode == MG_MODE_OBSERVE ? "observe (dry run: drops are counted, not done)" : "enforce",
	   json_object_new_string(c.mode == MG_MODE_OBSERVE ? "observe" : "enforce"));
	kv(t, o, "action", c.action == MG_ACTION_RESET ? "reset" : "drop",
	   json_object_new_string(c.action == MG_ACTION_RESET ? "reset" : "drop"));
	kv(t, o, "unparsed", c.unparsed == MG_UNPARSED_PASS ? "pass" : "drop",
	   json_object_new_string(c.unparsed == MG_UNPARSED_PASS ? "pass" : "drop"));
#define RATE_KV(key, iv) kv(t, o, key, format_rate(iv, buf, sizeof(buf)), json_rate(iv))
#define U32_KV(key, v, zero) u32_kv(t, o, key, v, zero)
#define DUR_KV(key, ns) kv(t, o, key, format_duration(ns, d, sizeof(d)), json_object_new_double((double)(ns) / NSEC_PER_SEC))
	syn_kv(t, o, &c);
	U32_KV("prefix_v4", c.prefix_v4, NULL);
	U32_KV("prefix_v6", c.prefix_v6, NULL);
	RATE_KV("prefix_rate", c.prefix_interval_ns);
	U32_KV("prefix_burst", c.prefix_burst, NULL);
	{
		struct json_object *mc = json_object_new_object();
		size_t off = 0;

		buf[0] = 0;
		for (int cl = MG_CLASS_NONE + 1; cl < MG_CLASS_MAX; cl++) {
			off += snprintf(buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0, "%s%s:%u",
					off ? ", " : "", mg_class_names[cl], c.max_concurrent[cl]);
			json_object_object_add(mc, mg_class_names[cl], json_object_new_int64(c.max_concurrent[cl]));
		}
		kv(t, o, "max_concurrent", buf, mc);
	}
	kv(t, o, "ban_concurrent", c.ban_concurrent ? "yes" : "no", json_object_new_boolean(c.ban_concurrent));
	U32_KV("max_total_concurrent", c.max_total_concurrent, "off");
	U32_KV("ban_after", c.ban_after, "never ban");
	DUR_KV("ban_window", c.ban_window_ns);
	U32_KV("ban_evidence", c.ban_evidence, NULL);
	DUR_KV("ban_time", c.ban_time_ns);
	DUR_KV("ban_time_max", c.ban_time_max_ns);
	RATE_KV("flood_threshold", c.flood_interval_ns);
	RATE_KV("flood_budget", c.flood_budget_interval_ns);
	DUR_KV("flood_hold", c.flood_hold_ns ? c.flood_hold_ns : MG_FLOOD_HOLD_NS);
	kv(t, o, "flood_action", c.flood_action == MG_FLOOD_COOKIE ? "cookie" : "drop",
	   json_object_new_string(c.flood_action == MG_FLOOD_COOKIE ? "cookie" : "drop"));
	kv(t, o, "dnsbl", c.dnsbl_enabled ? "on" : "off (no [dnsbl] sites)", json_object_new_boolean(c.dnsbl_enabled));
	if (c.dnsbl_enabled) {
		snprintf(buf, sizeof(buf), "%d", c.dnsbl_threshold);
		kv(t, o, "threshold", buf, json_object_new_int(c.dnsbl_threshold));
		kv(t, o, "pending", c.pending == MG_PENDING_HOLD ? "hold" : "pass",
		   json_object_new_string(c.pending == MG_PENDING_HOLD ? "hold" : "pass"));
	}
	{
		/* the daemon's heartbeat: without it nobody answers DNSBL questions */
		struct mg_ctl ctl = { 0 };
		uint64_t now = now_boot_ns();
		bool alive = !gate_read_ctl(g, &ctl) && ctl.alive_until_ns > now;

		if (alive)
			snprintf(buf, sizeof(buf), "fresh%s", c.dnsbl_enabled ? ": DNSBL questions are asked" : "");
		else if (!ctl.alive_until_ns)
			snprintf(buf, sizeof(buf), "none yet%s", c.dnsbl_enabled ? ": the DNSBL step is skipped (pass_unasked)" : "");
		else
			snprintf(buf, sizeof(buf), "stale for %s%s",
				 format_duration(now - ctl.alive_until_ns, d, sizeof(d)),
				 c.dnsbl_enabled ? ": the DNSBL step is skipped (pass_unasked)" : "");
		kv(t, o, "heartbeat", buf, json_object_new_boolean(alive));
	}
#undef RATE_KV
#undef U32_KV
#undef DUR_KV
	if (opts.json) {
		json_object_object_add(doc, "config", o);
	} else {
		printf("\nconfig in effect:\n");
		table_print(t, stdout, 2);
		json_object_put(o);
	}
	table_free(t);
	free(ports);
}

/* the kernel's SYN trouble the daemon last reported (mg_ctl) */
static void show_trouble(struct gate *g, uint64_t now)
{
	struct mg_ctl ctl = { 0 };
	char d[32], kern[96];

	gate_read_ctl(g, &ctl);
	printf("\nkernel SYN trouble: ");
	if (!ctl.trouble_ns)
		printf("none reported");
	else
		printf("%s %s ago%s", trouble_names(ctl.trouble, kern, sizeof(kern)),
		       format_duration(now > ctl.trouble_ns ? now - ctl.trouble_ns : 0, d, sizeof(d)),
		       now - ctl.trouble_ns < MG_TROUBLE_NS ? " (holds: fewer forged SYNs engage flood mode)" : "");
}

static void show_global(struct gate *g, struct json_object *doc, uint64_t now)
{
	struct mg_global gl = { 0 };
	uint32_t zero = 0;
	char d[32], kern[96];

	bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, &gl);
	if (opts.json) {
		json_object_object_add(doc, "flood_mode", json_object_new_boolean(gl.flood_mode));
		json_object_object_add(doc, "flood_why", gl.flood_entries ?
				       json_object_new_string(flood_why_name(gl.flood_why)) : NULL);
		json_object_object_add(doc, "flood_kernel", gl.flood_entries ?
			json_object_new_string(trouble_names(gl.flood_kernel, kern, sizeof(kern))) : NULL);
		json_object_object_add(doc, "flood_changed_s_ago", gl.flood_changed_ns ?
			json_object_new_int64(now > gl.flood_changed_ns ? (now - gl.flood_changed_ns) / NSEC_PER_SEC : 0)
			: NULL);
		{
			struct mg_ctl ctl = { 0 };

			gate_read_ctl(g, &ctl);
			json_object_object_add(doc, "kernel_trouble", ctl.trouble_ns ?
				json_object_new_string(trouble_names(ctl.trouble, kern, sizeof(kern))) : NULL);
			json_object_object_add(doc, "kernel_trouble_s_ago", ctl.trouble_ns ?
				json_object_new_double(now > ctl.trouble_ns ? (now - ctl.trouble_ns) / 1e9 : 0) : NULL);
		}
		json_object_object_add(doc, "events_lost", json_object_new_int64(gl.events_lost));
		json_object_object_add(doc, "cookie_acks", json_object_new_int64(gl.cookie_acks));
		json_object_object_add(doc, "cookie_refused", json_object_new_int64(gl.cookie_refused));
		return;
	}
	printf("\nflood mode: %s", gl.flood_mode ? "ON" : "off");
	if (gl.flood_mode)
		printf(" (why: %s)", flood_why_text(gl.flood_why));
	if (gl.flood_mode && gl.flood_kernel)
		printf(" (the kernel: %s)", trouble_names(gl.flood_kernel, kern, sizeof(kern)));
	if (gl.flood_changed_ns)
		printf(" (since %s ago)", format_duration(now > gl.flood_changed_ns ? now - gl.flood_changed_ns : 0,
							   d, sizeof(d)));
	show_trouble(g, now);
	printf("\nevents lost: %llu (DNSBL query events not sent: budget or ring buffer full)\n",
	       (unsigned long long)gl.events_lost);
	printf("SYN cookies: %llu handshakes completed by the kernel, %llu refused\n",
	       (unsigned long long)gl.cookie_acks, (unsigned long long)gl.cookie_refused);
}

/* the CrowdSec bouncer, as the daemon last wrote its state (crowdsec.c) */
static void show_crowdsec(bool daemon, struct json_object *doc)
{
	struct crowdsec_state cs;
	struct json_object *o;
	struct timespec ts;
	uint64_t now_ms, ago_ms;
	char d[32];
	bool on;

	if (crowdsec_state_read(opts.pin_dir, &cs))
		memset(&cs, 0, sizeof(cs));
	on = daemon && cs.st.running;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	ago_ms = cs.st.last_ok_unix_ms && now_ms > cs.st.last_ok_unix_ms ? now_ms - cs.st.last_ok_unix_ms : 0;
	if (opts.json) {
		o = json_object_new_object();
		json_object_object_add(o, "running", json_object_new_boolean(on));
		json_object_object_add(o, "up", json_object_new_boolean(on && cs.st.up));
		json_object_object_add(o, "lapi_url", on ? json_object_new_string(cs.url) : NULL);
		json_object_object_add(o, "last_poll_ok_s_ago", on && cs.st.last_ok_unix_ms ?
				       json_object_new_double(ago_ms / 1e3) : NULL);
		json_object_object_add(o, "bans", json_object_new_int64(cs.st.bans));
		json_object_object_add(o, "denies", json_object_new_int64(cs.st.denies));
		json_object_object_add(o, "shadowed", json_object_new_int64(cs.st.shadowed));
		json_object_object_add(o, "applied", json_object_new_int64(cs.st.applied));
		json_object_object_add(o, "removed", json_object_new_int64(cs.st.removed));
		json_object_object_add(doc, "crowdsec", o);
		return;
	}
	if (!on) {
		printf("\ncrowdsec: off (no [crowdsec] lapi_url%s)\n", daemon ? "" : ", or no daemon running");
		return;
	}
	printf("\ncrowdsec: %s, %s", cs.st.up ? "up" : "AWAY (retrying; the entries stay)", cs.url);
	if (cs.st.last_ok_unix_ms)
		printf(", last poll ok %s ago", format_duration(ago_ms * 1000000ULL, d, sizeof(d)));
	else
		printf(", no successful poll yet");
	printf("\n  %llu bans, %llu deny ranges, %llu shadowed by other origins; %llu decisions applied, %llu removed\n",
	       (unsigned long long)cs.st.bans, (unsigned long long)cs.st.denies, (unsigned long long)cs.st.shadowed,
	       (unsigned long long)cs.st.applied, (unsigned long long)cs.st.removed);
}

/* every map of the census, in gate_map order: entries and fill for the
 * hash maps and tries (counted), type and capacity for all */
static void show_maps(struct gate *g, struct json_object *doc)
{
	struct json_object *arr = json_object_new_array();
	struct table *t = table_new(5, (1u << 2) | (1u << 3) | (1u << 4));
	char e[32], m[32], f[32];
	struct census c;

	if (census_read(g, &c))
		memset(&c, 0, sizeof(c));
	table_row(t, "MAP", "TYPE", "ENTRIES", "CAPACITY", "FILL");
	for (int i = 0; i < GM_MAX; i++) {
		uint64_t n = c.entries[i], max = c.capacity[i];
		const char *type = libbpf_bpf_map_type_str(c.type[i]);
		struct json_object *o;

		if (!c.type[i])
			continue;
		format_count(n, e, sizeof(e));
		format_count(max, m, sizeof(m));
		snprintf(f, sizeof(f), "%.1f%%", max ? 100.0 * n / max : 0);
		table_row(t, gate_map_names[i], type ? type : "?", c.counted[i] ? e : "-", m, c.counted[i] ? f : "-");
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(gate_map_names[i]));
		json_object_object_add(o, "type", json_object_new_string(type ? type : "?"));
		/* null: a map that holds no count of entries (an array is always full) */
		json_object_object_add(o, "entries", c.counted[i] ? json_object_new_int64(n) : NULL);
		json_object_object_add(o, "capacity", json_object_new_int64(max));
		json_object_array_add(arr, o);
	}
	if (opts.json) {
		json_object_object_add(doc, "maps", arr);
	} else {
		printf("\nmaps:\n");
		table_print(t, stdout, 2);
		json_object_put(arr);
	}
	table_free(t);
}

const struct cli_cmd cli_status = { "status", NULL, "the gate's interfaces, config, maps and counters", NULL };

int do_status(int argc, char **argv)
{
	struct json_object *doc;
	struct gate g;
	uint64_t now;
	int rc, pid, npos;

	rc = cli_parse(&cli_status, argc, argv, NULL, &npos);
	if (rc != CLI_GO)
		return rc;
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	doc = json_object_new_object();
	now = now_boot_ns();
	json_object_object_add(doc, "pin_dir", json_object_new_string(opts.pin_dir));
	json_object_object_add(doc, "version", json_object_new_string(MG_VERSION));
	pid = daemon_pid(opts.pin_dir);
	json_object_object_add(doc, "daemon_pid", pid ? json_object_new_int(pid) : NULL);
	if (!opts.json) {
		printf("mailgate %s, state under %s\n", MG_VERSION, opts.pin_dir);
		if (pid)
			printf("daemon: running, pid %d\n\n", pid);
		else
			printf("daemon: not running (the attached programs and the maps work without it;\n"
			       "        DNSBL lookups, expiry sweeps and metrics do not)\n\n");
	}
	show_links(opts.pin_dir, doc, now);
	show_config(&g, doc);
	show_global(&g, doc, now);
	show_crowdsec(pid != 0, doc);
	show_maps(&g, doc);
	if (opts.json)
		json_out(doc);
	else
		json_object_put(doc);
	gate_close(&g);
	return EXIT_OK;
}
