/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Tag encoders: how a chain's decision is written into a packet for OVS to steer on.
 *
 *   nsh   RFC 8300 NSH, MD type 1 (C1..C4) or 2 (TLVs + host name), inner Ethernet frame
 *   vlan  802.1Q VID pushed (or the existing outer tag's VID rewritten)
 *   mpls  one label stack entry, label = SPI << 8 | SI, TTL = SI (networking-sfc's encoding)
 *   dscp  IPv4 DSCP rewritten with the header checksum fixed; IPv6 traffic class
 *
 * Each encoder is a `const struct tag_class`; all are pure functions on a contiguous frame
 * with free headroom before it (an mbuf's), so unit tests check them byte for byte. They grow
 * the frame at the front only, never past `max_len`. Any thread.
 */
#ifndef FLOWTAG_TAG_H
#define FLOWTAG_TAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tag_kind {
	TAG_NSH,
	TAG_VLAN,
	TAG_MPLS,
	TAG_DSCP,
	TAG_KIND_COUNT
};

struct json_buf;

/* A chain's tag, fixed at policy compile time. Which fields a kind uses: its class's params. */
struct tag_spec {
	enum tag_kind kind;
	uint32_t spi; /* NSH and MPLS */
	uint32_t md_type; /* NSH: 1 or 2 */
	uint32_t vid; /* VLAN */
	uint32_t dscp; /* DSCP: 1..63 */
};

/*
 * A parameter a tag kind takes in a chain's definition (spi: 10, vid: 200, ...): the one
 * place that says which key belongs to which tag and what range it has. The config reader,
 * the policy compiler and the API all go by these.
 */
struct tag_param {
	const char *key;
	size_t offset; /* of its uint32_t in struct tag_spec */
	uint32_t min, max;
	uint32_t fallback; /* when absent and not required */
	bool required;
	const char *why; /* the range's reason, for messages ("" if none) */
};

/* What a flow carries in its tag. */
struct tag_meta {
	uint16_t master_proto;
	uint16_t app_proto;
	uint16_t category;
	uint8_t si; /* service index at the classifier: NSH_SI_CLASSIFIER */
	uint32_t flow_id;
	uint32_t policy_version;
	const char *host; /* NSH MD type 2 only; NULL or "" for none */
};

struct tag_class {
	const char *name;
	/*
	 * Tag the frame at *frame (len *len, `headroom` writable bytes before it). On success
	 * returns 0 and *frame / *len describe the tagged frame. Errors: -EMSGSIZE (the result
	 * would exceed max_len), -ENOSPC (not enough headroom), -EINVAL (the frame cannot carry
	 * this tag, e.g. DSCP on a non-IP frame). On error the frame is unchanged.
	 */
	int (*apply)(const struct tag_spec *spec, const struct tag_meta *meta, uint8_t **frame,
		     uint32_t *len, uint32_t headroom, uint32_t max_len);
	/*
	 * The most bytes apply() can add to a frame for this spec, whatever the meta (an NSH
	 * MD type 2 header with the longest host name): the headroom a packet needs.
	 */
	uint32_t (*max_growth)(const struct tag_spec *spec);
	const struct tag_param *params; /* a NULL key last */
	/*
	 * How the switch tells chains apart by this tag: two chains clash when their spaces
	 * are the same and their values too (NSH and MPLS share the SPI space). The space's
	 * name is what messages call the value ("SPI", "VLAN", "DSCP").
	 */
	const char *steer_space;
	uint32_t (*steer_value)(const struct tag_spec *spec);
	/* The tag's own fields for GET /v1/chains: `,"spi":10,"md_type":1` and the like. */
	void (*describe)(const struct tag_spec *spec, struct json_buf *b);
};

const struct tag_class *tag_class_of(enum tag_kind kind);
const char *tag_kind_name(enum tag_kind kind);
/* The kind named `name` ("nsh", ...), or -1. */
int tag_kind_by_name(const char *name);
/* The kinds' names, NULL-terminated, in enum order (for readers of the config). */
extern const char *const tag_kind_names[];
/* The param of `kind` called `key`, or NULL. */
const struct tag_param *tag_param_of(enum tag_kind kind, const char *key);
/* Every param in range (a spec built in code goes by the same rules). 0, or -1 with err. */
int tag_check(const struct tag_spec *spec, char *err, size_t err_len);

static inline int
tag_apply(const struct tag_spec *spec, const struct tag_meta *meta, uint8_t **frame,
	  uint32_t *len, uint32_t headroom, uint32_t max_len)
{
	return tag_class_of(spec->kind)->apply(spec, meta, frame, len, headroom, max_len);
}

static inline uint32_t
tag_max_growth(const struct tag_spec *spec)
{
	return tag_class_of(spec->kind)->max_growth(spec);
}

/*
 * A tag as the steps a switch takes to push it itself (OVS, for an offloaded flow): the same
 * header apply() writes, field by field, so ctl/openflow.c can say it as OpenFlow actions.
 * Built by tag_push_of() from the same helpers apply() uses, so the two cannot drift apart.
 */
#define TAG_PUSH_MAX_TLVS 5

struct tag_push_tlv {
	uint16_t md_class;
	uint8_t type;
	uint8_t len; /* value bytes, unpadded (at most NSH_TLV_MAX_VALUE) */
	uint8_t value[128];
};

struct tag_push {
	enum tag_kind kind;
	/* NSH: a header with next protocol Ethernet in front of the frame, then an outer
	 * Ethernet header with the frame's own addresses and EtherType NSH. */
	uint8_t md_type;
	uint8_t si;
	uint8_t ttl;
	uint32_t spi;
	uint32_t context[4]; /* MD type 1: C1..C4 */
	uint8_t n_tlvs; /* MD type 2 */
	struct tag_push_tlv tlvs[TAG_PUSH_MAX_TLVS];
	/* VLAN: push an 802.1Q tag (PCP 0), or, on a tagged frame, rewrite the outer VID. */
	bool vlan_rewrite;
	uint16_t vid;
	/* MPLS: push one label stack entry after the VLAN tags (TC 0, bottom of stack). */
	uint32_t mpls_label;
	uint8_t mpls_ttl;
	/* DSCP: rewrite the IP DSCP (ECN kept; the IPv4 checksum follows). */
	uint8_t dscp;
};

/*
 * The push for a frame of a flow with this spec and meta; `frame_tagged`: the frame carries
 * one VLAN tag (the switch can match and rewrite it; flowtag offloads no QinQ flow).
 */
void tag_push_of(const struct tag_spec *spec, const struct tag_meta *meta, bool frame_tagged,
		 struct tag_push *out);

/* Bytes an NSH header of this spec and meta takes (for MTU planning and tests). */
uint32_t tag_nsh_len(const struct tag_spec *spec, const struct tag_meta *meta);

/*
 * Remove an outer Ethernet + NSH header whose next protocol is Ethernet, leaving the inner
 * frame. Returns 0, or -EINVAL if the frame is not that (it is then unchanged).
 */
int tag_nsh_decap(uint8_t **frame, uint32_t *len);

#endif
