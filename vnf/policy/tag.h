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

#include <stddef.h>
#include <stdint.h>

enum tag_kind {
	TAG_NSH,
	TAG_VLAN,
	TAG_MPLS,
	TAG_DSCP,
	TAG_KIND_COUNT
};

/* A chain's tag, fixed at policy compile time. */
struct tag_spec {
	enum tag_kind kind;
	uint32_t spi; /* NSH and MPLS */
	uint8_t md_type; /* NSH: 1 or 2 */
	uint16_t vid; /* VLAN */
	uint8_t dscp; /* DSCP: 0..63 */
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
};

const struct tag_class *tag_class_of(enum tag_kind kind);
const char *tag_kind_name(enum tag_kind kind);

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

/* Bytes an NSH header of this spec and meta takes (for MTU planning and tests). */
uint32_t tag_nsh_len(const struct tag_spec *spec, const struct tag_meta *meta);

/*
 * Remove an outer Ethernet + NSH header whose next protocol is Ethernet, leaving the inner
 * frame. Returns 0, or -EINVAL if the frame is not that (it is then unchanged).
 */
int tag_nsh_decap(uint8_t **frame, uint32_t *len);

#endif
