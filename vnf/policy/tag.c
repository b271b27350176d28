/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "tag.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

#include "mpls.h"
#include "nsh.h"
#include "wire.h"

#define rd16 wire_rd16
#define wr16 wire_wr16
#define wr32 wire_wr32

/* Offset of the EtherType that follows the VLAN tags, or -1 if the frame is not one to tag. */
static int
inner_ethertype_off(const uint8_t *f, uint32_t len)
{
	struct wire_l2 l2;

	return wire_walk_l2(f, len, &l2) == WIRE_OK ? (int)l2.type_off : -1;
}

/* Make room for `grow` bytes in front of byte `at` by moving the first `at` bytes back. */
static int
open_gap(uint8_t **frame, uint32_t *len, uint32_t headroom, uint32_t max_len, uint32_t at,
	 uint32_t grow)
{
	if (*len + grow > max_len)
		return -EMSGSIZE;
	if (grow > headroom)
		return -ENOSPC;
	memmove(*frame - grow, *frame, at);
	*frame -= grow;
	*len += grow;
	return 0;
}

/* ---- NSH (RFC 8300) ---- */

static uint32_t
tlv_len(uint32_t value_len)
{
	return NSH_TLV_HDR_LEN + ((value_len + 3) & ~3u);
}

static size_t
host_len(const struct tag_meta *meta)
{
	size_t n = meta->host != NULL ? strlen(meta->host) : 0;

	return n > NSH_TLV_MAX_VALUE ? NSH_TLV_MAX_VALUE : n;
}

uint32_t
tag_nsh_len(const struct tag_spec *spec, const struct tag_meta *meta)
{
	uint32_t n;

	if (spec->md_type == NSH_MD_TYPE_1)
		return NSH_MD1_LEN;
	n = NSH_BASE_LEN + 4 * tlv_len(4);
	if (host_len(meta) > 0)
		n += tlv_len((uint32_t)host_len(meta));
	return n;
}

static uint32_t
nsh_max_growth(const struct tag_spec *spec)
{
	struct tag_meta longest = {0};
	char host[NSH_TLV_MAX_VALUE + 1];

	memset(host, 'x', NSH_TLV_MAX_VALUE);
	host[NSH_TLV_MAX_VALUE] = '\0';
	longest.host = host;
	return ETH_HDR_LEN + tag_nsh_len(spec, &longest);
}

/*
 * What a flow's NSH header carries, shared by apply() and tag_push_of(): the fixed context
 * (MD type 1, DESIGN.md's C1..C4) and the TLVs (MD type 2: the same four, then the host).
 */
static void
nsh_context(const struct tag_meta *meta, uint32_t c[4])
{
	c[0] = (uint32_t)meta->master_proto << 16 | meta->app_proto;
	c[1] = meta->category;
	c[2] = meta->flow_id;
	c[3] = meta->policy_version;
}

struct nsh_tlv_ref {
	uint8_t type;
	uint8_t len;
	const uint8_t *value;
};

/* The MD type 2 TLVs in order; `words` holds the 4-byte values. Returns how many. */
static unsigned int
nsh_tlvs(const struct tag_meta *meta, uint8_t words[4][4], struct nsh_tlv_ref t[TAG_PUSH_MAX_TLVS])
{
	static const uint8_t types[4] = {NSH_TLV_APP, NSH_TLV_CATEGORY, NSH_TLV_FLOW_ID,
					 NSH_TLV_POLICY_VERSION};
	uint32_t c[4];
	unsigned int i;

	nsh_context(meta, c);
	for (i = 0; i < 4; i++) {
		wr32(words[i], c[i]);
		t[i].type = types[i];
		t[i].len = 4;
		t[i].value = words[i];
	}
	if (host_len(meta) == 0)
		return 4;
	t[4].type = NSH_TLV_HOST;
	t[4].len = (uint8_t)host_len(meta);
	t[4].value = (const uint8_t *)meta->host;
	return 5;
}

static uint8_t *
put_tlv(uint8_t *p, uint8_t type, const void *value, uint32_t len)
{
	wr16(p, NSH_MD_CLASS_FLOWTAG);
	p[2] = type;
	p[3] = (uint8_t)len; /* U bit 0, 7-bit length in bytes (§2.5.1) */
	memcpy(p + 4, value, len);
	memset(p + 4 + len, 0, ((len + 3) & ~3u) - len);
	return p + tlv_len(len);
}

