/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "openflow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tag.h"
#include "wire.h"

/* ---- byte order ---- */

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* ---- the builder ---- */

static uint8_t *
put(struct of_buf *b, size_t n)
{
	uint8_t *p;

	if (b->overflow || n > sizeof(b->data) - b->len) {
		b->overflow = true;
		return NULL;
	}
	p = b->data + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

static void
put8(struct of_buf *b, uint8_t v)
{
	uint8_t *p = put(b, 1);

	if (p != NULL)
		p[0] = v;
}

static void
put16(struct of_buf *b, uint16_t v)
{
	uint8_t *p = put(b, 2);

	if (p != NULL)
		wire_wr16(p, v);
}

static void
put32(struct of_buf *b, uint32_t v)
{
	uint8_t *p = put(b, 4);

	if (p != NULL)
		wire_wr32(p, v);
}

static void
put64(struct of_buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static void
put_bytes(struct of_buf *b, const void *v, size_t n)
{
	uint8_t *p = put(b, n);

	if (p != NULL)
		memcpy(p, v, n);
}

static void
pad_to(struct of_buf *b, size_t start, size_t align)
{
	size_t used = b->len - start;

	if (used % align != 0)
		put(b, align - used % align);
}

/* Patch a 16-bit length at `at` with the bytes from `start` to the end. */
static void
patch_len(struct of_buf *b, size_t at, size_t start)
{
	if (!b->overflow)
		wire_wr16(b->data + at, (uint16_t)(b->len - start));
}

static size_t
begin_msg(struct of_buf *b, uint8_t type, uint32_t xid)
{
	size_t start = b->len;

	put8(b, OFP13_VERSION);
	put8(b, type);
	put16(b, 0); /* length, patched by end_msg */
	put32(b, xid);
	return start;
}

static void
end_msg(struct of_buf *b, size_t start)
{
	patch_len(b, start + 2, start);
}

int
of_parse_header(const uint8_t *p, size_t len, struct of_header *h)
{
	if (len < OF_HEADER_LEN)
		return -EINVAL;
	h->version = p[0];
	h->type = p[1];
	h->length = rd16(p + 2);
	h->xid = rd32(p + 4);
	return h->length < OF_HEADER_LEN ? -EINVAL : 0;
}

/* ---- OXM fields ---- */

#define OXM_CLASS_NXM0 0x0000
#define OXM_CLASS_NXM1 0x0001
#define OXM_CLASS_BASIC 0x8000
#define OXM_CLASS_EXPERIMENTER 0xffff
#define OXM_EXP_ONF 0x4f4e4600 /* ONFOXM_ET_*: OpenFlow 1.5 fields offered to 1.3 */
#define OXM_EXP_NSH 0x005ad650 /* NXOXM_NSH_*: OVS's NSH fields */

enum oxm_basic_field {
	OXM_IN_PORT = 0,
	OXM_ETH_TYPE = 5,
	OXM_VLAN_VID = 6,
	OXM_IP_DSCP = 8,
	OXM_IP_PROTO = 10,
	OXM_IPV4_SRC = 11,
	OXM_IPV4_DST = 12,
	OXM_TCP_SRC = 13,
	OXM_TCP_DST = 14,
	OXM_UDP_SRC = 15,
	OXM_UDP_DST = 16,
	OXM_IPV6_SRC = 26,
	OXM_IPV6_DST = 27,
	OXM_MPLS_LABEL = 34,
	OXM_MPLS_TC = 35,
};
#define ONF_TCP_FLAGS 42
enum oxm_nsh_field {
	NSH_SPI = 4,
	NSH_SI = 5,
	NSH_C1 = 6, /* C2..C4 follow */
};
/* NXM headers for register moves (class, field, length). */
#define NXM_OF_ETH_DST 0x00000206u
#define NXM_OF_ETH_SRC 0x00000406u
#define NXM_NX_XXREG(n) (0x0001de10u + ((uint32_t)(n) << 9)) /* field 111 + n, 16 bytes */

static uint32_t
oxm_header(uint16_t cls, uint8_t field, bool has_mask, uint8_t len)
{
	return (uint32_t)cls << 16 | (uint32_t)field << 9 | (uint32_t)has_mask << 8 | len;
}

static void
oxm_basic(struct of_buf *b, uint8_t field, const void *value, uint8_t len)
{
	put32(b, oxm_header(OXM_CLASS_BASIC, field, false, len));
	put_bytes(b, value, len);
}

static void
oxm_basic16(struct of_buf *b, uint8_t field, uint16_t v)
{
	uint8_t x[2];

	wire_wr16(x, v);
	oxm_basic(b, field, x, 2);
}

/* ---- matches ---- */

static void
put_match(struct of_buf *b, const struct of_match *m)
{
	size_t start = b->len;

	put16(b, 1); /* OFPMT_OXM */
	put16(b, 0); /* length without padding, patched below */
	if (m != NULL) {
		bool v6 = m->ip_version == 6;
		bool tcp = m->ip_proto == 6;
		uint8_t x[4];

		if (m->in_port != 0) {
			wire_wr32(x, m->in_port);
			oxm_basic(b, OXM_IN_PORT, x, 4);
		}
		oxm_basic16(b, OXM_ETH_TYPE, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
		if (m->match_vlan)
			oxm_basic16(b, OXM_VLAN_VID, m->vlan_vid);
		oxm_basic(b, v6 ? OXM_IPV6_SRC : OXM_IPV4_SRC, m->src, v6 ? 16 : 4);
		oxm_basic(b, v6 ? OXM_IPV6_DST : OXM_IPV4_DST, m->dst, v6 ? 16 : 4);
		oxm_basic(b, OXM_IP_PROTO, &m->ip_proto, 1);
		oxm_basic16(b, tcp ? OXM_TCP_SRC : OXM_UDP_SRC, m->tp_src);
		oxm_basic16(b, tcp ? OXM_TCP_DST : OXM_UDP_DST, m->tp_dst);
		if (tcp && m->tcp_flags_clear != 0) {
			/* Value 0 under the mask: none of these flags set. */
			put32(b, oxm_header(OXM_CLASS_EXPERIMENTER, ONF_TCP_FLAGS, true, 8));
			put32(b, OXM_EXP_ONF);
			put16(b, 0);
			put16(b, m->tcp_flags_clear);
		}
	}
	patch_len(b, start + 2, start);
	pad_to(b, start, 8);
}

int
of_parse_match(const uint8_t *p, size_t len, struct of_match *m)
{
	size_t mlen, off, padded;

	memset(m, 0, sizeof(*m));
	if (len < 4 || rd16(p) != 1)
		return -EINVAL;
	mlen = rd16(p + 2);
	padded = (mlen + 7) & ~(size_t)7;
	if (mlen < 4 || padded > len)
		return -EINVAL;
	for (off = 4; off < mlen;) {
		uint32_t h;
		uint16_t cls;
		uint8_t field, flen;
		bool has_mask;
		const uint8_t *v;

		if (mlen - off < 4)
			return -EINVAL;
		h = rd32(p + off);
		cls = (uint16_t)(h >> 16);
		field = (uint8_t)((h >> 9) & 0x7f);
		has_mask = (h >> 8) & 1;
		flen = (uint8_t)h;
		if (flen > mlen - off - 4)
			return -EINVAL;
		v = p + off + 4;
		off += 4 + (size_t)flen;
		if (cls == OXM_CLASS_EXPERIMENTER) {
			if (flen < 4)
				return -EINVAL;
			if (rd32(v) == OXM_EXP_ONF && field == ONF_TCP_FLAGS && has_mask && flen == 8)
				m->tcp_flags_clear = rd16(v + 6) & (uint16_t)~rd16(v + 4);
			continue;
		}
		if (cls != OXM_CLASS_BASIC)
			continue; /* NXM fields flowtag does not set */
		/* A masked field carries value then mask: the value is the first half. */
		if (has_mask) {
			if (flen % 2 != 0)
				return -EINVAL;
			flen /= 2;
		}
		switch (field) {
		case OXM_IN_PORT:
			if (flen != 4)
				return -EINVAL;
			m->in_port = rd32(v);
			break;
		case OXM_ETH_TYPE:
			if (flen != 2)
				return -EINVAL;
			if (rd16(v) == ETHERTYPE_IPV4)
				m->ip_version = 4;
			else if (rd16(v) == ETHERTYPE_IPV6)
				m->ip_version = 6;
			break;
		case OXM_VLAN_VID:
			if (flen != 2)
				return -EINVAL;
			m->match_vlan = true;
			m->vlan_vid = rd16(v);
			break;
		case OXM_IP_PROTO:
			if (flen != 1)
				return -EINVAL;
			m->ip_proto = v[0];
			break;
		case OXM_IPV4_SRC:
		case OXM_IPV4_DST:
			if (flen != 4)
				return -EINVAL;
			memcpy(field == OXM_IPV4_SRC ? m->src : m->dst, v, 4);
			break;
		case OXM_IPV6_SRC:
		case OXM_IPV6_DST:
			if (flen != 16)
				return -EINVAL;
			memcpy(field == OXM_IPV6_SRC ? m->src : m->dst, v, 16);
			break;
		case OXM_TCP_SRC:
		case OXM_UDP_SRC:
			if (flen != 2)
				return -EINVAL;
			m->tp_src = rd16(v);
			break;
		case OXM_TCP_DST:
		case OXM_UDP_DST:
			if (flen != 2)
				return -EINVAL;
			m->tp_dst = rd16(v);
			break;
		default:
			break;
		}
	}
	if (off != mlen)
		return -EINVAL;
	return (int)padded;
}

/* ---- actions ---- */

#define OFPAT_SET_MPLS_TTL 15
#define OFPAT_PUSH_VLAN 17
#define OFPAT_PUSH_MPLS 19
#define OFPAT_SET_FIELD 25
#define OFPAT_EXPERIMENTER 0xffff
#define NX_VENDOR_ID 0x00002320
#define NXAST_RESUBMIT_TABLE 14
#define NXAST_REG_MOVE 6
#define NXAST_ENCAP 46
#define OFPPPC_NSH 4 /* encap property class */
#define OFPPPT_PROP_NSH_MDTYPE 1
#define OFPPPT_PROP_NSH_TLV 2
#define PT_ETH 0x00000000u /* packet type (namespace 0, type 0): Ethernet */
#define PT_NSH 0x0001894fu /* namespace 1 (EtherType), NSH */
#define OFPIT_APPLY_ACTIONS 4

static size_t
begin_nx_action(struct of_buf *b, uint16_t subtype)
{
	size_t start = b->len;

	put16(b, OFPAT_EXPERIMENTER);
	put16(b, 0); /* length, patched by end_action */
	put32(b, NX_VENDOR_ID);
	put16(b, subtype);
	return start;
}

static void
end_action(struct of_buf *b, size_t start)
{
	pad_to(b, start, 8);
	patch_len(b, start + 2, start);
}

static void
set_field_basic(struct of_buf *b, uint8_t field, const void *value, uint8_t len)
{
	size_t start = b->len;

	put16(b, OFPAT_SET_FIELD);
	put16(b, 0);
	oxm_basic(b, field, value, len);
	end_action(b, start);
}

static void
set_field_nsh(struct of_buf *b, uint8_t field, uint32_t value, uint8_t len)
{
	size_t start = b->len;
	uint8_t x[4];

	put16(b, OFPAT_SET_FIELD);
	put16(b, 0);
	put32(b, oxm_header(OXM_CLASS_EXPERIMENTER, field, false, (uint8_t)(4 + len)));
	put32(b, OXM_EXP_NSH);
	wire_wr32(x, value);
	put_bytes(b, x + 4 - len, len);
	end_action(b, start);
}

static void
reg_move(struct of_buf *b, uint32_t src, uint16_t src_ofs, uint32_t dst, uint16_t dst_ofs,
	 uint16_t n_bits)
{
	size_t start = begin_nx_action(b, NXAST_REG_MOVE);

	put16(b, n_bits);
	put16(b, src_ofs);
	put16(b, dst_ofs);
	put32(b, src);
	put32(b, dst);
	end_action(b, start);
}

static void
encap(struct of_buf *b, uint32_t packet_type, const struct tag_push *nsh)
{
	size_t start = begin_nx_action(b, NXAST_ENCAP);

	put16(b, 0); /* header size: not specified */
	put32(b, packet_type);
	if (nsh != NULL) {
		/* Properties, each padded to 8 bytes; the 8-bit length leaves the padding out. */
		size_t p = b->len;

		put16(b, OFPPPC_NSH);
		put8(b, OFPPPT_PROP_NSH_MDTYPE);
		put8(b, 5);
		put8(b, nsh->md_type);
		pad_to(b, p, 8);
		for (unsigned int i = 0; i < nsh->n_tlvs && i < TAG_PUSH_MAX_TLVS; i++) {
			const struct tag_push_tlv *t = &nsh->tlvs[i];
			size_t value_pad = ((size_t)t->len + 7) & ~(size_t)7;

			put16(b, OFPPPC_NSH);
			put8(b, OFPPPT_PROP_NSH_TLV);
			put8(b, (uint8_t)(8 + value_pad));
			put16(b, t->md_class);
			put8(b, t->type);
			put8(b, t->len);
			p = b->len;
			put_bytes(b, t->value, t->len);
			pad_to(b, p, 8);
		}
	}
	end_action(b, start);
}

void
of_put_tag_push(struct of_buf *b, const struct tag_push *t, unsigned int scratch_xxreg)
{
	uint32_t reg = NXM_NX_XXREG(scratch_xxreg & 3);
	uint8_t x[4];

	switch (t->kind) {
	case TAG_NSH:
		/* encap(nsh) resets the packet's headers: keep its addresses for the outer one. */
		reg_move(b, NXM_OF_ETH_SRC, 0, reg, 0, 48);
		reg_move(b, NXM_OF_ETH_DST, 0, reg, 64, 48);
		encap(b, PT_NSH, t);
		set_field_nsh(b, NSH_SPI, t->spi, 4);
		if (t->si != 255) /* encap(nsh) starts a path at SI 255 */
			set_field_nsh(b, NSH_SI, t->si, 1);
		if (t->md_type == 1)
			for (unsigned int i = 0; i < 4; i++)
				set_field_nsh(b, (uint8_t)(NSH_C1 + i), t->context[i], 4);
		encap(b, PT_ETH, NULL);
		reg_move(b, reg, 0, NXM_OF_ETH_SRC, 0, 48);
		reg_move(b, reg, 64, NXM_OF_ETH_DST, 0, 48);
		break;
	case TAG_VLAN:
		if (!t->vlan_rewrite) {
			size_t start = b->len;

			put16(b, OFPAT_PUSH_VLAN);
			put16(b, 8);
			put16(b, ETHERTYPE_VLAN);
			end_action(b, start);
		}
		wire_wr16(x, (uint16_t)(OF_VID_PRESENT | t->vid));
		set_field_basic(b, OXM_VLAN_VID, x, 2);
		break;
	case TAG_MPLS: {
		size_t start = b->len;

		put16(b, OFPAT_PUSH_MPLS);
		put16(b, 8);
		put16(b, ETHERTYPE_MPLS);
		end_action(b, start);
		wire_wr32(x, t->mpls_label);
		set_field_basic(b, OXM_MPLS_LABEL, x, 4);
		x[0] = 0; /* TC 0, as flowtag writes it (push_mpls would copy it from the IP DSCP) */
		set_field_basic(b, OXM_MPLS_TC, x, 1);
		start = b->len;
		put16(b, OFPAT_SET_MPLS_TTL);
		put16(b, 8);
		put8(b, t->mpls_ttl);
		end_action(b, start);
		break;
	}
	case TAG_DSCP:
		set_field_basic(b, OXM_IP_DSCP, &t->dscp, 1);
		break;
	default:
		break;
	}
}

void
of_put_resubmit(struct of_buf *b, uint32_t in_port, uint8_t table)
{
	size_t start = begin_nx_action(b, NXAST_RESUBMIT_TABLE);

	put16(b, (uint16_t)in_port);
	put8(b, table);
	end_action(b, start);
}

/* ---- messages ---- */

void
of_hello(struct of_buf *b, uint32_t xid)
{
	size_t start = begin_msg(b, OFPT_HELLO, xid);

	put16(b, 1); /* OFPHET_VERSIONBITMAP */
	put16(b, 8);
	put32(b, 1u << OFP13_VERSION);
	end_msg(b, start);
}

void
of_echo_request(struct of_buf *b, uint32_t xid)
{
	end_msg(b, begin_msg(b, OFPT_ECHO_REQUEST, xid));
}

void
of_echo_reply(struct of_buf *b, const uint8_t *request, size_t len)
{
	struct of_header h;
	size_t start, payload;

	if (of_parse_header(request, len, &h) != 0) {
		b->overflow = true;
		return;
	}
	start = begin_msg(b, OFPT_ECHO_REPLY, h.xid);
	payload = (h.length < len ? h.length : len) - OF_HEADER_LEN;
	if (payload > sizeof(b->data) - b->len)
		payload = 0; /* an oversized payload is not echoed: the reply still answers */
	put_bytes(b, request + OF_HEADER_LEN, payload);
	end_msg(b, start);
}

void
of_features_request(struct of_buf *b, uint32_t xid)
{
	end_msg(b, begin_msg(b, OFPT_FEATURES_REQUEST, xid));
}

void
of_set_config(struct of_buf *b, uint32_t xid, uint16_t miss_send_len)
{
	size_t start = begin_msg(b, OFPT_SET_CONFIG, xid);

	put16(b, 0); /* OFPC_FRAG_NORMAL */
	put16(b, miss_send_len);
	end_msg(b, start);
}

void
of_set_async_flow_removed_only(struct of_buf *b, uint32_t xid)
{
	size_t start = begin_msg(b, OFPT_SET_ASYNC, xid);
	uint32_t removed = 1u << OFPRR_IDLE_TIMEOUT | 1u << OFPRR_HARD_TIMEOUT |
			   1u << OFPRR_DELETE | 1u << OFPRR_GROUP_DELETE;

	/* [0]: master or equal role (a service connection's), [1]: slave. */
	put32(b, 0); /* packet_in */
	put32(b, 0);
	put32(b, 0); /* port_status */
	put32(b, 0);
	put32(b, removed); /* flow_removed */
	put32(b, 0);
	end_msg(b, start);
}

void
of_barrier_request(struct of_buf *b, uint32_t xid)
{
	end_msg(b, begin_msg(b, OFPT_BARRIER_REQUEST, xid));
}

void
of_flow_mod(struct of_buf *b, uint32_t xid, const struct of_flow_mod *fm)
{
	size_t start = begin_msg(b, OFPT_FLOW_MOD, xid);

	put64(b, fm->cookie);
	put64(b, fm->cookie_mask);
	put8(b, fm->table_id);
	put8(b, fm->command);
	put16(b, fm->idle_timeout);
	put16(b, fm->hard_timeout);
	put16(b, fm->priority);
	put32(b, 0xffffffffu); /* buffer_id: none */
	put32(b, OFPP_ANY);
	put32(b, OFPG_ANY);
	put16(b, fm->flags);
	put16(b, 0);
	put_match(b, fm->match);
	if (fm->actions != NULL && fm->actions_len > 0) {
		size_t ins = b->len;

		put16(b, OFPIT_APPLY_ACTIONS);
		put16(b, 0);
		put32(b, 0);
		put_bytes(b, fm->actions, fm->actions_len);
		patch_len(b, ins + 2, ins);
	}
	end_msg(b, start);
}

#define OFPMP_AGGREGATE 2

void
of_aggregate_request(struct of_buf *b, uint32_t xid, uint64_t cookie, uint64_t cookie_mask)
{
	size_t start = begin_msg(b, OFPT_MULTIPART_REQUEST, xid);

	put16(b, OFPMP_AGGREGATE);
	put16(b, 0); /* flags */
	put32(b, 0);
	put8(b, OFPTT_ALL);
	put(b, 3);
	put32(b, OFPP_ANY);
	put32(b, OFPG_ANY);
	put32(b, 0);
	put64(b, cookie);
	put64(b, cookie_mask);
	put_match(b, NULL);
	end_msg(b, start);
}

/* ---- what a peer sends ---- */

int
of_parse_hello(const uint8_t *msg, size_t len)
{
	struct of_header h;
	size_t off;

	if (of_parse_header(msg, len, &h) != 0 || h.length > len)
		return -EINVAL;
	for (off = OF_HEADER_LEN; off + 4 <= h.length;) {
		uint16_t type = rd16(msg + off), elen = rd16(msg + off + 2);

		if (elen < 4 || elen > h.length - off)
			return -EINVAL;
		if (type == 1) { /* OFPHET_VERSIONBITMAP: bit n = version n */
			if (elen < 8)
				return -EPROTO;
			return (rd32(msg + off + 4) & (1u << OFP13_VERSION)) ? 0 : -EPROTO;
		}
		off += (elen + 7u) & ~7u;
	}
	/* No bitmap: the common version is the lower of the two headers'. */
	return h.version >= OFP13_VERSION ? 0 : -EPROTO;
}

int
of_parse_error(const uint8_t *msg, size_t len, struct of_error *e)
{
	struct of_header h;
	size_t data;

	if (of_parse_header(msg, len, &h) != 0 || h.length > len || h.length < 12)
		return -EINVAL;
	e->type = rd16(msg + 8);
	e->code = rd16(msg + 10);
	data = 12;
	if (e->type == 0xffff)
		data = 16; /* experimenter: exp_code(16) then the experimenter id(32) */
	e->failed_type = h.length >= data + 2 ? msg[data + 1] : 0xff;
	e->failed_xid = h.length >= data + 8 ? rd32(msg + data + 4) : 0;
	/* The refused message's first bytes: a FLOW_MOD's cookie follows its header. */
	e->has_cookie = e->failed_type == OFPT_FLOW_MOD && h.length >= data + 16;
	e->failed_cookie = e->has_cookie ? rd64(msg + data + 8) : 0;
	return 0;
}

static const char *const error_types[] = {
	"HELLO_FAILED", "BAD_REQUEST", "BAD_ACTION", "BAD_INSTRUCTION", "BAD_MATCH",
	"FLOW_MOD_FAILED", "GROUP_MOD_FAILED", "PORT_MOD_FAILED", "TABLE_MOD_FAILED",
	"QUEUE_OP_FAILED", "SWITCH_CONFIG_FAILED", "ROLE_REQUEST_FAILED", "METER_MOD_FAILED",
	"TABLE_FEATURES_FAILED",
};
static const char *const flow_mod_codes[] = {
	"UNKNOWN", "TABLE_FULL", "BAD_TABLE_ID", "OVERLAP", "EPERM", "BAD_TIMEOUT",
	"BAD_COMMAND", "BAD_FLAGS",
};

const char *
of_error_name(uint16_t type, uint16_t code, char *buf, size_t len)
{
	const char *t = type < sizeof(error_types) / sizeof(error_types[0]) ? error_types[type]
		      : type == 0xffff ? "EXPERIMENTER" : NULL;

	if (t != NULL && type == 5 && code < sizeof(flow_mod_codes) / sizeof(flow_mod_codes[0]))
		snprintf(buf, len, "OFPET_%s/OFPFMFC_%s", t, flow_mod_codes[code]);
	else if (t != NULL)
		snprintf(buf, len, "OFPET_%s/%u", t, code);
	else
		snprintf(buf, len, "error type %u code %u", type, code);
	return buf;
}

int
of_parse_flow_removed(const uint8_t *msg, size_t len, struct of_flow_removed *fr)
{
	struct of_header h;

	if (of_parse_header(msg, len, &h) != 0 || h.length > len || h.length < 56)
		return -EINVAL;
	fr->cookie = rd64(msg + 8);
	fr->priority = rd16(msg + 16);
	fr->reason = msg[18];
	fr->table_id = msg[19];
	fr->duration_sec = rd32(msg + 20);
	fr->duration_nsec = rd32(msg + 24);
	fr->idle_timeout = rd16(msg + 28);
	fr->hard_timeout = rd16(msg + 30);
	fr->packet_count = rd64(msg + 32);
	fr->byte_count = rd64(msg + 40);
	return of_parse_match(msg + 48, h.length - 48, &fr->match) < 0 ? -EINVAL : 0;
}

int
of_parse_aggregate_reply(const uint8_t *msg, size_t len, struct of_aggregate *a)
{
	struct of_header h;

	if (of_parse_header(msg, len, &h) != 0 || h.length > len || h.length < 40 ||
	    h.type != OFPT_MULTIPART_REPLY || rd16(msg + 8) != OFPMP_AGGREGATE)
		return -EINVAL;
	a->packet_count = rd64(msg + 16);
	a->byte_count = rd64(msg + 24);
	a->flow_count = rd32(msg + 32);
	return 0;
}

int
of_parse_features_reply(const uint8_t *msg, size_t len, uint64_t *datapath_id, uint8_t *n_tables)
{
	struct of_header h;

	if (of_parse_header(msg, len, &h) != 0 || h.length > len || h.length < 32)
		return -EINVAL;
	*datapath_id = rd64(msg + 8);
	*n_tables = msg[20];
	return 0;
}

const char *
of_type_name(uint8_t type)
{
	static const char *const names[] = {
		[OFPT_HELLO] = "HELLO", [OFPT_ERROR] = "ERROR",
		[OFPT_ECHO_REQUEST] = "ECHO_REQUEST", [OFPT_ECHO_REPLY] = "ECHO_REPLY",
		[OFPT_EXPERIMENTER] = "EXPERIMENTER", [OFPT_FEATURES_REQUEST] = "FEATURES_REQUEST",
		[OFPT_FEATURES_REPLY] = "FEATURES_REPLY", [OFPT_SET_CONFIG] = "SET_CONFIG",
		[OFPT_PACKET_IN] = "PACKET_IN", [OFPT_FLOW_REMOVED] = "FLOW_REMOVED",
		[OFPT_PORT_STATUS] = "PORT_STATUS", [OFPT_FLOW_MOD] = "FLOW_MOD",
		[OFPT_MULTIPART_REQUEST] = "MULTIPART_REQUEST",
		[OFPT_MULTIPART_REPLY] = "MULTIPART_REPLY",
		[OFPT_BARRIER_REQUEST] = "BARRIER_REQUEST", [OFPT_BARRIER_REPLY] = "BARRIER_REPLY",
		[OFPT_SET_ASYNC] = "SET_ASYNC",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] != NULL ? names[type]
									       : "(other)";
}

const char *
of_removed_reason_name(uint8_t reason)
{
	static const char *const names[] = {"idle", "hard", "delete", "group_delete"};

	return reason < 4 ? names[reason] : "(other)";
}
