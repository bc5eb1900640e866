// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/test_synflood_lab.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include "cleanup.h"
#include "gate.skel.h"
#include "test_synflood_lab.h"

char lab_err[8192];

int lab_run(struct lab *l, char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[4096], path[128];
	va_list ap;
	FILE *f;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " >%s/out 2>%s/err", l->tmp, l->tmp);
	st = system(cmd);
	snprintf(path, sizeof(path), "%s/out", l->tmp);
	if (out && (f = fopen(path, "r"))) {
		n = fread(out, 1, outlen - 1, f);
		out[n] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/err", l->tmp);
	lab_err[0] = 0;
	if ((f = fopen(path, "r"))) {
		n = fread(lab_err, 1, sizeof(lab_err) - 1, f);
		lab_err[n] = 0;
		fclose(f);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void lab_remove_stale(const char *tag)
{
	char line[256], prefix[32];
	FILE *p = popen("ip netns list 2>/dev/null", "r");

	if (!p)
		return;
	snprintf(prefix, sizeof(prefix), "mgt-%s", tag);
	while (fgets(line, sizeof(line), p)) {
		char name[128], *dash;
		long pid;

		if (sscanf(line, "%127s", name) != 1 || strncmp(name, prefix, strlen(prefix)))
			continue;
		dash = strrchr(name, '-');
		pid = dash ? strtol(dash + 1, NULL, 10) : 0;
		if (pid > 0 && kill(pid, 0) && errno == ESRCH) {
			char cmd[256];

			snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", name);
			if (system(cmd)) {
				/* already gone */
			}
		}
	}
	pclose(p);
}

void lab_destroy(struct lab *l)
{
	char cmd[256];

	if (!l->up)
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; rm -rf %s",
		 l->ns_a, l->ns_b, l->tmp);
	if (system(cmd)) {
		/* best effort */
	}
	l->up = false;
}

int lab_enter(const char *ns)
{
	char path[128];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		if (fd >= 0)
			close(fd);
		if (self >= 0)
			close(self);
		return -1;
	}
	close(fd);
	return self;
}

void lab_leave(int self)
{
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET))
			perror("setns back");
		close(self);
	}
}

int lab_sink(struct lab *l, const char *prog)
{
	char obj[PATH_MAX];

	snprintf(obj, sizeof(obj), "%.*s/sink.bpf.o", (int)(strrchr(l->mailgate, '/') - l->mailgate),
		 l->mailgate);
	return lab_run(l, NULL, 0, "ip -force -n %s link set dev %s xdpdrv obj %s program %s", l->ns_b,
		       l->vb, obj, prog);
}

int lab_resolve(struct lab *l)
{
	for (int i = 0; i < 50; i++) {
		char out[1024] = "";

		lab_run(l, NULL, 0,
			"ip netns exec %s python3 -c \"import socket\n"
			"for fam, a in ((socket.AF_INET, '192.0.2.1'), (socket.AF_INET6, '2001:db8::1')):\n"
			"    socket.socket(fam, socket.SOCK_DGRAM).sendto(b'x', (a, 9))\"",
			l->ns_a);
		usleep(100000);
		lab_run(l, out, sizeof(out), "ip -n %s neigh show dev %s", l->ns_a, l->va);
		if (strstr(out, "192.0.2.1 lladdr") && strstr(out, "2001:db8::1 lladdr"))
			return 0;
	}
	return -1;
}

int lab_create(struct lab *l, const char *tag)
{
	char self[PATH_MAX - 16], out[4096];
	ssize_t n;
	int pid = getpid(), rc;

	memset(l, 0, sizeof(*l));
	lab_remove_stale(tag);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	*strrchr(self, '/') = 0; /* .output/selftests */
	*strrchr(self, '/') = 0; /* .output */
	snprintf(l->mailgate, sizeof(l->mailgate), "%s/mailgate", self);
	snprintf(l->ns_a, sizeof(l->ns_a), "mgt-%sa-%d", tag, pid);
	snprintf(l->ns_b, sizeof(l->ns_b), "mgt-%sb-%d", tag, pid);
	snprintf(l->va, sizeof(l->va), "mgt%sa%d", tag, pid);
	snprintf(l->vb, sizeof(l->vb), "mgt%sb%d", tag, pid);
	snprintf(l->tmp, sizeof(l->tmp), "/tmp/mgt-%s-%d", tag, pid);
	if (mkdir(l->tmp, 0700) && errno != EEXIST)
		return -1;
	l->up = true;
	rc = lab_run(l, NULL, 0,
		     "set -e; ip netns add %1$s; ip netns add %2$s;"
		     "ip link add %3$s netns %1$s type veth peer name %4$s netns %2$s;"
		     "ip -n %1$s addr add 192.0.2.2/24 dev %3$s; ip -n %2$s addr add 192.0.2.1/24 dev %4$s;"
		     "ip -n %1$s addr add 2001:db8::2/64 dev %3$s nodad;"
		     "ip -n %2$s addr add 2001:db8::1/64 dev %4$s nodad;"
		     "ip -n %1$s link set lo up; ip -n %2$s link set lo up;"
		     "ip -n %1$s link set %3$s up; ip -n %2$s link set %4$s up",
		     l->ns_a, l->ns_b, l->va, l->vb);
	if (rc) {
		fprintf(stdout, "  lab: %s", lab_err);
		return -1;
	}
	if (lab_run(l, out, sizeof(out), "ip -n %s -br link show dev %s", l->ns_b, l->vb) ||
	    sscanf(strstr(out, " ") ? out : "", "%*s %*s %17s", l->mac_b) != 1)
		return -1;
	return 0;
}

