// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/fixture.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include "gate.skel.h"
#include "fixture.h"

static int fx_on_event(void *ctx, void *data, size_t len)
{
	struct fixture *fx = ctx;
	const struct mg_event *e = data;

	if (len < sizeof(*e) || e->kind >= MG_EVENT_KIND_MAX)
		return 0;
	fx->events[e->kind]++;
	fx->n_events++;
	fx->last[e->kind] = *e;
	return 0;
}

int fx_load(struct fixture *fx, const char *tag, uint32_t max_sources)
{
	struct gate_sizes sz = { .max_sources = max_sources };
	char dir[PATH_MAX];
	int err;

	memset(fx, 0, sizeof(*fx));
	snprintf(dir, sizeof(dir), "mgt-%s-", tag);
	rm_left_behind(FX_BPFFS, dir); /* ours too: a leftover of a pid reused */
	snprintf(dir, sizeof(dir), FX_BPFFS "/mgt-%s-%d", tag, getpid());
	err = gate_load(&fx->g, dir, &sz);
	if (err) {
		fprintf(stdout, "  gate_load %s: %s\n", dir, strerror(-err));
		return err;
	}
	fx->prog = bpf_program__fd(fx->g.skel->progs.mg_xdp);
	fx->rb = ring_buffer__new(fx->g.fd[GM_EVENTS], fx_on_event, fx, NULL);
	if (!fx->rb) {
		err = -errno;
		gate_close(&fx->g);
		rm_dir(dir);
		return err;
	}
	return 0;
}

void fx_unload(struct fixture *fx)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", fx->g.pin_dir);
	ring_buffer__free(fx->rb);
	fx->rb = NULL;
	gate_close(&fx->g);
	if (dir[0])
		rm_dir(dir);
}

int fx_drain(struct fixture *fx)
{
	int before = fx->n_events;

	ring_buffer__consume(fx->rb);
	return fx->n_events - before;
}

int fx_map_clear(int fd, size_t key_size)
{
	uint8_t key[64];
	int n = 0;

	if (key_size > sizeof(key))
		return -EINVAL;
	while (bpf_map_get_next_key(fd, NULL, key) == 0) {
		if (bpf_map_delete_elem(fd, key))
			return -errno;
		n++;
	}
	return n;
}

int fx_array_zero(int fd, uint32_t entries, size_t value_size)
{
	uint8_t zero[256] = {};

	for (uint32_t i = 0; i < entries; i++)
		if (bpf_map_update_elem(fd, &i, zero, BPF_ANY))
			return -errno;
	(void)value_size;
	return 0;
}

void fx_config(struct mg_config *c)
{
	gate_default_config(c);
}

int fx_reset(struct fixture *fx, const struct mg_config *cfg)
{
	static uint8_t ports[65536];
	int err = 0;

	for (int l = 0; l < MG_LISTS; l++) { /* emptied in place (lengths stay published) */
		int fd = list_live_fd(&fx->g, l);

		if (fd >= 0) {
			fx_map_clear(fd, sizeof(struct mg_lpm_key));
			close(fd);
		}
	}
	fx_map_clear(fx->g.fd[GM_BAN], sizeof(struct mg_addr));
	fx_map_clear(fx->g.fd[GM_BAN_QUOTA], sizeof(struct mg_addr));
	fx_map_clear(fx->g.fd[GM_VERDICT], sizeof(struct mg_addr));
	fx_map_clear(fx->g.fd[GM_PENDING], sizeof(struct mg_addr));
	fx_map_clear(fx->g.fd[GM_SRC], sizeof(struct mg_addr));
	fx_map_clear(fx->g.fd[GM_PREFIX], sizeof(struct mg_prefix_key));
	fx_map_clear(fx->g.fd[GM_CONN], sizeof(struct mg_conn_key));
	fx_map_clear(fx->g.fd[GM_VERIFIED], sizeof(struct mg_addr));
	fx_map_clear(fx->g.fd[GM_REJECT], sizeof(struct mg_reject_key));
	fx_array_zero(fx->g.fd[GM_CLASS_CONN], MG_CLASS_MAX, sizeof(uint32_t));
	fx_array_zero(fx->g.fd[GM_GLOBAL], 1, sizeof(struct mg_global));
	gate_default_ports(ports);
	err = err ?: gate_write_ports(&fx->g, ports);
	err = err ?: gate_write_config(&fx->g, cfg);
	/* the tests are the controller: it answers, for as long as they run */
	err = err ?: gate_heartbeat(&fx->g, UINT64_MAX);
	fx_drain(fx);
	memset(fx->events, 0, sizeof(fx->events));
	fx->n_events = 0;
	gate_read_counters(&fx->g, fx->base);
	return err;
}

int fx_run(struct fixture *fx, const void *pkt, uint32_t len, void *out,
	   uint32_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);
	int err;

	if (out) {
		o.data_out = out;
		o.data_size_out = *out_len;
	}
	err = bpf_prog_test_run_opts(fx->prog, &o);
	if (err)
		return -errno;
	if (out_len)
		*out_len = o.data_size_out;
	return (int)o.retval;
}

