/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ep_shared.h - everything that crosses the wire or the kernel/user boundary.
 *
 * This is the only definition of the edgeplane wire protocol v1 header, the BPF map keys
 * and values, the XDP verdict/drop-reason enumeration and the protocol status codes. It is
 * included by the BPF programs (bpf/), the codec (userspace/), the runtime (dataplane/) and
 * the control plane (control/). docs/protocol.md is the prose form of this file.
 *
 * Rules: fixed-width types only; the wire header is packed and big-endian; map structs are
 * naturally aligned with explicit padding; every layout has a _Static_assert.
 */
#ifndef EP_SHARED_H
#define EP_SHARED_H

#include <linux/types.h>

/* ------------------------------------------------------------------------------------ */
/* Wire protocol v1                                                                      */
/* ------------------------------------------------------------------------------------ */

#define EP_MAGIC	0x4550 /* "EP" */
#define EP_VERSION	1
#define EP_DEFAULT_PORT 7878 /* default UDP port of an edge node */

/* Upper bound of a task's payload (total_len) that any v1 receiver must be able to express.
 * Receivers configure a lower limit; see ep_config.max_task_len. */
#define EP_MAX_TASK_LEN		(64u << 20)
#define EP_DEFAULT_MAX_TASK_LEN (16u << 20)
#define EP_MAX_FRAGS		65535u

/* Message kinds. Requests, PING and CANCEL flow towards an edge node ("server-bound");
 * RESPONSE, ERROR and PONG flow back to the client. 0x10-0x3f is reserved for control
 * messages; kinds not listed here are invalid in v1. */
enum ep_kind {
	EP_KIND_REQUEST = 0x01,
	EP_KIND_RESPONSE = 0x02,
	EP_KIND_ERROR = 0x03,
	EP_KIND_PING = 0x10, /* liveness/load probe; answered by PONG */
	EP_KIND_PONG = 0x11,
	EP_KIND_CANCEL = 0x12,	    /* client withdraws task_id */
	EP_KIND_LOAD_REPORT = 0x13, /* edge runtime -> controller: struct ep_load_report */
	EP_KIND_RETRY = 0x14,	    /* edge -> client: validate your address; carries a token
				     * (EP_F_TOKEN) to send the task again with */
	EP_KIND_TASK_ACK = 0x15,    /* edge -> client: the fragments of request task_id the
				     * edge holds (struct ep_ack_wire); docs/protocol.md 5.1 */
	EP_KIND_RESULT_ACK = 0x16,  /* client -> edge: the fragments of the result of task_id
				     * the client holds: send the rest, or say what you hold */
};

#define EP_KIND_IS_SERVER_BOUND(k)                                                 \
	((k) == EP_KIND_REQUEST || (k) == EP_KIND_PING || (k) == EP_KIND_CANCEL || \
	 (k) == EP_KIND_RESULT_ACK)
#define EP_KIND_IS_CLIENT_BOUND(k)                                                 \
	((k) == EP_KIND_RESPONSE || (k) == EP_KIND_ERROR || (k) == EP_KIND_PONG || \
	 (k) == EP_KIND_RETRY || (k) == EP_KIND_TASK_ACK)
/* Acknowledgements: one datagram each, about another (multi-fragment) message. */
#define EP_KIND_IS_ACK(k)     ((k) == EP_KIND_TASK_ACK || (k) == EP_KIND_RESULT_ACK)
/* Control-plane messages: valid, but neither a task nor its answer. */
#define EP_KIND_IS_CONTROL(k) ((k) == EP_KIND_LOAD_REPORT)

/* Priority: 1 (lowest, shed first) .. 5 (highest). 3 is the default. */
#define EP_PRIO_MIN	1
#define EP_PRIO_MAX	5
#define EP_PRIO_DEFAULT 3

/* Header flags. Bits not defined here must be zero. */
#define EP_F_ZSTD  0x01 /* the task payload (all fragments joined) is a zstd frame */
#define EP_F_AUTH  0x02 /* auth_key_id and auth_tag are set and must be verified */
#define EP_F_RETRY 0x04 /* retransmission of a task id already sent (informational) */
#define EP_F_TOKEN                                                                         \
	0x08		      /* auth_key_id and auth_tag hold an address-validation token \
			       * (docs/protocol.md 3.7); never with AUTH */
#define EP_F_PLAIN_REPLY 0x10 /* server-bound: the client takes no compressed reply */
#define EP_F_FRAME                                                    \
	0x20 /* server-bound: the task payload (all fragments joined) \
	      * is an image payload in the frame codec (struct        \
	      * ep_fc_hdr, docs/protocol.md 3.9); never with ZSTD */
#define EP_F_KNOWN (EP_F_ZSTD | EP_F_AUTH | EP_F_RETRY | EP_F_TOKEN | EP_F_PLAIN_REPLY | EP_F_FRAME)

#define EP_AUTH_TAG_LEN	  16
/* An AUTH datagram's payload starts with its nonce in the clear (be32 sender, be64 packet
 * number), the rest is the ciphertext of the fragment's slice; payload_len counts both
 * (docs/protocol.md 3.5). */
#define EP_AUTH_NONCE_LEN 12

/*
 * Address validation (docs/protocol.md 3.7). A token is carried in auth_key_id (the
 * token's epoch, low 16 bits) and auth_tag (a MAC over the client's address and port
 * under that epoch's key) with EP_F_TOKEN set. Until a source proves its address with a
 * token, no reply to it is larger than EP_AMP_FACTOR times the bytes it sent.
 */
#define EP_AMP_FACTOR 3

/* Server-bound reply_mtu: the client's path MTU in units of EP_REPLY_MTU_UNIT bytes;
 * 0 = the node's own. Values below EP_REPLY_MTU_MIN units count as EP_REPLY_MTU_MIN. */
#define EP_REPLY_MTU_UNIT 64
#define EP_REPLY_MTU_MIN  9 /* 576 bytes, the IPv4 minimum */

/*
 * The v1 header: 64 bytes at the start of every UDP datagram's payload, followed by
 * payload_len bytes of task payload (this fragment's slice). All multi-byte fields are
 * big-endian. See docs/protocol.md for the meaning and valid range of each field.
 */
