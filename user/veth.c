// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* action = reset on a veth: a natively attached program's XDP_TX frames (the
 * RSTs) reach the peer only if the peer runs an XDP program itself; in
 * generic mode they go through the stack and always arrive. Containers put
 * mail servers behind veths, so the daemon and `status` say so. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "mailgate.h"

struct link_desc {
	bool veth;
	int peer;      /* ifindex of the peer, 0 when unknown */
	int peer_nsid; /* the peer's namespace as this one names it; -1: this one */
	uint32_t xdp_prog; /* the XDP program attached to this link, 0 when none */
};

static void parse_nested(struct rtattr *a, struct link_desc *ld)
{
	int len = RTA_PAYLOAD(a);

	for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, len); b = RTA_NEXT(b, len)) {
		if (a->rta_type == IFLA_LINKINFO && b->rta_type == IFLA_INFO_KIND)
			ld->veth = RTA_PAYLOAD(b) >= 4 && !strncmp(RTA_DATA(b), "veth", 4);
		else if (a->rta_type == IFLA_XDP && b->rta_type == IFLA_XDP_PROG_ID && RTA_PAYLOAD(b) >= 4)
			ld->xdp_prog = *(uint32_t *)RTA_DATA(b);
	}
}

struct link_ans {
	int ifindex;
	struct link_desc *ld;
	bool found;
};

static int link_cb(struct nlmsghdr *h, void *arg)
{
	struct link_ans *w = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct link_desc *ld = w->ld;
	int len = IFLA_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != w->ifindex)
		return 0;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_LINKINFO || a->rta_type == IFLA_XDP)
			parse_nested(a, ld);
		else if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= 4)
			ld->peer = *(int *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINK_NETNSID && RTA_PAYLOAD(a) >= 4)
			ld->peer_nsid = *(int32_t *)RTA_DATA(a);
	}
	w->found = true;
	return 1;
}

/* RTM_GETLINK of ifindex, in the namespace nsid names (-1: this one) */
static int link_describe(int ifindex, int nsid, struct link_desc *ld)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		struct rtattr a;
		int32_t nsid;
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
		.a = { .rta_len = RTA_LENGTH(4), .rta_type = IFLA_TARGET_NETNSID },
		.nsid = nsid,
	};
	struct link_ans w = { .ifindex = ifindex, .ld = ld };
	int err;

	memset(ld, 0, sizeof(*ld));
	ld->peer_nsid = -1;
	if (nsid >= 0)
		req.h.nlmsg_len = sizeof(req);
	err = nl_request(NETLINK_ROUTE, &req.h, link_cb, &w);
	if (err)
		return err < 0 ? err : -EIO;
	return w.found ? 0 : -EIO;
}

const char *reset_veth_note(int ifindex, bool generic, char *buf, size_t len)
{
	struct link_desc ld, peer;

	if (generic || link_describe(ifindex, -1, &ld) || !ld.veth)
		return NULL;
	if (ld.peer && !link_describe(ld.peer, ld.peer_nsid, &peer)) {
		if (peer.xdp_prog)
			return NULL; /* the peer runs one: the RSTs arrive */
		snprintf(buf, len, "a veth whose peer (ifindex %d%s) runs no XDP program: the RSTs of action = reset are lost; attach any XDP program to the peer, or run with --mode generic",
			 ld.peer, ld.peer_nsid >= 0 ? ", another namespace" : "");
	} else {
		snprintf(buf, len, "a veth whose peer cannot be seen from here: the RSTs of action = reset reach it only if it runs an XDP program (or with --mode generic)");
	}
	return buf;
}