int fx_syn(struct fixture *fx, const char *src, uint16_t dport)
{
	struct frame f = { .family = strchr(src, ':') ? 6 : 4, .src = src, .dport = dport };
	uint8_t pkt[256];
	size_t len = frame_build(pkt, sizeof(pkt), &f, NULL);

	return fx_run(fx, pkt, len, NULL, NULL);
}

void fx_counters(struct fixture *fx, uint64_t *c)
{
	gate_read_counters(&fx->g, c);
}

uint64_t fx_count(struct fixture *fx, int reason, int class)
{
	uint64_t c[MG_COUNTER_SLOTS];
	uint32_t i = MG_COUNTER_IDX(reason, class);

	gate_read_counters(&fx->g, c);
	return c[i] - fx->base[i];
}

struct mg_addr fx_addr(const char *s)
{
	struct mg_addr a = {};

	if (parse_addr(s, &a))
		fprintf(stdout, "  bad test address %s\n", s);
	return a;
}

int fx_rule_flags(struct fixture *fx, enum gate_map m, const char *cidr, uint64_t expires,
		  uint32_t flags)
{
	struct mg_lpm_key k;
	struct mg_rule r = { .expires_ns = expires, .flags = flags };

	if (parse_cidr(cidr, &k)) {
		fprintf(stdout, "  bad test cidr %s\n", cidr);
		return -EINVAL;
	}
	r.prefixlen = k.prefixlen;
	return list_put(&fx->g, m == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY, &k, &r);
}

int fx_rule(struct fixture *fx, enum gate_map m, const char *cidr, uint64_t expires)
{
	return fx_rule_flags(fx, m, cidr, expires, 0);
}

enum mg_list fx_list(enum gate_map m)
{
	return m == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY;
}

int fx_list_fill(struct fixture *fx, enum gate_map m, const struct mg_lpm_key *k,
		 const struct mg_rule *r, size_t n)
{
	struct list_build b;
	int err = list_build_start(fx_list(m), n, &b);

	err = err ?: list_build_add(&b, k, r, n);
	err = err ?: list_build_publish(&fx->g, &b);
	list_build_abort(&b);
	return err;
}

long fx_list_count(struct fixture *fx, enum gate_map m)
{
	int fd = list_live_fd(&fx->g, fx_list(m));
	long n;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	n = map_count(fd, NULL);
	close(fd);
	return n;
}

int fx_ban(struct fixture *fx, const char *addr, uint64_t expires, uint32_t level,
	   uint64_t created)
{
	struct mg_addr a = fx_addr(addr);
	struct mg_ban b = { .expires_ns = expires, .created_ns = created, .level = level };

	return bpf_map_update_elem(fx->g.fd[GM_BAN], &a, &b, BPF_ANY) ? -errno : 0;
}

int fx_verdict(struct fixture *fx, const char *addr, uint32_t state, uint64_t expires)
{
	struct mg_addr a = fx_addr(addr);
	struct mg_verdict v = { .expires_ns = expires, .state = state };

	return bpf_map_update_elem(fx->g.fd[GM_VERDICT], &a, &v, BPF_ANY) ? -errno : 0;
}

int fx_u32(struct fixture *fx, enum gate_map m, const void *key, uint32_t v)
{
	return bpf_map_update_elem(fx->g.fd[m], key, &v, BPF_ANY) ? -errno : 0;
}

void fx_max_concurrent(struct mg_config *c, uint32_t n)
{
	for (int cl = 0; cl < MG_CLASS_MAX; cl++)
		c->max_concurrent[cl] = cl == MG_CLASS_NONE ? 0 : n;
}

int fx_conn_set(struct fixture *fx, const char *src, uint32_t class, uint32_t n)
{
	struct mg_conn_key k = { .addr = fx_addr(src), .class = class };

	return fx_u32(fx, GM_CONN, &k, n);
}

uint32_t fx_conn(struct fixture *fx, const char *src)
{
	uint32_t total = 0, n;

	for (uint32_t cl = 0; cl < MG_CLASS_MAX; cl++) {
		struct mg_conn_key k = { .addr = fx_addr(src), .class = cl };

		if (!bpf_map_lookup_elem(fx->g.fd[GM_CONN], &k, &n))
			total += n;
	}
	return total;
}

int fx_evidence(struct fixture *fx, const char *src, uint32_t n)
{
	struct mg_addr a = fx_addr(src);
	struct mg_src s = {};

	bpf_map_lookup_elem(fx->g.fd[GM_SRC], &a, &s);
	s.handshakes = (uint64_t)(now_boot_ns() / NSEC_PER_SEC) << 32 | n;
	s.passed_base = s.syns - s.drops;
	return bpf_map_update_elem(fx->g.fd[GM_SRC], &a, &s, BPF_ANY) ? -errno : 0;
}