struct ep_hdr {
	__be16 magic;	    /*  0: EP_MAGIC */
	__u8 version;	    /*  2: EP_VERSION */
	__u8 kind;	    /*  3: enum ep_kind */
	__u8 priority;	    /*  4: 1..5; replies echo the request's */
	__u8 flags;	    /*  5: EP_F_* */
	__be16 task_type;   /*  6: handler id; replies echo it */
	__be32 tenant_id;   /*  8: client's tenant */
	__be16 payload_len; /* 12: bytes of payload after this header in this datagram */
	__be16 status;	    /* 14: enum ep_status; 0 except in ERROR */
	__be16 frag_index;  /* 16: 0 .. frag_count-1 */
	__be16 frag_count;  /* 18: 1 .. 65535 */
	__be32 total_len;   /* 20: whole task payload length, as carried (compressed if ZSTD) */
	__be64 task_id;	    /* 24: unique per client; key for retries and deduplication */
	__be32 frag_offset; /* 32: where this fragment's payload starts in the task */
	union {		    /* 36: kind-specific */
		struct {    /* REQUEST, PING, CANCEL */
			__be32 size_hint_kib; /* memory footprint for the load balancer */
			__be32 deadline_ms;   /* budget from send time, 0 = none */
		} req;
		struct {		 /* RESPONSE, ERROR, PONG */
			__be32 queue_us; /* time the task waited at the edge */
			__be32 exec_us;	 /* time the handler ran */
		} rsp;
	};
	__u8 load_pct;	    /* 44: replies: node load 0..100; server-bound: 0 */
	__u8 reply_mtu;	    /* 45: server-bound: the client's path MTU / EP_REPLY_MTU_UNIT,
			     * 0 = the node's; every other kind: 0 */
	__be16 auth_key_id; /* 46: key used for auth_tag when EP_F_AUTH, else 0 */
	__u8 auth_tag[EP_AUTH_TAG_LEN]; /* 48: reserved for the authentication tag */
} __attribute__((packed));

/* Kept for readers of the offsets table in docs/protocol.md. */
#define EP_HDR_LEN 64

_Static_assert(sizeof(struct ep_hdr) == EP_HDR_LEN, "ep_hdr is 64 bytes on the wire");
_Static_assert(__builtin_offsetof(struct ep_hdr, kind) == 3, "kind offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, task_type) == 6, "task_type offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, tenant_id) == 8, "tenant_id offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, payload_len) == 12, "payload_len offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, status) == 14, "status offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, frag_index) == 16, "frag_index offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, total_len) == 20, "total_len offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, task_id) == 24, "task_id offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, frag_offset) == 32, "frag_offset offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, req.size_hint_kib) == 36, "size_hint offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, req.deadline_ms) == 40, "deadline offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, rsp.exec_us) == 40, "exec_us offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, load_pct) == 44, "load_pct offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, reply_mtu) == 45, "reply_mtu offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, auth_key_id) == 46, "auth_key_id offset");
_Static_assert(__builtin_offsetof(struct ep_hdr, auth_tag) == 48, "auth_tag offset");

/* Status codes carried in ERROR messages: in the installed header, for plugins too. */
#include "edgeplane/status.h"

/*
 * The payload of a PONG: what a client must know of the node's limits (docs/protocol.md
 * 7.3). Big-endian, 48 bytes; a later revision may append fields, so a client reads the
 * fields it knows and ignores the rest. 0 in a rate or a limit means "no limit".
 */
#define EP_LIM_F_TOKENS	      0x0001 /* issues and checks address-validation tokens */
#define EP_LIM_F_REPLY_MTU    0x0002 /* honours a request's reply_mtu */
#define EP_LIM_F_PLAIN_REPLY  0x0004 /* honours EP_F_PLAIN_REPLY */
#define EP_LIM_F_ALWAYS_RETRY 0x0008 /* every unvalidated task gets RETRY before it runs */
#define EP_LIM_F_ACKS	      0x0010 /* selective repeat: sends TASK_ACK, answers RESULT_ACK */
#define EP_LIM_F_FRAME	      0x0020 /* decodes EP_F_FRAME payloads (the frame codec) */

/*
 * The payload of TASK_ACK and RESULT_ACK (docs/protocol.md 5.1): the frag_count of the
 * message acknowledged (0: none of it is held), then n ranges of fragment indexes held,
 * {first, last} inclusive, ascending, with a gap of at least one between ranges. All
 * big-endian. A receiver lists at most EP_ACK_MAX_RANGES ranges (the lowest first); the
 * sender resends every fragment not listed.
 */
#define EP_ACK_MAX_RANGES 256u
struct ep_ack_wire {
	__be16 frag_count;
	__be16 nranges;
	struct {
		__be16 first;
		__be16 last;
	} r[];
};

struct ep_limits {
	__be32 max_task_len;	  /*  0: largest task payload, after decompression */
	__be32 max_result_len;	  /*  4: largest result */
	__be32 reasm_timeout_ms;  /*  8: a task whose fragments stop this long: TIMEOUT */
	__be32 reasm_lifetime_ms; /* 12: ... or that is not complete this long after its
				   *     first fragment */
	__be16 per_source_tasks;  /* 16: tasks being reassembled per source prefix */
	__be16 mtu;		  /* 18: the node's reply MTU (IP packet bytes) */
	__u8 max_priority;	  /* 20: priorities above are lowered to this */
	__u8 amp_factor;	  /* 21: replies to an unvalidated source <= this x bytes
				   *     received; 0: no limit (unsafe) */
	__u8 source_prefix_v4;	  /* 22: per-source limits group addresses by prefix */
	__u8 source_prefix_v6;	  /* 23 */
	__be32 rate_packets;	  /* 24: datagrams/s per source prefix */
	__be32 rate_kib;	  /* 28: KiB/s per source prefix */
	__be64 max_work;	  /* 32: largest work a task may declare (handler units) */
	__be32 cache_window_ms;	  /* 40: how long a result answers retries */
	__be16 max_replays;	  /* 44: cached replies sent per task at most (0: none) */
	__be16 flags;		  /* 46: EP_LIM_F_* */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_limits) == 48, "ep_limits layout");
_Static_assert(__builtin_offsetof(struct ep_limits, max_work) == 32, "ep_limits layout");

/* ------------------------------------------------------------------------------------ */
/* XDP classifier: outcomes, counters and maps                                          */
/* ------------------------------------------------------------------------------------ */

/*
 * Every packet the classifier sees ends in exactly one outcome, and each outcome has a
 * per-CPU counter (packets, bytes) at its index in the ep_stats map. X(NAME, "name").
 * DECAP and REPLY_NO_ROUTE are counted in addition to a packet's outcome.
 * Outcomes are grouped: REDIRECT_XSK hands the packet to an AF_XDP socket (index 0, so that
 * parse helpers can return 0 for "valid" and -index for every other outcome), PASS_* leave
 * it to the kernel, DROP_* drop an invalid offload packet.
 */