static int
nsh_apply(const struct tag_spec *spec, const struct tag_meta *meta, uint8_t **frame,
	  uint32_t *len, uint32_t headroom, uint32_t max_len)
{
	uint32_t nsh_len = tag_nsh_len(spec, meta), grow = ETH_HDR_LEN + nsh_len;
	uint8_t *outer, *h;

	if (*len < ETH_HDR_LEN)
		return -EINVAL;
	if (*len + grow > max_len)
		return -EMSGSIZE;
	if (grow > headroom)
		return -ENOSPC;
	outer = *frame - grow;
	/* Outer Ethernet: the inner frame's addresses, EtherType NSH (RFC 8300 §9.1). */
	memcpy(outer, *frame, ETH_ADDRS_LEN);
	wr16(outer + ETH_ADDRS_LEN, NSH_ETHERTYPE);
	h = outer + ETH_HDR_LEN;
	/* §2.2: Ver 0, O 0, U 0, TTL, Length (words), MD type, Next Protocol = Ethernet. */
	h[0] = (uint8_t)((NSH_DEFAULT_TTL >> 2) & 0x0f);
	h[1] = (uint8_t)(((NSH_DEFAULT_TTL & 0x3) << 6) | ((nsh_len / 4) & 0x3f));
	h[2] = spec->md_type & 0x0f;
	h[3] = NSH_NP_ETHERNET;
	/* §2.3: SPI (24 bits) and SI. */
	wr32(h + 4, (spec->spi & NSH_MAX_SPI) << 8 | meta->si);
	if (spec->md_type == NSH_MD_TYPE_1) {
		uint32_t c[4];

		/* §2.4 fixed context: flowtag's C1..C4 (DESIGN.md). */
		nsh_context(meta, c);
		for (int i = 0; i < 4; i++)
			wr32(h + 8 + 4 * i, c[i]);
	} else {
		struct nsh_tlv_ref t[TAG_PUSH_MAX_TLVS];
		uint8_t words[4][4];
		unsigned int i, n = nsh_tlvs(meta, words, t);
		uint8_t *p = h + NSH_BASE_LEN;

		for (i = 0; i < n; i++)
			p = put_tlv(p, t[i].type, t[i].value, t[i].len);
	}
	*frame = outer;
	*len += grow;
	return 0;
}

int
tag_nsh_decap(uint8_t **frame, uint32_t *len)
{
	const uint8_t *h = *frame + ETH_HDR_LEN;
	uint32_t nsh_len;

	if (*len < ETH_HDR_LEN + NSH_BASE_LEN || rd16(*frame + ETH_ADDRS_LEN) != NSH_ETHERTYPE)
		return -EINVAL;
	nsh_len = (uint32_t)(h[1] & 0x3f) * 4;
	if (nsh_len < NSH_BASE_LEN || (h[0] >> 6) != 0 || h[3] != NSH_NP_ETHERNET ||
	    *len < ETH_HDR_LEN + nsh_len + ETH_HDR_LEN)
		return -EINVAL;
	*frame += ETH_HDR_LEN + nsh_len;
	*len -= ETH_HDR_LEN + nsh_len;
	return 0;
}

/* ---- 802.1Q ---- */

/* VLAN and MPLS push one 4-byte entry at most (a tagged frame's VID is rewritten in place). */
static uint32_t
four_bytes(const struct tag_spec *spec)
{
	(void)spec;
	return VLAN_TAG_LEN;
}

static int
vlan_apply(const struct tag_spec *spec, const struct tag_meta *meta, uint8_t **frame,
	   uint32_t *len, uint32_t headroom, uint32_t max_len)
{
	uint8_t *f = *frame;
	int rc;

	(void)meta;
	if (*len < ETH_HDR_LEN)
		return -EINVAL;
	if (wire_is_vlan_tpid(rd16(f + ETH_ADDRS_LEN))) {
		if (*len < ETH_HDR_LEN + VLAN_TAG_LEN)
			return -EINVAL;
		/* Already tagged: the outer tag's VID becomes the chain's, its PCP stays. */
		wr16(f + ETH_ADDRS_LEN + 2, (uint16_t)((rd16(f + 14) & 0xf000) | spec->vid));
		return 0;
	}
	rc = open_gap(frame, len, headroom, max_len, ETH_ADDRS_LEN, VLAN_TAG_LEN);
	if (rc != 0)
		return rc;
	wr16(*frame + ETH_ADDRS_LEN, ETHERTYPE_VLAN);
	wr16(*frame + ETH_ADDRS_LEN + 2, spec->vid & 0x0fff);
	return 0;
}

/* ---- MPLS (RFC 3032), networking-sfc's label encoding ---- */