int lab_rx_stats(struct lab *l, long long *packets, long long *dropped)
{
	static char out[16384];
	struct json_object *doc, *st, *rx, *v;
	int rc = -1;

	if (lab_run(l, out, sizeof(out), "ip -j -s -n %s link show dev %s", l->ns_b, l->vb))
		return -1;
	doc = json_tokener_parse(out);
	if (doc && json_object_get_type(doc) == json_type_array && json_object_array_length(doc) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(doc, 0), "stats64", &st) &&
	    json_object_object_get_ex(st, "rx", &rx)) {
		*packets = json_object_object_get_ex(rx, "packets", &v) ? json_object_get_int64(v) : -1;
		*dropped = json_object_object_get_ex(rx, "dropped", &v) ? json_object_get_int64(v) : -1;
		rc = 0;
	}
	json_object_put(doc);
	return rc;
}

int lab_gate_start(struct lab_gate *lg, struct lab *l, const char *tag, void (*tune)(struct mg_config *c),
		   int sock_flags)
{
	struct gate_sizes sz = { .max_sources = 65536 };
	static uint8_t ports[65536];
	struct mg_config c;
	int one = 1, zero = 0, err;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(25) };
	char prefix[32];

	memset(lg, 0, sizeof(*lg));
	lg->listen_fd = -1;
	snprintf(prefix, sizeof(prefix), "mgt-%s-", tag);
	rm_left_behind("/sys/fs/bpf", prefix); /* ours too: a leftover of a pid reused */
	snprintf(lg->pin_dir, sizeof(lg->pin_dir), "/sys/fs/bpf/mgt-%s-%d", tag, getpid());
	err = gate_load(&lg->g, lg->pin_dir, &sz);
	if (err)
		return err;
	gate_default_ports(ports);
	gate_default_config(&c); /* netns_ino: B's, we are in it */
	if (tune)
		tune(&c);
	err = gate_write_ports(&lg->g, ports) ?: gate_write_config(&lg->g, &c);
	if (err)
		return err;
	lg->ifindex = if_nametoindex(l->vb);
	err = bpf_xdp_attach(lg->ifindex, bpf_program__fd(lg->g.skel->progs.mg_xdp), XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		return err;
	lg->tp_link = bpf_program__attach(lg->g.skel->progs.mg_sock_state);
	if (!lg->tp_link)
		return -errno;
	lg->listen_fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
	if (lg->listen_fd < 0)
		return -errno;
	setsockopt(lg->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lg->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(lg->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lg->listen_fd, 1024))
		return -errno;
	return 0;
}

void lab_gate_stop(struct lab_gate *lg)
{
	if (lg->listen_fd >= 0)
		close(lg->listen_fd);
	lg->listen_fd = -1;
	bpf_link__destroy(lg->tp_link);
	lg->tp_link = NULL;
	gate_close(&lg->g);
	if (lg->pin_dir[0])
		rm_dir(lg->pin_dir);
	lg->pin_dir[0] = 0;
}

static struct lab_gate *fatal_lg;
static struct lab *fatal_lab;
static pid_t *fatal_flood;

static void on_fatal(int sig)
{
	lab_flood_stop(fatal_flood);
	if (fatal_lg->pin_dir[0])
		rm_dir(fatal_lg->pin_dir);
	lab_destroy(fatal_lab);
	signal(sig, SIG_DFL);
	raise(sig);
}

void lab_gate_on_fatal(struct lab_gate *lg, struct lab *l, pid_t *flood_pid)
{
	fatal_lg = lg;
	fatal_lab = l;
	fatal_flood = flood_pid;
	signal(SIGINT, on_fatal);
	signal(SIGTERM, on_fatal);
}

pid_t lab_flood_start(struct lab *l, int rate, const char *duration)
{
	pid_t pid = fork();

	if (pid == 0) {
		char ns[64], r[16];
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		snprintf(ns, sizeof(ns), "--net=/run/netns/%s", l->ns_a);
		snprintf(r, sizeof(r), "%d", rate);
		execlp("nsenter", "nsenter", ns, l->mailgate, "synflood", "-i", l->va, "--dst", "2001:db8::1",
		       "--src", "2001:db8:8000::/33", "--rate", r, "--duration", duration, NULL);
		_exit(127);
	}
	return pid;
}

void lab_flood_stop(pid_t *pid)
{
	if (pid && *pid > 0) {
		kill(*pid, SIGINT);
		waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

double lab_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int lab_connect(struct lab *l, const char *src, const char *dst, int timeout_ms, double *ms)
{
	struct sockaddr_storage s, d;
	int fam = strchr(dst, ':') ? AF_INET6 : AF_INET, back = lab_enter(l->ns_a), fd, err = 0;
	socklen_t sl, dl, len = sizeof(err);
	struct pollfd p;
	double t0;

	if (back < 0)
		return -1;
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	lab_leave(back);
	if (fd < 0)
		return -1;
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	if (fam == AF_INET6) {
		struct sockaddr_in6 *a = (void *)&s, *b = (void *)&d;

		a->sin6_family = b->sin6_family = AF_INET6;
		inet_pton(AF_INET6, src, &a->sin6_addr);
		inet_pton(AF_INET6, dst, &b->sin6_addr);
		b->sin6_port = htons(25);
		sl = dl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&s, *b = (void *)&d;

		a->sin_family = b->sin_family = AF_INET;
		inet_pton(AF_INET, src, &a->sin_addr);
		inet_pton(AF_INET, dst, &b->sin_addr);
		b->sin_port = htons(25);
		sl = dl = sizeof(*a);
	}
	if (bind(fd, (void *)&s, sl)) {
		close(fd);
		return -1;
	}
	t0 = lab_mono_ms();
	if (connect(fd, (void *)&d, dl) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		close(fd);
		return -1;
	}
	*ms = lab_mono_ms() - t0;
	close(fd);
	return 0;
}