#define EP_STAT_LIST(X)                                                                          \
	X(REDIRECT_XSK, "redirect_xsk")		/* valid, sent to the queue's socket */          \
	X(DECAP, "decap")			/* a gateway's encapsulation removed */          \
	X(REPLY_NO_ROUTE, "reply_no_route")	/* no FIB answer for the way back */             \
	X(PASS_NOT_IP, "pass_not_ip")		/* ARP, LLDP, other ethertypes */                \
	X(PASS_NOT_UDP, "pass_not_udp")		/* ICMP, TCP, ... */                             \
	X(PASS_IP_FRAGMENT, "pass_ip_fragment") /* kernel reassembles */                         \
	X(PASS_OTHER_PORT, "pass_other_port")	/* UDP, not our port */                          \
	X(PASS_NOT_UNICAST, "pass_not_unicast") /* to our port, but broadcast/multicast */       \
	X(PASS_UNPARSED, "pass_unparsed")	/* L2/L3 too short or odd: kernel decides */     \
	X(PASS_NOT_LOCAL, "pass_not_local")	/* to our port, not to one of our addresses */   \
	X(PASS_NO_SOCKET, "pass_no_socket")	/* valid task, no AF_XDP socket on the queue */  \
	X(DROP_UDP_LENGTH, "drop_udp_length")	/* UDP length disagrees with IP/frame */         \
	X(DROP_UDP_ZERO_CSUM, "drop_udp_zero_csum") /* IPv6 UDP without checksum */              \
	X(DROP_BAD_SOURCE, "drop_bad_source")	    /* source port 0: no reply possible */       \
	X(DROP_HDR_SHORT, "drop_hdr_short")	    /* payload shorter than struct ep_hdr */     \
	X(DROP_BAD_MAGIC, "drop_bad_magic")                                                      \
	X(DROP_BAD_VERSION, "drop_bad_version")                                                  \
	X(DROP_BAD_KIND, "drop_bad_kind")	  /* unknown, or not server-bound */             \
	X(DROP_BAD_PRIORITY, "drop_bad_priority") /* outside 1..5 */                             \
	X(DROP_BAD_FLAGS, "drop_bad_flags")	  /* unknown flag or reserved bits set */        \
	X(DROP_BAD_LENGTH, "drop_bad_length")	  /* payload_len != datagram - header */         \
	X(DROP_BAD_FRAGMENT, "drop_bad_fragment") /* index/count/offset/total inconsistent */    \
	X(DROP_TOO_LARGE, "drop_too_large")	  /* total_len above the configured limit */     \
	X(DROP_TENANT, "drop_tenant")		  /* tenant not allowed on this node */          \
	X(DROP_RATE_PACKETS, "drop_rate_packets") /* source prefix over its datagrams/s */       \
	X(DROP_RATE_BYTES, "drop_rate_bytes")	  /* source prefix over its bytes/s */           \
	X(DROP_RATE_TASKS, "drop_rate_tasks") /* gateway: source prefix over its new tasks/s */  \
	X(DROP_ENCAP_SOURCE, "drop_encap_source") /* encapsulated, not from a known gateway */   \
	X(DROP_ENCAP_DEST, "drop_encap_dest")	  /* encapsulated task not for us or our VIPs */ \
	X(DROP_AUTH_MISSING, "drop_auth_missing") /* auth required: a task without AUTH */       \
	X(DROP_AUTH_TOKEN, "drop_auth_token")	  /* AUTH and TOKEN both set */                  \
	X(DROP_AUTH_SHORT, "drop_auth_short")	  /* AUTH, payload_len < 12: no nonce */         \
	X(DROP_AUTH_UNKNOWN_KEY, "drop_auth_unknown_key") /* auth_key_id not in ep_keys */       \
	X(DROP_AUTH_EXPIRED, "drop_auth_expired")	  /* the key's expiry has passed */      \
	X(DROP_AUTH_REVOKED, "drop_auth_revoked")                                                \
	X(DROP_AUTH_TENANT, "drop_auth_tenant")		/* tenant_id is not the key's tenant */  \
	X(DROP_AUTH_TYPE, "drop_auth_type")		/* task type not allowed by the role */  \
	X(DROP_AUTH_PRIORITY, "drop_auth_priority")	/* priority above the role's cap */      \
	X(DROP_AUTH_TOO_LARGE, "drop_auth_too_large")	/* total_len above the role's max */     \
	X(DROP_AUTH_RATE_TASKS, "drop_auth_rate_tasks") /* over the key's tasks/s */             \
	X(DROP_AUTH_RATE_BYTES, "drop_auth_rate_bytes") /* over the key's bytes/s */

enum ep_stat {
#define EP_X_ENUM(name, str) EP_STAT_##name,
	EP_STAT_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_STAT__COUNT
};

#define EP_STAT_FIRST_DROP EP_STAT_DROP_UDP_LENGTH
#define ep_stat_is_pass(s) ((s) >= EP_STAT_PASS_NOT_IP && (s) <= EP_STAT_PASS_NO_SOCKET)
#define ep_stat_is_drop(s) ((s) >= EP_STAT_FIRST_DROP && (s) < EP_STAT__COUNT)

/* Value of the per-CPU ep_stats array map; one per enum ep_stat. */
struct ep_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct ep_counter) == 16, "ep_counter layout");

/*
 * AF_XDP socket placement. The XSKMAP has EP_XSK_SLOTS slots per RX queue; slot 0 is the
 * queue's default socket. ep_config.prio_slot[] lets the runtime give chosen priorities a
 * socket of their own on the same queue (sockets sharing one UMEM); a priority whose slot
 * holds no socket falls back to slot 0.
 */
#define EP_MAX_QUEUES		64
#define EP_XSK_SLOTS		4
#define EP_XSK_KEY(queue, slot) ((queue)*EP_XSK_SLOTS + (slot))
#define EP_XSKMAP_SIZE		(EP_MAX_QUEUES * EP_XSK_SLOTS)

/* ep_config.flags */
#define EP_CFG_F_TENANT_CHECK 0x0001 /* drop tenants that are not in ep_tenants */
#define EP_CFG_F_REPLY_ROUTE  0x0002 /* write the reply's next hop into the frame */
#define EP_CFG_F_ANY_DEST                                            \
	0x0004 /* UNSAFE: take tasks to any destination address, not \
		* only to the node's own and virtual ones (ep_addrs) */

/*
 * Runtime settings of the classifier: the single entry (key 0) of the ep_config array map.
 * An all-zero entry (nothing written yet) means: the load-time default port, no tenant
 * check, the protocol's EP_MAX_TASK_LEN (a node's own, smaller limit is the runtime's to
 * answer with TOO_LARGE), every priority in slot 0 and lowered to EP_PRIO_DEFAULT, no
 * encapsulation, and tasks only to the addresses in ep_addrs.
 */
struct ep_config {
	__u16 udp_port;	    /* host order; 0 = the load-time default (ep_default_port) */
	__u16 flags;	    /* EP_CFG_F_* */
	__u32 max_task_len; /* 0 = EP_MAX_TASK_LEN; capped at EP_MAX_TASK_LEN */
	__u8 prio_slot[8];  /* [priority] -> XSK slot (< EP_XSK_SLOTS); [0],[6],[7] unused */
	__u16 encap_port;   /* UDP port of tasks a gateway encapsulated; 0: none */
	__u8 max_priority;  /* steer by min(priority, this); 0 = EP_PRIO_DEFAULT */
	__u8 pad0;
	__u16 pad[2];
};
_Static_assert(sizeof(struct ep_config) == 24, "ep_config layout");
_Static_assert(__builtin_offsetof(struct ep_config, prio_slot) == 8, "ep_config layout");
_Static_assert(__builtin_offsetof(struct ep_config, max_priority) == 18, "ep_config layout");

/*
 * ep_addrs (classifier): the addresses a task may be sent to, and the gateways that may
 * send encapsulated tasks. Key: the address in 16 bytes (IPv4 as ::ffff:a.b.c.d, as
 * struct ep_gw_flow_key and the runtime's peers). The loader fills it from the network
 * namespace's addresses (getifaddrs) and the configuration, and the runtime refreshes it
 * every second, so an address added later counts.
 */
