// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The kernel's neighbour table over rtnetlink, with libmnl: one request, one answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "neigh.h"

/* The states with a usable link-layer address (the kernel's NUD_VALID). */
#define NEIGH_VALID (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

struct ep_neigh {
	struct mnl_socket *nl;
	unsigned int portid;
	uint32_t seq;
	char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE for 4 KiB pages; one entry is small */
};

int ep_neigh_open(struct ep_neigh **out)
{
	struct ep_neigh *nb = calloc(1, sizeof(*nb));
	int err;

	if (!nb)
		return -ENOMEM;
	nb->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nb->nl) {
		err = -errno;
		goto err_free;
	}
	if (mnl_socket_bind(nb->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto err_close_socket;
	}
	nb->portid = mnl_socket_get_portid(nb->nl);
	*out = nb;
	return 0;

err_close_socket:
	mnl_socket_close(nb->nl);
err_free:
	free(nb);
	return err;
}

void ep_neigh_close(struct ep_neigh *nb)
{
	if (!nb)
		return;
	mnl_socket_close(nb->nl);
	free(nb);
}

static struct nlmsghdr *request(struct ep_neigh *nb, uint16_t type, uint16_t flags, int family,
				const void *addr, uint32_t ifindex, uint8_t ndm_flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nb->buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nb->seq;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = (int)ifindex;
	ndm->ndm_flags = ndm_flags;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, addr);
	return nlh;
}

struct lookup {
	uint8_t *mac;
	int found;
};

static int on_attr(const struct nlattr *a, void *data)
{
	struct lookup *l = data;

	if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
		memcpy(l->mac, mnl_attr_get_payload(a), 6);
		l->found = 1;
	}
	return MNL_CB_OK;
}

static int on_neigh(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWNEIGH || !(ndm->ndm_state & NEIGH_VALID))
		return MNL_CB_OK;
	return mnl_attr_parse(nlh, sizeof(*ndm), on_attr, data);
}

/* Send the request in nb->buf and run @cb over the answer to it. 0 or a negative errno. */
static int transact(struct ep_neigh *nb, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nb->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* The kernel answers a request before sendto returns; skip answers to earlier ones
	 * (a request that failed half-way), bounded. */
	for (int i = 0; i < 8; i++) {
		n = mnl_socket_recvfrom(nb->nl, nb->buf, sizeof(nb->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nb->buf, (size_t)n, seq, nb->portid, cb, data);
		if (ret >= 0)
			return 0;
		if (errno != ESRCH && errno != EPROTO)
			return -errno;
	}
	return -EIO;
}

int ep_neigh_lookup(struct ep_neigh *nb, int family, const void *addr, uint32_t ifindex,
		    uint8_t mac[6])
{
	struct lookup l = { .mac = mac };
	int err;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	err = transact(nb, request(nb, RTM_GETNEIGH, 0, family, addr, ifindex, 0), on_neigh, &l);
	if (err)
		return err;
	return l.found ? 0 : -ENOENT;
}

int ep_neigh_resolve(struct ep_neigh *nb, int family, const void *addr, uint32_t ifindex)
{
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	/* NUD_NONE, no lladdr: nothing is set, NTF_USE only starts resolution. */
	return transact(
		nb,
		request(nb, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, family, addr, ifindex, NTF_USE),
		NULL, NULL);
}