static int
mpls_apply(const struct tag_spec *spec, const struct tag_meta *meta, uint8_t **frame,
	   uint32_t *len, uint32_t headroom, uint32_t max_len)
{
	int type_off = inner_ethertype_off(*frame, *len);
	uint32_t label = (spec->spi & MPLS_SFC_MAX_SPI) << 8 | meta->si;
	uint8_t *lse;
	int rc;

	if (type_off < 0)
		return -EINVAL;
	/* The label stack goes between the L2 header (tags included) and the payload. */
	rc = open_gap(frame, len, headroom, max_len, (uint32_t)type_off + 2, MPLS_LSE_LEN);
	if (rc != 0)
		return rc;
	wr16(*frame + type_off, MPLS_ETHERTYPE);
	lse = *frame + type_off + 2;
	wr32(lse, label << 12 | MPLS_BOS | meta->si); /* TC 0, bottom of stack, TTL = SI */
	return 0;
}

/* ---- DSCP ---- */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one changed 16-bit word. */
static uint16_t
csum_update16(uint16_t hc, uint16_t old_word, uint16_t new_word)
{
	uint32_t s = (uint16_t)~hc + (uint16_t)~old_word + new_word;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int
dscp_apply(const struct tag_spec *spec, const struct tag_meta *meta, uint8_t **frame,
	   uint32_t *len, uint32_t headroom, uint32_t max_len)
{
	int type_off = inner_ethertype_off(*frame, *len);
	uint8_t *ip;
	uint16_t type;

	(void)meta;
	(void)headroom;
	(void)max_len;
	if (type_off < 0)
		return -EINVAL;
	type = rd16(*frame + type_off);
	ip = *frame + type_off + 2;
	if (type == ETHERTYPE_IPV4 && (uint32_t)(type_off + 2 + 20) <= *len && (ip[0] >> 4) == 4) {
		uint16_t old_word = rd16(ip);
		uint8_t tos = (uint8_t)((spec->dscp << 2) | (ip[1] & 0x03)); /* ECN bits stay */

		ip[1] = tos;
		wr16(ip + 10, csum_update16(rd16(ip + 10), old_word, rd16(ip)));
		return 0;
	}
	if (type == ETHERTYPE_IPV6 && (uint32_t)(type_off + 2 + 40) <= *len && (ip[0] >> 4) == 6) {
		uint8_t tc = (uint8_t)(((ip[0] & 0x0f) << 4) | (ip[1] >> 4));

		tc = (uint8_t)((spec->dscp << 2) | (tc & 0x03));
		ip[0] = (uint8_t)(0x60 | (tc >> 4));
		ip[1] = (uint8_t)((tc << 4) | (ip[1] & 0x0f));
		return 0;
	}
	return -EINVAL;
}

/* DSCP rewrites a field in place. */
static uint32_t
no_growth(const struct tag_spec *spec)
{
	(void)spec;
	return 0;
}

_Static_assert(MPLS_LSE_LEN == VLAN_TAG_LEN, "both push one 4-byte entry");

/* ---- what each kind takes, and how the switch tells chains apart by it ---- */

#define PARAM(k, field, lo, hi, fb, req, reason)                                                   \
	{.key = k, .offset = offsetof(struct tag_spec, field), .min = lo, .max = hi,               \
	 .fallback = fb, .required = req, .why = reason}

static const struct tag_param nsh_params[] = {
	PARAM("spi", spi, 1, NSH_MAX_SPI, 0, true, "24 bits, RFC 8300 §2.3"),
	PARAM("md_type", md_type, NSH_MD_TYPE_1, NSH_MD_TYPE_2, NSH_MD_TYPE_1, false,
	      "type 1 (fixed context) or 2 (TLVs)"),
	{.key = NULL},
};
static const struct tag_param vlan_params[] = {
	PARAM("vid", vid, 1, VLAN_MAX_VID, 0, true, "802.1Q; 0 and 4095 are reserved"),
	{.key = NULL},
};
static const struct tag_param mpls_params[] = {
	PARAM("spi", spi, 1, MPLS_SFC_MAX_SPI, 0, true, "label = SPI << 8 | SI has 20 bits"),
	{.key = NULL},
};
static const struct tag_param dscp_params[] = {
	PARAM("dscp", dscp, 1, 63, 0, true, "0 is unmarked traffic"),
	{.key = NULL},
};

static uint32_t
steer_spi(const struct tag_spec *spec)
{
	return spec->spi;
}

static uint32_t
steer_vid(const struct tag_spec *spec)
{
	return spec->vid;
}

static uint32_t
steer_dscp(const struct tag_spec *spec)
{
	return spec->dscp;
}

static void
nsh_describe(const struct tag_spec *spec, struct json_buf *b)
{
	json_printf(b, ",\"spi\":%u,\"md_type\":%u", spec->spi, spec->md_type);
}

static void
vlan_describe(const struct tag_spec *spec, struct json_buf *b)
{
	json_printf(b, ",\"vid\":%u", spec->vid);
}

static void
mpls_describe(const struct tag_spec *spec, struct json_buf *b)
{
	json_printf(b, ",\"spi\":%u,\"label\":%u", spec->spi,
		    (spec->spi & MPLS_SFC_MAX_SPI) << 8 | NSH_SI_CLASSIFIER);
}

static void
dscp_describe(const struct tag_spec *spec, struct json_buf *b)
{
	json_printf(b, ",\"dscp\":%u", spec->dscp);
}

static const struct tag_class tag_classes[TAG_KIND_COUNT] = {
	[TAG_NSH] = {.name = "nsh", .apply = nsh_apply, .max_growth = nsh_max_growth,
		     .params = nsh_params, .steer_space = "SPI", .steer_value = steer_spi,
		     .describe = nsh_describe},
	[TAG_VLAN] = {.name = "vlan", .apply = vlan_apply, .max_growth = four_bytes,
		      .params = vlan_params, .steer_space = "VLAN", .steer_value = steer_vid,
		      .describe = vlan_describe},
	[TAG_MPLS] = {.name = "mpls", .apply = mpls_apply, .max_growth = four_bytes,
		      .params = mpls_params, .steer_space = "SPI", .steer_value = steer_spi,
		      .describe = mpls_describe},
	[TAG_DSCP] = {.name = "dscp", .apply = dscp_apply, .max_growth = no_growth,
		      .params = dscp_params, .steer_space = "DSCP", .steer_value = steer_dscp,
		      .describe = dscp_describe},
};

const char *const tag_kind_names[TAG_KIND_COUNT + 1] = {"nsh", "vlan", "mpls", "dscp", NULL};

int
tag_kind_by_name(const char *name)
{
	int k;

	for (k = 0; k < TAG_KIND_COUNT; k++)
		if (strcmp(tag_classes[k].name, name) == 0)
			return k;
	return -1;
}

const struct tag_param *
tag_param_of(enum tag_kind kind, const char *key)
{
	const struct tag_param *p;

	if ((unsigned int)kind >= TAG_KIND_COUNT)
		return NULL;
	for (p = tag_classes[kind].params; p->key != NULL; p++)
		if (strcmp(p->key, key) == 0)
			return p;
	return NULL;
}

int
tag_check(const struct tag_spec *spec, char *err, size_t err_len)
{
	const struct tag_param *p;

	if ((unsigned int)spec->kind >= TAG_KIND_COUNT) {
		snprintf(err, err_len, "no such tag");
		return -1;
	}
	for (p = tag_classes[spec->kind].params; p->key != NULL; p++) {
		uint32_t v = *(const uint32_t *)(const void *)((const char *)spec + p->offset);

		if (v < p->min || v > p->max) {
			snprintf(err, err_len, "%s '%s' must be %u to %u%s%s", tag_classes[spec->kind].name,
				 p->key, p->min, p->max, p->why[0] ? " (" : "", p->why[0] ? p->why : "");
			if (p->why[0])
				strncat(err, ")", err_len - strlen(err) - 1);
			return -1;
		}
	}
	return 0;
}

const struct tag_class *
tag_class_of(enum tag_kind kind)
{
	return &tag_classes[kind];
}

const char *
tag_kind_name(enum tag_kind kind)
{
	return (unsigned int)kind < TAG_KIND_COUNT ? tag_classes[kind].name : "invalid";
}

void
tag_push_of(const struct tag_spec *spec, const struct tag_meta *meta, bool frame_tagged,
	    struct tag_push *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = spec->kind;
	switch (spec->kind) {
	case TAG_NSH:
		out->md_type = (uint8_t)spec->md_type;
		out->spi = spec->spi & NSH_MAX_SPI;
		out->si = meta->si;
		out->ttl = NSH_DEFAULT_TTL;
		if (spec->md_type == NSH_MD_TYPE_1) {
			nsh_context(meta, out->context);
		} else {
			struct nsh_tlv_ref t[TAG_PUSH_MAX_TLVS];
			uint8_t words[4][4];
			unsigned int i, n = nsh_tlvs(meta, words, t);

			for (i = 0; i < n; i++) {
				out->tlvs[i].md_class = NSH_MD_CLASS_FLOWTAG;
				out->tlvs[i].type = t[i].type;
				out->tlvs[i].len = t[i].len;
				memcpy(out->tlvs[i].value, t[i].value, t[i].len);
			}
			out->n_tlvs = (uint8_t)n;
		}
		break;
	case TAG_VLAN:
		out->vlan_rewrite = frame_tagged;
		out->vid = (uint16_t)(spec->vid & 0x0fff);
		break;
	case TAG_MPLS:
		out->mpls_label = (spec->spi & MPLS_SFC_MAX_SPI) << 8 | meta->si;
		out->mpls_ttl = meta->si;
		break;
	case TAG_DSCP:
		out->dscp = (uint8_t)spec->dscp;
		break;
	default:
		break;
	}
}