#define EP_ADDR_F_LOCAL	  0x0001 /* an address of this network namespace */
#define EP_ADDR_F_VIRTUAL 0x0002 /* a configured virtual address (a gateway's VIP, DSR) */
#define EP_ADDR_F_GATEWAY 0x0004 /* a gateway: may send encapsulated tasks */
#define EP_ADDR_F_DEST	  (EP_ADDR_F_LOCAL | EP_ADDR_F_VIRTUAL)
#define EP_ADDRS_MAX	  1024 /* entries of ep_addrs */

struct ep_addr_key {
	__u8 addr[16];
};
_Static_assert(sizeof(struct ep_addr_key) == 16, "ep_addr_key layout");

struct ep_addr_val {
	__u32 flags; /* EP_ADDR_F_* */
	__u32 pad;
};
_Static_assert(sizeof(struct ep_addr_val) == 8, "ep_addr_val layout");

/*
 * Rate limits per source prefix (bpf/lib/ratelimit.h), in the classifier and the gateway:
 * the single entry (key 0) of ep_rl_cfg. Token buckets of datagrams/s and bytes/s (bytes
 * of the frame as XDP sees it), each with a burst, and at the gateway one of new tasks/s;
 * a source's address is masked to prefix_v4 (of the IPv4 address) or prefix_v6 to find
 * its bucket. An entry without EP_RL_F_SET (nothing written yet) means the defaults below,
 * so a classifier loaded by hand is limited too; with it, a rate of 0 means no limit on
 * that count, and EP_RL_F_OFF means no limit at all (the operator's unsafe choice).
 */
#define EP_RL_F_SET 0x0001 /* written by a loader: the fields hold */
#define EP_RL_F_OFF 0x0002 /* UNSAFE: no rate limit */

/* Defaults (docs/operations.md says why): a fleet of cameras behind one /24 fits in them,
 * one flooding prefix gets a small share of one CPU of a 2-CPU node. */
#define EP_RL_DEF_PACKETS	50000	    /* datagrams/s per prefix */
#define EP_RL_DEF_PACKETS_BURST 50000	    /* > the 46 730 fragments of 64 MiB at MTU 1500 */
#define EP_RL_DEF_BYTES		(64u << 20) /* 64 MiB/s per prefix (537 Mbit/s) */
#define EP_RL_DEF_BYTES_BURST	(32u << 20) /* two 16 MiB tasks back to back */
#define EP_RL_DEF_TASKS		10000	    /* gateway: new tasks/s per prefix */
#define EP_RL_DEF_TASKS_BURST	10000
#define EP_RL_DEF_PREFIX_V4	24
#define EP_RL_DEF_PREFIX_V6	64
#define EP_RL_STATE_MAX		65536 /* prefixes tracked (LRU) */

struct ep_rl_cfg {
	__u32 packets_per_s; /* 0: no limit on datagrams */
	__u32 packets_burst; /* datagrams a prefix may send at once; >= 1 with a rate */
	__u32 bytes_per_s;   /* 0: no limit on bytes */
	__u32 bytes_burst;   /* >= the largest frame, with a rate */
	__u32 tasks_per_s;   /* gateway only: new tasks (no affinity yet); 0: no limit */
	__u32 tasks_burst;
	__u8 prefix_v4; /* 0..32 */
	__u8 prefix_v6; /* 0..128 */
	__u16 flags;	/* EP_RL_F_* */
	__u32 pad;
	/* Worked out from the above by whoever writes the entry (ep_rl_derive()), so that the
	 * packet path divides nothing: the cost of one unit in ns of the bucket's rate, and
	 * the burst as ns (GCRA's tolerance). */
	__u64 packet_cost_ns; /* 1e9 / packets_per_s */
	__u64 packet_tau_ns;  /* packets_burst x that */
	__u64 byte_cost;      /* 1e9 / bytes_per_s, in 1/1024 ns */
	__u64 byte_tau_ns;
	__u64 task_cost_ns;
	__u64 task_tau_ns;
};
_Static_assert(sizeof(struct ep_rl_cfg) == 80, "ep_rl_cfg layout");
_Static_assert(__builtin_offsetof(struct ep_rl_cfg, prefix_v4) == 24, "ep_rl_cfg layout");
_Static_assert(__builtin_offsetof(struct ep_rl_cfg, packet_cost_ns) == 32, "ep_rl_cfg layout");

#define EP_RL_NSEC	 1000000000ull
#define EP_RL_BYTE_SHIFT 10 /* byte_cost's fraction bits */

/* Fill in the derived fields of @c from its rates and bursts (a rate of 0: none). */
static inline __attribute__((always_inline)) void ep_rl_derive(struct ep_rl_cfg *c)
{
	c->packet_cost_ns = c->packets_per_s ? EP_RL_NSEC / c->packets_per_s : 0;
	c->packet_tau_ns =
		c->packets_per_s ? (__u64)c->packets_burst * EP_RL_NSEC / c->packets_per_s : 0;
	c->byte_cost = c->bytes_per_s ? (EP_RL_NSEC << EP_RL_BYTE_SHIFT) / c->bytes_per_s : 0;
	c->byte_tau_ns = c->bytes_per_s ? (__u64)c->bytes_burst * EP_RL_NSEC / c->bytes_per_s : 0;
	c->task_cost_ns = c->tasks_per_s ? EP_RL_NSEC / c->tasks_per_s : 0;
	c->task_tau_ns = c->tasks_per_s ? (__u64)c->tasks_burst * EP_RL_NSEC / c->tasks_per_s : 0;
}

/* The default settings (EP_RL_DEF_*) into @c, marked set; its derived fields zero, for
 * ep_rl_derive(). The one list of them, for XDP (an unwritten ep_rl_cfg) and userspace. */
static inline __attribute__((always_inline)) void ep_rl_defaults(struct ep_rl_cfg *c)
{
	*c = (struct ep_rl_cfg){
		.packets_per_s = EP_RL_DEF_PACKETS,
		.packets_burst = EP_RL_DEF_PACKETS_BURST,
		.bytes_per_s = EP_RL_DEF_BYTES,
		.bytes_burst = EP_RL_DEF_BYTES_BURST,
		.tasks_per_s = EP_RL_DEF_TASKS,
		.tasks_burst = EP_RL_DEF_TASKS_BURST,
		.prefix_v4 = EP_RL_DEF_PREFIX_V4,
		.prefix_v6 = EP_RL_DEF_PREFIX_V6,
		.flags = EP_RL_F_SET,
	};
}

/* ep_rl_state: key = the source address masked to its prefix (16-byte form). */
struct ep_rl_key {
	__u8 addr[16];
};
_Static_assert(sizeof(struct ep_rl_key) == 16, "ep_rl_key layout");

/* GCRA state of each bucket: its theoretical arrival time, bpf_ktime_get_ns() ns. A
 * bucket is full (a whole burst allowed) when its time is in the past. */
