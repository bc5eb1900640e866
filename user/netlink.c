// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* One netlink request to the kernel and its answers (rtnetlink for the
 * generator's routes and neighbours, generic netlink for a driver's XDP
 * metadata features). */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include "mailgate.h"

int nl_request(int proto, struct nlmsghdr *req, int (*cb)(struct nlmsghdr *, void *), void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	char buf[16384] __attribute__((aligned(4)));
	bool done = false;
	int fd, err = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				done = true;
				break;
			}
			if (cb(h, arg) > 0)
				done = true; /* the callback has what it wanted */
			if (!(h->nlmsg_flags & NLM_F_MULTI))
				done = true;
		}
	}
out:
	close(fd);
	return err;
}
