// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/dnsbl_lab.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include "dnsbl_lab.h"

int lab_free_udp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

void lab_clean_stale(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char dir[300], path[400], cmd[512] = "";
		pid_t rbl;
		FILE *f;

		if (!left_behind(e->d_name, "mgt-dnsbl-"))
			continue;
		snprintf(dir, sizeof(dir), "/tmp/%s", e->d_name);
		snprintf(path, sizeof(path), "%s/rbldnsd.pid", dir);
		f = fopen(path, "r");
		if (f && fscanf(f, "%d", &rbl) == 1 && rbl > 0) {
			int fd;
			ssize_t n = 0;

			snprintf(path, sizeof(path), "/proc/%d/cmdline", rbl);
			fd = open(path, O_RDONLY);
			if (fd >= 0) {
				n = read(fd, cmd, sizeof(cmd) - 1);
				close(fd);
			}
			for (ssize_t i = 0; i < n; i++)
				if (!cmd[i])
					cmd[i] = ' ';
			if (n > 0 && strstr(cmd, "rbldnsd") && strstr(cmd, dir))
				kill(rbl, SIGKILL);
		}
		if (f)
			fclose(f);
		rm_dir(dir);
	}
	closedir(d);
}

int lab_init(struct lab *l)
{
	memset(l, 0, sizeof(*l));
	lab_clean_stale();
	snprintf(l->dir, sizeof(l->dir), LAB_PREFIX "%d", getpid());
	if (mkdir(l->dir, 0755) || chmod(l->dir, 0755))
		return -1;
	return 0;
}

int lab_write(struct lab *l, const char *name, const char *text, int mtime_bump)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
	if (mtime_bump) {
		struct timespec ts[2];

		clock_gettime(CLOCK_REALTIME, &ts[0]);
		ts[0].tv_sec += mtime_bump;
		ts[1] = ts[0];
		utimensat(AT_FDCWD, path, ts, 0);
	}
	return 0;
}

static void lab_query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct lab_q *x = arg;

	dnsbl_answer_parse(status, abuf, alen, x->ans);
	x->done = true;
}

void lab_query(int port, const char *qname, struct dnsbl_answer *ans)
{
	struct lab_q q = { ans, false };
	char res[64], err[128];
	ares_channel ch;

	snprintf(res, sizeof(res), "127.0.0.1:%d", port);
	memset(ans, 0, sizeof(*ans));
	ans->result = DR_TIMEOUT;
	if (dnsbl_channel_new(&ch, res, NSEC_PER_SEC / 2, err, sizeof(err)))
		return;
	ares_query(ch, qname, 1, 1, lab_query_cb, &q);
	while (!q.done)
		dnsbl_channel_poll(ch, -1, 200);
	ares_destroy(ch);
}

int lab_start(struct lab *l, const char *const *zones, const char *probe_zone)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		char bind[64], log[128], pidf[128], q[256];
		const char *argv[48];
		int n = 0;
		struct dnsbl_answer a;
		FILE *f;

		l->port = lab_free_udp_port();
		snprintf(bind, sizeof(bind), "127.0.0.1/%d", l->port);
		snprintf(log, sizeof(log), "%s/rbldnsd.log", l->dir);
		argv[n++] = "rbldnsd";
		argv[n++] = "-u";
		argv[n++] = "nobody";
		argv[n++] = "-b";
		argv[n++] = bind;
		argv[n++] = "-r";
		argv[n++] = l->dir;
		argv[n++] = "-n";
		argv[n++] = "-c";
		argv[n++] = "0"; /* reload on SIGHUP only */
		for (int i = 0; zones[i] && n < 46; i++)
			argv[n++] = zones[i];
		argv[n] = NULL;
		l->pid = fork();
		if (l->pid < 0)
			return -1;
		if (l->pid == 0) {
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execvp("rbldnsd", (char **)argv);
			_exit(127);
		}
		snprintf(pidf, sizeof(pidf), "%s/rbldnsd.pid", l->dir);
		f = fopen(pidf, "w");
		if (f) {
			fprintf(f, "%d\n", l->pid);
			fclose(f);
		}
		snprintf(q, sizeof(q), "2.0.0.127.%s", probe_zone);
		for (int i = 0; i < 50; i++) {
			int st;

			if (waitpid(l->pid, &st, WNOHANG) == l->pid) {
				l->pid = 0;
				break; /* died: port taken? try another */
			}
			lab_query(l->port, q, &a);
			if (a.result != DR_TIMEOUT)
				return 0;
			usleep(100000); /* 5 s in all */
		}
		if (l->pid > 0) {
			kill(l->pid, SIGKILL);
			waitpid(l->pid, NULL, 0);
			l->pid = 0;
		}
	}
	return -1;
}

void lab_stop(struct lab *l)
{
	if (getenv("LAB_KEEP"))
		return;
	if (l->pid > 0) {
		kill(l->pid, SIGCONT);
		kill(l->pid, SIGTERM);
		waitpid(l->pid, NULL, 0);
		l->pid = 0;
	}
	if (l->dir[0])
		rm_dir(l->dir);
}

void lab_resolvers(const struct lab *l, char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1:%d", l->port);
}