struct ep_rl_state {
	__u64 tat_packets;
	__u64 tat_bytes;
	__u64 tat_tasks;
};
_Static_assert(sizeof(struct ep_rl_state) == 24, "ep_rl_state layout");

/* ep_tenants: key = tenant id (host order), value = struct ep_tenant. */
struct ep_tenant {
	__u32 flags; /* reserved, 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct ep_tenant) == 8, "ep_tenant layout");

/* ------------------------------------------------------------------------------------ */
/* Session keys and roles (issue 12): what the classifier and the gateway check          */
/* ------------------------------------------------------------------------------------ */

/*
 * What a node does with tasks to its port, as far as keys go: the single entry (key 0) of
 * the ep_auth_cfg array map, shared by the classifier and the gateway (bpf/lib/auth.h).
 * REQUIRED: a server-bound datagram without AUTH is dropped [drop_auth_missing]; AUTH ones
 * are checked against ep_keys. OPTIONAL: AUTH ones are checked against ep_keys, the others
 * take the per-source-prefix guards. OFF: nothing is checked against keys; AUTH ones take
 * the per-prefix guards and reach the runtime (which answers as it can).
 *
 * An entry without EP_AUTH_F_SET (nothing written: a program loaded by bpftool or ip, or
 * by DPDK's PMD before the runtime configures it) means OFF, the behaviour before keys
 * existed, so such a load changes nothing. Every loader of ours writes the entry, REQUIRED
 * unless told otherwise. The runtime checks keys and tags itself whatever XDP did: XDP's
 * checks spare it the work, they are not the only line.
 */
#define EP_AUTH_MODE_LIST(X)    \
	X(REQUIRED, "required") \
	X(OPTIONAL, "optional") \
	X(OFF, "off")

enum ep_auth_mode {
#define EP_X_ENUM(name, str) EP_AUTH_MODE_##name,
	EP_AUTH_MODE_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_AUTH_MODE__COUNT
};

#define EP_AUTH_F_SET 0x0001 /* written by a loader: mode holds */

struct ep_auth_cfg {
	__u8 mode; /* enum ep_auth_mode, with EP_AUTH_F_SET */
	__u8 pad;
	__u16 flags; /* EP_AUTH_F_* */
	__u32 pad2;
};
_Static_assert(sizeof(struct ep_auth_cfg) == 8, "ep_auth_cfg layout");

/*
 * ep_keys: key = the key id (__u32, host order, 1..65535), value = struct ep_key_entry.
 * What XDP needs of a session key to judge a datagram before anyone spends an AEAD check
 * on it: no key material (XDP cannot verify the tag; the runtime does). Written by the
 * runtime's and the controller's key sync (ep_key_entry_fill() below, then
 * ep_xdp_write_key() / ep_gw_put_key()).
 */
#define EP_KEYS_MAX	     65536  /* ep_keys and ep_key_state entries */
#define EP_KEY_TYPES	     256    /* task types a role can allow: 0..255; never above */
#define EP_KEY_F_REVOKED     0x0001 /* refused, whatever its expiry */
#define EP_KEY_F_ALL_TYPES   0x0002 /* every task type 0..255 ("types": "*") */
#define EP_KEY_F_KNOWN	     (EP_KEY_F_REVOKED | EP_KEY_F_ALL_TYPES)
#define EP_KEY_MIN_BURST_KIB 64 /* a byte burst holds at least one largest datagram */

struct ep_key_entry {
	__u64 expires_ns;     /*  0: bpf_ktime_get_ns() from which the key is refused; 0: never */
	__u64 issued_unix_ms; /*  8: which key holds this id: a new one gets fresh buckets */
	__u32 tenant;	      /* 16: tenant_id every datagram under the key must carry */
	__u32 flags;	      /* 20: EP_KEY_F_* */
	__u64 types[4];	      /* 24: allowed task types, bit t of types[t / 64] */
	__u32 max_task_len;   /* 56: largest total_len of a request; 0: no limit of its own */
	__u8 max_priority;    /* 60: highest priority under the key, any kind (1..5); 0:
			       *     nothing at all (a node's own key) */
	__u8 pad[3];
	/* Buckets (a rate of 0: no limit). Tasks: datagrams that start a task (fragment 0
	 * at a node; a task with no node yet at a gateway). Bytes: the frame as XDP sees it,
	 * so a datagram costs at least its headers and a stream of tiny fragments is held
	 * to the rate too. */
	__u32 tasks_per_s; /* 64 */
	__u32 tasks_burst; /* 68: >= 1 with a rate */
	__u32 kib_per_s;   /* 72 */
	__u32 burst_kib;   /* 76: >= EP_KEY_MIN_BURST_KIB with a rate */
	/* Worked out by ep_key_derive() (GCRA cost and tolerance, as struct ep_rl_cfg), so
	 * the packet path divides nothing. */
	__u64 task_cost_ns; /* 80: 1e9 / tasks_per_s */
	__u64 task_tau_ns;  /* 88: tasks_burst x that */
	__u64 byte_cost;    /* 96: ns per byte in 1/1024 ns (EP_RL_BYTE_SHIFT): 1e9 / kib_per_s */
	__u64 byte_tau_ns;  /* 104 */
};
_Static_assert(sizeof(struct ep_key_entry) == 112, "ep_key_entry layout");
_Static_assert(__builtin_offsetof(struct ep_key_entry, types) == 24, "ep_key_entry layout");
_Static_assert(__builtin_offsetof(struct ep_key_entry, max_priority) == 60, "ep_key_entry layout");
_Static_assert(__builtin_offsetof(struct ep_key_entry, task_cost_ns) == 80, "ep_key_entry layout");

/*
 * ep_key_state: the GCRA state (theoretical arrival times, bpf_ktime_get_ns() ns) of each
 * key's buckets, an array indexed by key id. A map of its own, not fields of
 * struct ep_key_entry: the key sync rewrites entries whenever the controller sends them
 * (a changed limit, a revocation, a full resync after a reconnect), and a rewrite of the
 * value would refill the buckets each time, a burst for free per sync. Here an entry
 * rewrite leaves the buckets as they are; ep_xdp_write_key() clears a key id's state only
 * when a different key (another issued_unix_ms) takes the id, or the key is deleted. An
 * array: ids are dense and bounded, so the lookup is an index (no hashing, no insert race,
 * nothing to evict), 1 MiB in all.
 */
struct ep_key_state {
	__u64 tat_tasks;
	__u64 tat_bytes;
};
_Static_assert(sizeof(struct ep_key_state) == 16, "ep_key_state layout");

/* Fill in the derived fields of @e from its rates and bursts (a rate of 0: none). */
static inline __attribute__((always_inline)) void ep_key_derive(struct ep_key_entry *e)
{
	e->task_cost_ns = e->tasks_per_s ? EP_RL_NSEC / e->tasks_per_s : 0;
	e->task_tau_ns = e->tasks_per_s ? (__u64)e->tasks_burst * EP_RL_NSEC / e->tasks_per_s : 0;
	/* bytes/s = kib_per_s x 1024, so ns per byte in 1/1024 ns is 1e9 / kib_per_s. */
	e->byte_cost = e->kib_per_s ? EP_RL_NSEC / e->kib_per_s : 0;
	e->byte_tau_ns = e->kib_per_s ? (__u64)e->burst_kib * EP_RL_NSEC / e->kib_per_s : 0;
}

/*
 * ep_key_entry_fill - the one conversion of a key's host-order fields (the key object of
 * docs/protocol.md 3.5, struct ep_key_info) into @e, for every writer of ep_keys.
 * @now_unix_ms, @now_ns: the same instant on CLOCK_REALTIME (ms) and CLOCK_MONOTONIC (ns,
 *	bpf_ktime_get_ns()'s clock): the expiry, in unix ms, becomes a monotonic time, so a
 *	later step of the wall clock moves nothing. An expiry of 0 is "never"; one already
 *	past, 1 ns (refused).
 * @types: bitmap of allowed types 0..255, four host-order 64-bit words (uint64_t[4], as
 *	struct ep_key_limits has it; may be NULL with @all_types); @max_priority 0
 *	stays 0 (no request passes: a node's own key runs no task), above EP_PRIO_MAX is
 *	EP_PRIO_MAX; rates of 0 are no limit; a burst is raised to its minimum (1 task,
 *	EP_KEY_MIN_BURST_KIB) where a rate is set, else nothing would pass.
 */
static inline void ep_key_entry_fill(struct ep_key_entry *e, __u64 now_unix_ms, __u64 now_ns,
				     __u64 issued_unix_ms, __u64 expires_unix_ms, __u32 tenant,
				     int revoked, const void *types, int all_types,
				     __u8 max_priority, __u32 max_task_len, __u32 tasks_per_s,
				     __u32 burst_tasks, __u32 kib_per_s, __u32 burst_kib)
{
	*e = (struct ep_key_entry){
		.issued_unix_ms = issued_unix_ms,
		.tenant = tenant,
		.flags = (revoked ? EP_KEY_F_REVOKED : 0) | (all_types ? EP_KEY_F_ALL_TYPES : 0),
		.max_task_len = max_task_len,
		.max_priority = max_priority < EP_PRIO_MAX ? max_priority : EP_PRIO_MAX,
		.tasks_per_s = tasks_per_s,
		.tasks_burst = tasks_per_s && !burst_tasks ? 1 : burst_tasks,
		.kib_per_s = kib_per_s,
		.burst_kib = kib_per_s && burst_kib < EP_KEY_MIN_BURST_KIB ? EP_KEY_MIN_BURST_KIB
									   : burst_kib,
	};
	if (expires_unix_ms) {
		__u64 left_ms = expires_unix_ms > now_unix_ms ? expires_unix_ms - now_unix_ms : 0;

		/* ~0 (never, in effect) where the sum would wrap: 584 years. */
		e->expires_ns = !left_ms			       ? 1
				: left_ms > (~0ull - now_ns) / 1000000 ? ~0ull
								       : now_ns + left_ms * 1000000;
	}
	if (types)
		__builtin_memcpy(e->types, types, sizeof(e->types));
	ep_key_derive(e);
}

/* ------------------------------------------------------------------------------------ */
/* Load reports and the gateway's in-kernel load balancer (bpf/ep_gateway.bpf.c)         */
/* ------------------------------------------------------------------------------------ */

#define EP_CONTROL_PORT 7879 /* the controller's UDP port for load reports */
#define EP_ENCAP_PORT	7880 /* UDP encapsulation, gateway -> routed workers */

/*
 * The payload of an EP_KIND_LOAD_REPORT message, sent by every runtime to the controller
 * at least every 100 ms. Big-endian. A node's first report also registers it (if the
 * controller allows that), so it carries the node's addresses.
 */
struct ep_load_report {
	__be32 node_id;	     /* 1..EP_GW_MAX_NODES-1 */
	__be32 seq;	     /* +1 per report; liveness and ordering */
	__be32 interval_ms;  /* the sender's report period */
	__be32 cpu_pct_x100; /* CPU busy, 0..10000 (hundredths of a percent) */
	__be64 mem_free_kib; /* available memory */
	__be32 queue_depth;  /* tasks queued, waiting for a handler */
	__be32 inflight;     /* not yet answered: queued + running + being reassembled */
	__be32 p99_us;	     /* service time p99 over the last period */
	__be32 capacity;     /* relative capacity (100 = one reference core) */
	__be32 ip4;	     /* the node's address, for routed (encapsulated) forwarding */
	__u8 ip6[16];
	__u8 mac[6]; /* the node's MAC, for L2 direct server return */
	__be16 port; /* its task port */
	__be32 rate; /* tasks answered per second over the period */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_load_report) == 72, "ep_load_report layout");
