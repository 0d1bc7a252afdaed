// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the address helpers (userspace/common/addrset.c): the 16-byte form the
 * classifier's ep_addrs and rate-limit keys use, address lists as the configuration gives
 * them, and the role sets the loaders write into ep_addrs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/addrset.h"
#include "../lib/tap.h"

static const uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 };

static void test_parse(void)
{
	static const char *const bad[] = {
		"",
		"198.18.0",
		"198.18.0.256",
		"198.18.0.1/24",
		" 198.18.0.1",
		"198.18.0.1 ",
		"localhost",
		"fe80::1%eth0",
		"2001:db8::g",
		"2001:db8:::1",
		"[2001:db8::1]",
		"198.18.0.1:7878",
	};
	uint8_t a[16], want6[16];
	char buf[EP_ADDR_STRLEN];

	tap_begin();
	EXPECT_EQ(ep_addr_parse("198.18.0.1", a), 0);
	EXPECT(!memcmp(a, v4, 16));
	EXPECT(ep_addr_is_v4(a));
	EXPECT(!strcmp(ep_addr_format(a, buf, sizeof(buf)), "198.18.0.1"));
	tap_end("IPv4: ::ffff:a.b.c.d, and back");

	tap_begin();
	inet_pton(AF_INET6, "2001:db8::1", want6);
	EXPECT_EQ(ep_addr_parse("2001:db8::1", a), 0);
	EXPECT(!memcmp(a, want6, 16));
	EXPECT(!ep_addr_is_v4(a));
	EXPECT(!strcmp(ep_addr_format(a, buf, sizeof(buf)), "2001:db8::1"));
	EXPECT_EQ(ep_addr_parse("::ffff:198.18.0.1", a), 0); /* spelled as IPv6: the same */
	EXPECT(!memcmp(a, v4, 16));
	tap_end("IPv6 as it is, and back; an IPv4-mapped spelling is the IPv4 address");

	tap_begin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(a, 0x5a, sizeof(a));
		if (ep_addr_parse(bad[i], a) != -EINVAL)
			tap_diag("'%s' was taken", bad[i]);
		EXPECT_EQ(ep_addr_parse(bad[i], a), -EINVAL);
	}
	EXPECT_EQ(ep_addr_parse(NULL, a), -EINVAL);
	tap_end("names, prefixes, ports, scopes, spaces and broken addresses are refused");

	tap_begin();
	{
		struct sockaddr_in s4 = { .sin_family = AF_INET };
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		struct sockaddr sx = { .sa_family = AF_UNIX };

		inet_pton(AF_INET, "198.18.0.1", &s4.sin_addr);
		s6.sin6_addr = *(struct in6_addr *)want6;
		EXPECT_EQ(ep_addr_from_sockaddr((struct sockaddr *)&s4, a), 0);
		EXPECT(!memcmp(a, v4, 16));
		EXPECT_EQ(ep_addr_from_sockaddr((struct sockaddr *)&s6, a), 0);
		EXPECT(!memcmp(a, want6, 16));
		EXPECT_EQ(ep_addr_from_sockaddr(&sx, a), -EAFNOSUPPORT);
		ep_addr_from_ip4(s4.sin_addr.s_addr, a);
		EXPECT(!memcmp(a, v4, 16));
	}
	tap_end("from a sockaddr (IPv4, IPv6; not other families) and from an in_addr");
}

static void test_set(void)
{
	struct ep_addrset *s = calloc(1, sizeof(*s));
	struct sockaddr_in a1 = { .sin_family = AF_INET }, a2 = { .sin_family = AF_INET };
	struct sockaddr_in6 a3 = { .sin6_family = AF_INET6 };
	struct sockaddr ll = { .sa_family = AF_PACKET };
	struct ifaddrs i3 = { .ifa_name = "eth1", .ifa_addr = (struct sockaddr *)&a3 };
	struct ifaddrs i2 = { .ifa_next = &i3, .ifa_name = "eth0", .ifa_addr = &ll };
	struct ifaddrs i1b = { .ifa_next = &i2,
			       .ifa_name = "eth0",
			       .ifa_addr = (struct sockaddr *)&a2 };
	struct ifaddrs inone = { .ifa_next = &i1b, .ifa_name = "tun0" }; /* no address */
	struct ifaddrs i1 = { .ifa_next = &inone,
			      .ifa_name = "lo",
			      .ifa_addr = (struct sockaddr *)&a1 };
	uint8_t x[16], y[16];

	if (!s) {
		tap_begin();
		tap_fail(__FILE__, __LINE__, "no memory");
		tap_end("address sets");
		return;
	}
	inet_pton(AF_INET, "127.0.0.1", &a1.sin_addr);
	inet_pton(AF_INET, "198.18.0.1", &a2.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &a3.sin6_addr);

	tap_begin();
	EXPECT_EQ(ep_addrset_add_ifaddrs(s, &i1, EP_ADDR_F_LOCAL), 0);
	EXPECT_EQ(s->n, 3); /* not the link-layer entry, nor the one without an address */
	EXPECT_EQ(ep_addrset_flags(s, v4), EP_ADDR_F_LOCAL);
	ep_addr_parse("2001:db8::1", x);
	EXPECT_EQ(ep_addrset_flags(s, x), EP_ADDR_F_LOCAL);
	ep_addr_parse("127.0.0.1", x);
	EXPECT_EQ(ep_addrset_flags(s, x), EP_ADDR_F_LOCAL);
	tap_end("the addresses of a getifaddrs() list, each once, as local");

	tap_begin();
	ep_addr_parse("198.18.9.9", y);
	EXPECT_EQ(ep_addrset_add(s, y, EP_ADDR_F_VIRTUAL), 0);
	EXPECT_EQ(ep_addrset_add(s, v4, EP_ADDR_F_GATEWAY), 0);
	EXPECT_EQ(s->n, 4);
	EXPECT_EQ(ep_addrset_flags(s, y), EP_ADDR_F_VIRTUAL);
	EXPECT_EQ(ep_addrset_flags(s, v4), EP_ADDR_F_LOCAL | EP_ADDR_F_GATEWAY);
	ep_addr_parse("198.18.9.10", y);
	EXPECT_EQ(ep_addrset_flags(s, y), 0);
	tap_end("configured roles join an address's flags; an unknown address has none");

	tap_begin();
	memset(s, 0, sizeof(*s));
	for (unsigned int i = 0; i < EP_ADDRS_MAX; i++) {
		memset(x, 0, sizeof(x));
		x[0] = 0x20, x[1] = 0x01, x[2] = 0x0d, x[3] = 0xb8;
		x[14] = (uint8_t)(i >> 8), x[15] = (uint8_t)i;
		EXPECT_EQ(ep_addrset_add(s, x, EP_ADDR_F_LOCAL), 0);
	}
	EXPECT_EQ(ep_addrset_add(s, v4, EP_ADDR_F_LOCAL), -ENOSPC);
	EXPECT_EQ(ep_addrset_add(s, x, EP_ADDR_F_VIRTUAL), 0); /* a known one still gains */
	EXPECT_EQ(s->n, EP_ADDRS_MAX);
	tap_end("a set holds at most the map's %d entries", EP_ADDRS_MAX);
	free(s);
}

int main(void)
{
	test_parse();
	test_set();
	return tap_finish();
}
