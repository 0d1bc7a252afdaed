// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "edgeplane/addrset.h"

static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

int ep_addr_parse(const char *s, uint8_t out[16])
{
	struct in_addr a4;

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

int ep_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void ep_addr_from_ip4(uint32_t ip4_be, uint8_t out[16])
{
	memcpy(out, v4mapped, 12);
	memcpy(out + 12, &ip4_be, 4);
}

bool ep_addr_is_v4(const uint8_t a[16])
{
	return !memcmp(a, v4mapped, 12);
}

const char *ep_addr_format(const uint8_t a[16], char *buf, size_t len)
{
	if (!(ep_addr_is_v4(a) ? inet_ntop(AF_INET, a + 12, buf, (socklen_t)len)
			       : inet_ntop(AF_INET6, a, buf, (socklen_t)len)) &&
	    len)
		buf[0] = '\0';
	return buf;
}

int ep_addrset_add(struct ep_addrset *s, const uint8_t a[16], uint32_t flags)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (!memcmp(s->e[i].addr, a, 16)) {
			s->e[i].flags |= flags;
			return 0;
		}
	if (s->n == EP_ADDRS_MAX)
		return -ENOSPC;
	memcpy(s->e[s->n].addr, a, 16);
	s->e[s->n++].flags = flags;
	return 0;
}

int ep_addrset_add_ifaddrs(struct ep_addrset *s, const struct ifaddrs *ifa, uint32_t flags)
{
	for (; ifa; ifa = ifa->ifa_next) {
		uint8_t a[16];
		int err;

		if (!ifa->ifa_addr || ep_addr_from_sockaddr(ifa->ifa_addr, a))
			continue;
		err = ep_addrset_add(s, a, flags);
		if (err)
			return err;
	}
	return 0;
}

uint32_t ep_addrset_flags(const struct ep_addrset *s, const uint8_t a[16])
{
	for (unsigned int i = 0; i < s->n; i++)
		if (!memcmp(s->e[i].addr, a, 16))
			return s->e[i].flags;
	return 0;
}