/* A node may send a report between its periodic ones when its queue moves sharply (an
 * event report), at most one per this many ms; the controller's sequence check allows
 * for them. */
#define EP_REPORT_MIN_GAP_MS  5
/* Tasks waiting (queue_depth: queued, and in the RX ring) below this are noise, what any
 * busy node shows in a snapshot. */
#define EP_REPORT_QUEUE_TASKS 2

/* A node's queue as the gateway's P2C and event reports count it: @queued tasks waiting,
 * if they are at least EP_REPORT_QUEUE_TASKS and more than the node answers in
 * EP_REPORT_MIN_GAP_MS at its reported @rate (tasks/s), else 0. A shorter queue is gone
 * before a report could say so, so it is not steered by: a node of fast tasks always
 * shows a few waiting. */
static inline __attribute__((always_inline)) __u32 ep_queue_significant(__u32 queued, __u32 rate)
{
	if (queued < EP_REPORT_QUEUE_TASKS ||
	    (__u64)queued * 1000 <= (__u64)rate * EP_REPORT_MIN_GAP_MS)
		return 0;
	return queued;
}

/*
 * The wait, in ms, that a node's reported queue means: its waiting tasks, if they are a
 * queue (ep_queue_significant()), at its reported rate; 0 without a queue, or without a
 * rate to estimate by (a node that has answered nothing in its last period: just
 * started, or stalled, which P2C and the reports' age deal with). The controller writes
 * it into the node's entry; the gateway compares it with the priority's wait_max.
 */
static inline __attribute__((always_inline)) __u32 ep_queue_wait_ms(__u32 waiting, __u32 rate)
{
	__u64 ms;

	waiting = ep_queue_significant(waiting, rate);
	if (!waiting || !rate)
		return 0;
	ms = (__u64)waiting * 1000 / rate;
	return ms > 0xffffffffu ? 0xffffffffu : (__u32)ms;
}

/* Whether a node's significant queue (ep_queue_significant()) moved from @last (its last
 * report's) to @now enough to be reported at once: it formed or at least doubled, or at
 * least halved. Changes within a factor of two wait for the next periodic report. */
static inline __attribute__((always_inline)) int ep_queue_moved(__u32 last, __u32 now)
{
	if (now && now / 2 >= last)
		return 1;
	return last && now <= last / 2;
}

