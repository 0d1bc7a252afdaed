/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xlist.h - the names of the controller's X-macro lists of outcomes (entries
 * X(NAME, "name"), as EP_REG_REPORT_LIST): each header makes its enum from its list, in
 * the list's order, and the name of a value is the list's entry at that index.
 */
#ifndef EP_CONTROL_XLIST_H
#define EP_CONTROL_XLIST_H

/* An X-macro list's entry as its name, in the list's (and so the enum's) order. */
#define EP_XLIST_STR(name, str) str,

/*
 * The name of value @i of the enum made from X-macro list @list, which has @count values
 * (its __COUNT), or "?" beyond them.
 */
#define EP_XLIST_NAME(list, count, i) \
	ep_xlist_name((const char *const[]){ list(EP_XLIST_STR) }, (count), (i))

static inline const char *ep_xlist_name(const char *const *names, unsigned int count,
					unsigned int i)
{
	return i < count ? names[i] : "?";
}

#endif