/*
 * Node ids are 1..EP_GW_MAX_NODES-1 (0 means none); arrays indexed by id have
 * EP_GW_MAX_NODES entries. A power of two, so that XDP can bound an id with a mask.
 * The Maglev table (control/table.c) has 2^bits slots per half, bits chosen from the
 * member count (ep_gw_table_bits()): at least 100 slots per member, as the Maglev paper
 * advises, between 2^EP_GW_TABLE_MIN_BITS and 2^EP_GW_TABLE_MAX_BITS.
 * ep_gw_table has room for two halves of the largest (EP_GW_TABLE_SIZE slots each).
 */
#define EP_GW_MAX_NODES	     8192
#define EP_GW_TABLE_MIN_BITS 12
#define EP_GW_TABLE_MAX_BITS 20
#define EP_GW_TABLE_SIZE     (1u << EP_GW_TABLE_MAX_BITS)
#define EP_GW_TABLE_PER_NODE 100 /* slots per member, at least (below the maximum size) */
/* A task's P2C choices are the table slots at its hash, its hash >> SHIFT and (if that
 * named the same node) >> 2 * SHIFT, each masked to the table's size: 64 - 2 * 21 = 22
 * bits for the third, enough for the largest table. */
#define EP_GW_CHOICE_SHIFT   21
/* P2C's and HASH's fallback scan (both choices ineligible) looks at most this many ids. */
#define EP_GW_SCAN_MAX	     64
_Static_assert(64 - 2 * EP_GW_CHOICE_SHIFT >= EP_GW_TABLE_MAX_BITS, "choice bits");
_Static_assert((EP_GW_MAX_NODES & (EP_GW_MAX_NODES - 1)) == 0, "EP_GW_MAX_NODES: power of 2");
_Static_assert((EP_GW_MAX_NODES - 1) * EP_GW_TABLE_PER_NODE <= EP_GW_TABLE_SIZE,
	       "the largest table holds 100 slots per node");

/* The table's size, as log2 of its slots, for @members nodes: the smallest power of two
 * of at least EP_GW_TABLE_PER_NODE slots per node, within the bounds above. A function of
 * the member count alone, so every gateway with the same membership agrees. */
static inline __attribute__((always_inline)) __u32 ep_gw_table_bits(__u32 members)
{
	__u32 bits = EP_GW_TABLE_MIN_BITS;

	while (bits < EP_GW_TABLE_MAX_BITS &&
	       (1ull << bits) < (__u64)members * EP_GW_TABLE_PER_NODE)
		bits++;
	return bits;
}

/* Node flags (struct ep_gw_node.flags). */
#define EP_NODE_F_PRESENT  0x01 /* a node with this id exists */
#define EP_NODE_F_DRAINED  0x02 /* no new tasks (by hand, or its reports stopped) */
#define EP_NODE_F_ENCAP	   0x04 /* routed: forward in UDP encapsulation, not L2 */
#define EP_NODE_F_OVERFLOW 0x08 /* the cloud tier: an overflow target only */
#define EP_NODE_F_MANUAL   0x10 /* drained by an operator (kept across restarts) */
/* ENCAP over an IPv6 underlay: outer IPv6 from ep_gw_cfg.gw_ip6 to the node's ip6. The
 * controller sets it for an encap node with an IPv6 address and no IPv4 one. */
#define EP_NODE_F_ENCAP6   0x20

/*
 * One worker as the gateway sees it: where it is and how loaded it was at its last report.
 * ep_gw_nodes holds two halves of EP_GW_MAX_NODES entries; the controller writes the half
 * ep_gw_cfg.active does not point at, then flips active, so XDP never reads a half-written
 * entry or table.
 */
struct ep_gw_node {
	__u32 flags;	/* EP_NODE_F_* */
	__u32 capacity; /* relative capacity, > 0 */
	__u8 mac[6];	/* DSR: the node's MAC; ENCAP: the next hop's */
	__u16 port;	/* the node's task port (information; host order) */
	__u32 ifindex;	/* egress interface; 0: the one the task came in on */
	__be32 ip4;	/* ENCAP: outer destination */
	__u8 ip6[16];	/* ENCAP6: outer destination; else information */
	/* Load, from the latest report. */
	__u32 cpu_pct_x100;
	__u32 queue_depth;
	__u32 inflight; /* queued + running + being reassembled */
	__u32 p99_us;
	__u32 rate;    /* tasks answered per second */
	__u32 wait_ms; /* the wait its reported queue means, ep_queue_wait_ms() */
	__u64 mem_free_kib;
	__u64 updated_ns; /* bpf_ktime_get_ns() clock; 0: never reported */
};
_Static_assert(sizeof(struct ep_gw_node) == 80, "ep_gw_node layout");
_Static_assert(__builtin_offsetof(struct ep_gw_node, mem_free_kib) == 64, "ep_gw_node layout");

enum ep_gw_policy {
	EP_GW_POLICY_P2C = 0, /* default: power of two choices by load, among eligible */
	EP_GW_POLICY_SEED,    /* the article's: most free memory among eligible */
	EP_GW_POLICY_HASH,    /* load-blind capacity-weighted hashing (a baseline) */
	EP_GW_POLICY__COUNT
};

/* What happens to a task when no node is eligible, per priority. */
enum ep_gw_overflow {
	EP_GW_OVF_REJECT = 0, /* an OVERLOADED reply built in XDP, so the client backs off */
	EP_GW_OVF_CLOUD,      /* forward to the overflow node (the cloud tier) */
	EP_GW_OVF_LOCAL,      /* run it on the gateway itself (its AF_XDP socket) */
};

/* ep_gw_cfg.flags */
#define EP_GW_F_RELAY 0x01 /* relay workers' replies that come back to us */

/* ep_gw_cfg[0]. */
struct ep_gw_cfg {
	__u16 port;	  /* task port at the gateway (the virtual address's) */
	__u16 encap_port; /* EP_ENCAP_PORT */
	__u8 policy;	  /* enum ep_gw_policy */
	__u8 active;	  /* half of ep_gw_nodes/ep_gw_table in use: 0 or 1 */
	__u8 pad0;
	__u8 flags;	       /* EP_GW_F_* */
	__u32 generation;      /* +1 per flip, for observers */
	__u32 overflow_node;   /* EP_GW_OVF_CLOUD target */
	__u64 stale_ns;	       /* load older than this is not trusted: capacity weights */
	__u16 cpu_max_x100[8]; /* [priority]: eligible while CPU is below this */
	__u8 overflow[8];      /* [priority]: enum ep_gw_overflow */
	__u8 mem_factor;       /* eligible while free memory > factor x size hint (2) */
	__u8 gw_mac[6];	       /* source MAC of forwarded and rejected frames */
	__u8 max_priority;     /* cpu_max and overflow by min(priority, this);
				* 0 = EP_PRIO_DEFAULT */
	__be32 gw_ip4;	       /* ENCAP: outer source; gw_ip6: ENCAP6's */
	__u8 gw_ip6[16];
	__u16 wait_max_ms[8]; /* [priority]: eligible while the wait its reported queue
			       * means (waiting tasks / its rate) is below this; 0: any */
	__u16 nnodes;	      /* highest node id in use + 1 (at most EP_GW_MAX_NODES) */
	__u8 table_bits[2];   /* [half]: its table has 2^bits slots (0: as MIN_BITS) */
};
_Static_assert(sizeof(struct ep_gw_cfg) == 96, "ep_gw_cfg layout");
_Static_assert(__builtin_offsetof(struct ep_gw_cfg, wait_max_ms) == 76, "ep_gw_cfg layout");
_Static_assert(__builtin_offsetof(struct ep_gw_cfg, max_priority) == 55, "ep_gw_cfg layout");
_Static_assert(__builtin_offsetof(struct ep_gw_cfg, nnodes) == 92, "ep_gw_cfg layout");

/*
 * ep_gw_relay: whose replies the gateway relays (EP_GW_F_RELAY). The controller writes the
 * entries of the half it publishes (key.half), with the nodes; XDP reads the active half.
 * A reply is relayed when its source address is a present node's (NODE; a node reached
 * by L2 must also send it from its MAC), or when it comes from one of the gateway's own
 * addresses (VIP: where a DSR worker answers from) and from the MAC of a present L2 node
 * (MAC). Anything else that looks like a reply goes to the kernel, and is counted.
 */
#define EP_GW_RELAY_NODE 1 /* addr: a present node's address */
#define EP_GW_RELAY_VIP	 2 /* addr: one of the gateway's addresses */
#define EP_GW_RELAY_MAC	 3 /* addr[0..5]: a present L2 (non-ENCAP) node's MAC */
/* The gateway's own addresses in the relay map (its interface's, and the configured
 * sources of DSR and encapsulation), at most. */
#define EP_GW_RELAY_VIPS 64
/* Entries, both halves: each node's IPv4 and IPv6 address and MAC, and the VIPs. */
#define EP_GW_RELAY_MAX	 (2 * (3 * EP_GW_MAX_NODES + EP_GW_RELAY_VIPS))

struct ep_gw_relay_key {
	__u8 addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u8 kind;     /* EP_GW_RELAY_* */
	__u8 half;     /* 0 or 1, as ep_gw_cfg.active */
	__u16 pad;
};
_Static_assert(sizeof(struct ep_gw_relay_key) == 20, "ep_gw_relay_key layout");

struct ep_gw_relay {
	__u8 mac[6];	/* NODE of an L2 node: the MAC its replies come from */
	__u8 check_mac; /* 1: the frame's source MAC must be mac */
	__u8 pad;
	__u32 node; /* the node's id (0 for VIP entries) */
};
_Static_assert(sizeof(struct ep_gw_relay) == 12, "ep_gw_relay layout");

/* Decision counters (per-CPU array ep_gw_stats). X(NAME, "name"). */
#define EP_GW_STAT_LIST(X)                                                                   \
	X(PICK_P2C, "pick_p2c")		  /* chose by load, two choices */                   \
	X(PICK_SCAN, "pick_scan")	  /* both choices ineligible: best of all */         \
	X(PICK_SEED, "pick_seed")	  /* the article's rule */                           \
	X(PICK_HASH, "pick_hash")	  /* load-blind */                                   \
	X(PICK_STALE, "pick_stale")	  /* loads too old: capacity weights */              \
	X(PICK_AFFINITY, "pick_affinity") /* a later fragment follows its task */            \
	X(FWD_DSR, "fwd_dsr")		  /* forwarded, MAC rewritten */                     \
	X(FWD_ENCAP, "fwd_encap")	  /* forwarded in UDP */                             \
	X(OVF_REJECT, "overflow_reject")  /* no node: OVERLOADED sent back */                \
	X(OVF_CLOUD, "overflow_cloud")                                                       \
	X(OVF_LOCAL, "overflow_local")                                                       \
	X(RELAY_REPLY, "relay_reply")		/* a worker's reply sent on to its client */ \
	X(RELAY_REFUSED, "relay_refused")	/* a "reply" not from a node: kernel's */    \
	X(DROP_LOOP, "drop_loop")		/* a task its node sent back: not again */   \
	X(DROP_ACK_UNKNOWN, "drop_ack_unknown") /* a RESULT_ACK, no record, no node */       \
	X(TX_ERROR, "tx_error")			/* could not rewrite or send */

enum ep_gw_stat {
#define EP_X_ENUM(name, str) EP_GW_STAT_##name,
	EP_GW_STAT_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_GW_STAT__COUNT
};

/* Per-node forwarding counters (per-CPU array ep_gw_node_stats, key node id). */
struct ep_gw_node_stats {
	__u64 tasks; /* first fragments (new tasks) sent to the node */
	__u64 packets;
	__u64 bytes;
};

/*
 * ep_gw_affinity: a multi-fragment task's node, so every fragment goes there. An
 * authenticated task (AUTH, checked against ep_keys) is known by its key instead of its
 * source: addr and port zero, key_id set, and remembered even with one fragment, so a
 * datagram replayed from another source lands on the node that saw it (whose replay window
 * drops it). key_id is 0 in every source-keyed entry, so the two never meet.
 */
struct ep_gw_flow_key {
	__u8 addr[16]; /* client, IPv4 as ::ffff:a.b.c.d; zero for AUTH */
	__u16 port;    /* client port, network order; zero for AUTH */
	__u16 key_id;  /* AUTH: auth_key_id (host order); else 0 */
	__u32 pad2;
	__u64 task_id;
};
_Static_assert(sizeof(struct ep_gw_flow_key) == 32, "ep_gw_flow_key layout");

/* ------------------------------------------------------------------------------------ */
/* Fault injection (bpf/ep_fault.bpf.c, the rig's lossy links)                           */
/* ------------------------------------------------------------------------------------ */

/* Rates are in parts per million of the packets the filter selects. */
struct ep_fault_cfg {
	__u32 drop_ppm;
	__u32 dup_ppm;	   /* send a second copy right behind the packet */
	__u32 corrupt_ppm; /* flip one random byte of the UDP payload (checksum stale) */
	__u16 udp_port;	   /* only UDP to or from this port; 0: every packet */
	__u16 pad;
};
_Static_assert(sizeof(struct ep_fault_cfg) == 16, "ep_fault_cfg layout");

enum ep_fault_stat {
	EP_FAULT_SEEN, /* packets the filter selected */
	EP_FAULT_DROPPED,
	EP_FAULT_DUPLICATED,
	EP_FAULT_CORRUPTED,
	EP_FAULT__COUNT
};

/* skb->mark of the copies the fault program makes, so it lets them pass untouched. */
#define EP_FAULT_CLONE_MARK 0x45504643 /* "EPFC" */

/* ------------------------------------------------------------------------------------ */
/* Byte order, usable from BPF and userspace alike                                      */
/* ------------------------------------------------------------------------------------ */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ep_be16(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define ep_be32(x) ((__u32)__builtin_bswap32((__u32)(x)))
#define ep_be64(x) ((__u64)__builtin_bswap64((__u64)(x)))
#else
#define ep_be16(x) ((__u16)(x))
#define ep_be32(x) ((__u32)(x))
#define ep_be64(x) ((__u64)(x))
#endif

#endif /* EP_SHARED_H */
