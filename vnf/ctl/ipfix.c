/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "ipfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fixbuf/public.h>

#include "dpi.h"
#include "flow_record.h"
#include "json.h"
#include "policy.h"

const struct stat_item ipfix_stat_items[] = {
#define IPFIX_STAT_ITEM(n, h) {#n, NULL, h, false, offsetof(struct ipfix_stats, n)},
	IPFIX_STATS(IPFIX_STAT_ITEM)
#undef IPFIX_STAT_ITEM
};
const unsigned int ipfix_stat_count = sizeof(ipfix_stat_items) / sizeof(ipfix_stat_items[0]);

/* ---- the records, as libfixbuf reads them from memory ---- */

#define HOST_MAX 256 /* a host after UTF-8 repair (DPI_HOST_MAX bytes of it at most) */

/*
 * One flow. Fields ordered by size so the struct has no holes (libfixbuf's internal template
 * must describe it byte for byte); both address families are here and each external template
 * takes its own.
 */
struct flow_rec {
	uint64_t start_ms;
	uint64_t end_ms;
	uint64_t octets;
	uint64_t packets;
	uint64_t rev_octets;
	uint64_t rev_packets;
	uint64_t offloaded_packets;
	uint64_t offloaded_octets;
	fbVarfield_t label;
	fbVarfield_t category_name;
	fbVarfield_t host;
	fbVarfield_t ja3;
	fbVarfield_t chain;
	fbVarfield_t app_id; /* see app_id() */
	uint8_t src6[16];
	uint8_t dst6[16];
	uint32_t src4;
	uint32_t dst4;
	uint32_t spi;
	uint32_t policy_version;
	uint32_t flow_id;
	uint16_t sport;
	uint16_t dport;
	uint16_t vlan;
	uint16_t master_id;
	uint16_t category_id;
	uint8_t proto;
	uint8_t end_reason;
	uint8_t action;
	uint8_t pad[7];
};

struct app_rec {
	uint8_t app_id[4];
	char name[IPFIX_APP_NAME_LEN];
	char desc[IPFIX_APP_DESC_LEN];
};

/* flowtag's own elements (enterprise-specific, under params.pen). The README lists them. */
enum {
	IE_MASTER_PROTOCOL_ID = 1,
	IE_CATEGORY_ID,
	IE_CATEGORY_NAME,
	IE_SERVER_NAME,
	IE_JA3_CLIENT,
	IE_CHAIN_NAME,
	IE_NSH_SPI,
	IE_ACTION,
	IE_POLICY_VERSION,
	IE_OFFLOADED_PACKETS,
	IE_OFFLOADED_OCTETS,
	IE_LABEL,
	IE_FLOW_ID,
};

/* A template entry (libfixbuf takes names as char *; these are never written to). */
#define S(name, len) {(char *)(uintptr_t)(name), (len), 0}

#define COMMON_SPECS                                                                               \
	S("flowStartMilliseconds", 8), S("flowEndMilliseconds", 8),                          \
		S("octetDeltaCount", 8), S("packetDeltaCount", 8),                             \
		S("reverseOctetDeltaCount", 8), S("reversePacketDeltaCount", 8),               \
		S("flowtagOffloadedPacketCount", 8), S("flowtagOffloadedOctetCount", 8),       \
		S("flowtagLabel", FB_IE_VARLEN), S("flowtagCategoryName", FB_IE_VARLEN),         \
		S("flowtagServerName", FB_IE_VARLEN), S("flowtagJa3Client", FB_IE_VARLEN),       \
		S("flowtagChainName", FB_IE_VARLEN), S("applicationId", FB_IE_VARLEN)

#define TAIL_SPECS                                                                                 \
	S("flowtagNshSpi", 4), S("flowtagPolicyVersion", 4), S("flowtagFlowId", 4),             \
		S("sourceTransportPort", 2), S("destinationTransportPort", 2),                   \
		S("vlanId", 2), S("flowtagMasterProtocolId", 2), S("flowtagCategoryId", 2),   \
		S("protocolIdentifier", 1), S("flowEndReason", 1),      \
		S("flowtagAction", 1)

static fbInfoElementSpec_t internal_spec[] = {
	COMMON_SPECS,
	S("sourceIPv6Address", 16),
	S("destinationIPv6Address", 16),
	S("sourceIPv4Address", 4),
	S("destinationIPv4Address", 4),
	TAIL_SPECS,
	S("paddingOctets", 7),
	FB_IESPEC_NULL,
};

/* On the wire: the same minus the other family's addresses and the padding. */
static fbInfoElementSpec_t v4_spec[] = {
	COMMON_SPECS,
	S("sourceIPv4Address", 4),
	S("destinationIPv4Address", 4),
	TAIL_SPECS,
	FB_IESPEC_NULL,
};

static fbInfoElementSpec_t v6_spec[] = {
	COMMON_SPECS,
	S("sourceIPv6Address", 16),
	S("destinationIPv6Address", 16),
	TAIL_SPECS,
	FB_IESPEC_NULL,
};

static fbInfoElementSpec_t app_spec[] = {
	S("applicationId", 4), /* the scope */
	S("applicationName", IPFIX_APP_NAME_LEN),
	S("applicationDescription", IPFIX_APP_DESC_LEN),
	FB_IESPEC_NULL,
};

_Static_assert(sizeof(struct flow_rec) == 8 * 8 + 6 * sizeof(fbVarfield_t) + 32 + 5 * 4 + 5 * 2 + 3 + 7,
	       "struct flow_rec has no holes: its template describes it byte for byte");
_Static_assert(sizeof(struct app_rec) == 4 + IPFIX_APP_NAME_LEN + IPFIX_APP_DESC_LEN,
	       "struct app_rec has no holes");

/* Internal template ids (never on the wire). */
#define TID_INTERNAL_FLOW 0x9000
#define TID_INTERNAL_APP 0x9001

/* ---- long flows: what was exported already ---- */

struct tracked {
	uint64_t id; /* worker << 32 | flow_id, + 1 (0: free) */
	uint64_t packets, octets, rev_packets, rev_octets, offloaded_packets, offloaded_octets;
	uint64_t start_ms; /* the interval the next record starts */
};

struct ipfix {
	struct ipfix_params p;
	fbInfoModel_t *model;
	fBuf_t *fbuf; /* owns the session and the exporter */
	uint8_t *msg; /* the exporter's buffer: a message after fBufEmit() */
	uint32_t in_msg; /* records in the message being filled */
	uint64_t msg_first_ms; /* when the first of them came */
	uint16_t cur_tid; /* the export template the buffer is set to */
	struct tracked *tracked;
	uint32_t track_mask; /* slots - 1 (a power of two, at most half full) */
	uint32_t n_tracked;
	struct ipfix_stats st;
};

static fbInfoElement_t *
own_elements(uint32_t pen)
{
	const fbInfoElement_t model[] = {
		FB_IE_INIT_FULL("flowtagMasterProtocolId", pen, IE_MASTER_PROTOCOL_ID, 2,
				FB_IE_IDENTIFIER | FB_IE_F_ENDIAN, 0, 0, FB_UINT_16,
				"nDPI's id of the master protocol (TLS of TLS.YouTube), 0 if none"),
		FB_IE_INIT_FULL("flowtagCategoryId", pen, IE_CATEGORY_ID, 2,
				FB_IE_IDENTIFIER | FB_IE_F_ENDIAN, 0, 0, FB_UINT_16,
				"nDPI's category id"),
		FB_IE_INIT_FULL("flowtagCategoryName", pen, IE_CATEGORY_NAME, FB_IE_VARLEN, 0, 0, 0,
				FB_STRING, "nDPI's category name"),
		FB_IE_INIT_FULL("flowtagServerName", pen, IE_SERVER_NAME, FB_IE_VARLEN, 0, 0, 0,
				FB_STRING, "TLS SNI, HTTP Host or DNS query name nDPI saw"),
		FB_IE_INIT_FULL("flowtagJa3Client", pen, IE_JA3_CLIENT, FB_IE_VARLEN, 0, 0, 0, FB_STRING,
				"JA3 hash of the TLS client hello (hex)"),
		FB_IE_INIT_FULL("flowtagChainName", pen, IE_CHAIN_NAME, FB_IE_VARLEN, 0, 0, 0, FB_STRING,
				"the service chain the policy chose (empty unless action is chain)"),
		FB_IE_INIT_FULL("flowtagNshSpi", pen, IE_NSH_SPI, 4, FB_IE_IDENTIFIER | FB_IE_F_ENDIAN,
				0, 0, FB_UINT_32, "the chain's NSH service path id, 0 if not NSH"),
		FB_IE_INIT_FULL("flowtagAction", pen, IE_ACTION, 1, FB_IE_IDENTIFIER, 0, 0, FB_UINT_8,
				"the policy's action: 0 pass, 1 drop, 2 chain"),
		FB_IE_INIT_FULL("flowtagPolicyVersion", pen, IE_POLICY_VERSION, 4,
				FB_IE_IDENTIFIER | FB_IE_F_ENDIAN, 0, 0, FB_UINT_32,
				"version of the policy that decided the flow"),
		FB_IE_INIT_FULL("flowtagOffloadedPacketCount", pen, IE_OFFLOADED_PACKETS, 8,
				FB_IE_DELTACOUNTER | FB_UNITS_PACKETS | FB_IE_F_ENDIAN, 0, 0,
				FB_UINT_64, "of the packets, those the switch carried (offload)"),
		FB_IE_INIT_FULL("flowtagOffloadedOctetCount", pen, IE_OFFLOADED_OCTETS, 8,
				FB_IE_DELTACOUNTER | FB_UNITS_OCTETS | FB_IE_F_ENDIAN, 0, 0,
				FB_UINT_64, "of the octets, those the switch carried (offload)"),
		FB_IE_INIT_FULL("flowtagLabel", pen, IE_LABEL, FB_IE_VARLEN, 0, 0, 0, FB_STRING,
				"nDPI's label, as ndpiReader prints it (TLS.YouTube)"),
		FB_IE_INIT_FULL("flowtagFlowId", pen, IE_FLOW_ID, 4, FB_IE_IDENTIFIER | FB_IE_F_ENDIAN,
				0, 0, FB_UINT_32, "flowtag's flow id (NSH C3), unique per worker"),
		FB_IE_NULL,
	};
	fbInfoElement_t *copy = malloc(sizeof(model));

	if (copy != NULL)
		memcpy(copy, model, sizeof(model));
	return copy;
}

static uint32_t
wall_s(void)
{
	return (uint32_t)time(NULL);
}

/*
 * libfixbuf opens a set when the template changes, and a record that then meets the end of the
 * message leaves that set empty (a 4-byte header): collectors flag such a set as malformed
 * (tshark: "No flow information"). Remove them; the message's length follows.
 */
static size_t
strip_empty_sets(uint8_t *msg, size_t len)
{
	size_t off = 16;

	while (off + 4 <= len) {
		size_t slen = (size_t)msg[off + 2] << 8 | msg[off + 3];

		if (slen < 4 || off + slen > len)
			break; /* not ours to judge: libfixbuf wrote it */
		if (slen == 4) {
			memmove(msg + off, msg + off + 4, len - off - 4);
			len -= 4;
			continue;
		}
		off += slen;
	}
	msg[2] = (uint8_t)(len >> 8);
	msg[3] = (uint8_t)len;
	return len;
}

/*
 * Hand the message being filled to the transport. fBufEmit() copies it into x->msg, but says
 * nothing when there was none, and fbExporterGetMsgLen() then still gives the previous
 * message's length: the version field, cleared first, tells whether a message came.
 */
static void
emit(struct ipfix *x)
{
	GError *gerr = NULL;
	size_t len;
	uint32_t n = x->in_msg;

	x->msg[0] = x->msg[1] = 0;
	x->in_msg = 0;
	fBufSetExportTime(x->fbuf, wall_s());
	if (!fBufEmit(x->fbuf, &gerr)) {
		g_clear_error(&gerr);
		x->st.records_not_sent += n;
		return;
	}
	len = fbExporterGetMsgLen(fBufGetExporter(x->fbuf));
	if (len < 16 || x->msg[0] != 0 || x->msg[1] != 10)
		return; /* nothing was waiting */
	len = strip_empty_sets(x->msg, len);
	if (len <= 16)
		return;
	x->st.messages++;
	x->st.message_bytes += len;
	if (!x->p.send(x->p.ctx, x->msg, len, n))
		x->st.records_not_sent += n;
}

static bool
set_template(struct ipfix *x, uint16_t internal, uint16_t external)
{
	GError *gerr = NULL;

	if (x->cur_tid == external)
		return true;
	if (!fBufSetInternalTemplate(x->fbuf, internal, &gerr) ||
	    !fBufSetExportTemplate(x->fbuf, external, &gerr)) {
		g_clear_error(&gerr);
		return false;
	}
	x->cur_tid = external;
	return true;
}

/* Append one record (a flow's, counted as such, or an options record); a full message goes
 * first. */
static bool
append(struct ipfix *x, uint16_t internal, uint16_t external, void *rec, size_t size,
       bool flow, uint64_t now_ms)
{
	GError *gerr = NULL;

	if (!set_template(x, internal, external))
		return false;
	if (!fBufAppend(x->fbuf, rec, size, &gerr)) {
		bool eom = g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM);

		g_clear_error(&gerr);
		if (!eom)
			return false;
		emit(x);
		x->cur_tid = 0; /* a new message: the set header comes again */
		if (!set_template(x, internal, external) || !fBufAppend(x->fbuf, rec, size, &gerr)) {
			g_clear_error(&gerr);
			return false;
		}
	}
	if (flow && x->in_msg++ == 0)
		x->msg_first_ms = now_ms;
	return true;
}

static bool
add_template(fbSession_t *s, fbInfoModel_t *m, fbInfoElementSpec_t *spec, uint16_t tid,
	     bool internal, uint16_t scope, char *err, size_t err_len)
{
	GError *gerr = NULL;
	fbTemplate_t *t = fbTemplateAlloc(m);

	if (!fbTemplateAppendSpecArray(t, spec, 0, &gerr)) {
		snprintf(err, err_len, "IPFIX template %#x: %s", tid, gerr->message);
		g_clear_error(&gerr);
		fbTemplateFreeUnused(t);
		return false;
	}
	if (scope != 0)
		fbTemplateSetOptionsScope(t, scope);
	if (fbSessionAddTemplate(s, internal, tid, t, &gerr) == 0) {
		snprintf(err, err_len, "IPFIX template %#x: %s", tid, gerr->message);
		g_clear_error(&gerr);
		fbTemplateFreeUnused(t);
		return false;
	}
	return true;
}

/* The model, the session with its templates and the buffer, from x->p (domain, pen, mtu). */
static int
build(struct ipfix *x, char *err, size_t err_len)
{
	fbSession_t *session;
	fbExporter_t *exporter;
	fbInfoElement_t *own;
	uint8_t *msg = malloc(x->p.mtu);

	if (msg == NULL) {
		snprintf(err, err_len, "IPFIX: out of memory");
		return -1;
	}
	x->model = fbInfoModelAlloc();
	own = own_elements(x->p.pen);
	if (own == NULL) {
		free(msg);
		snprintf(err, err_len, "IPFIX: out of memory");
		return -1;
	}
	fbInfoModelAddElementArray(x->model, own); /* copies them */
	free(own);
	session = fbSessionAlloc(x->model);
	fbSessionSetDomain(session, x->p.domain);
	if (!add_template(session, x->model, internal_spec, TID_INTERNAL_FLOW, true, 0, err, err_len) ||
	    !add_template(session, x->model, v4_spec, IPFIX_TEMPLATE_V4, false, 0, err, err_len) ||
	    !add_template(session, x->model, v6_spec, IPFIX_TEMPLATE_V6, false, 0, err, err_len) ||
	    !add_template(session, x->model, app_spec, TID_INTERNAL_APP, true, 1, err, err_len) ||
	    !add_template(session, x->model, app_spec, IPFIX_TEMPLATE_APP_NAMES, false, 1, err,
			  err_len)) {
		fbSessionFree(session);
		fbInfoModelFree(x->model);
		x->model = NULL;
		free(msg);
		return -1;
	}
	exporter = fbExporterAllocBuffer(msg, x->p.mtu);
	x->fbuf = fBufAllocForExport(session, exporter);
	fBufSetAutomaticMode(x->fbuf, FALSE);
	x->msg = msg;
	x->cur_tid = 0;
	x->in_msg = 0;
	return 0;
}

static void
unbuild(struct ipfix *x)
{
	if (x->fbuf != NULL)
		fBufFree(x->fbuf); /* with its session and exporter */
	if (x->model != NULL)
		fbInfoModelFree(x->model);
	free(x->msg);
	x->fbuf = NULL;
	x->model = NULL;
	x->msg = NULL;
}

struct ipfix *
ipfix_create(const struct ipfix_params *p, char *err, size_t err_len)
{
	struct ipfix *x;
	uint32_t slots = 16;

	if (p->send == NULL || p->names == NULL || p->mtu < IPFIX_MTU_MIN) {
		snprintf(err, err_len, "IPFIX: bad parameters (mtu %u, at least %u)", p->mtu,
			 IPFIX_MTU_MIN);
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto oom;
	x->p = *p;
	while (slots < 2 * (uint64_t)p->max_tracked && slots < (1u << 30))
		slots <<= 1;
	x->tracked = calloc(slots, sizeof(*x->tracked));
	if (x->tracked == NULL)
		goto oom;
	x->track_mask = slots - 1;
	if (build(x, err, err_len) != 0) {
		ipfix_destroy(x);
		return NULL;
	}
	return x;
oom:
	snprintf(err, err_len, "IPFIX: out of memory");
	ipfix_destroy(x);
	return NULL;
}

int
ipfix_reconfigure(struct ipfix *x, uint32_t domain, uint32_t pen, uint16_t mtu, char *err,
		  size_t err_len)
{
	struct ipfix_params old = x->p;

	if (mtu < IPFIX_MTU_MIN) {
		snprintf(err, err_len, "IPFIX: message size %u below %u", mtu, IPFIX_MTU_MIN);
		return -1;
	}
	if (x->in_msg > 0)
		emit(x);
	unbuild(x);
	x->p.domain = domain;
	x->p.pen = pen;
	x->p.mtu = mtu;
	if (build(x, err, err_len) == 0)
		return 0;
	x->p = old; /* the old settings again (they worked) */
	if (build(x, err, err_len) != 0)
		return -1;
	return -1;
}

void
ipfix_destroy(struct ipfix *x)
{
	if (x == NULL)
		return;
	unbuild(x);
	free(x->tracked);
	free(x);
}

/*
 * RFC 6759 applicationId: the classification engine id in the first octet, then the selector
 * (nDPI's protocol id) in three, big-endian. Flow records carry it as a variable-length field
 * (4 octets in it): nfdump 1.7.1 (Debian 12's) reads a fixed-length applicationId of 1 to 8
 * octets as a number and reverses its bytes, but copies a variable-length one as it is; later
 * nfdump versions and tshark read both. (The options template keeps it fixed: nfcapd sizes
 * option records from fixed lengths.)
 */
static void
app_id(uint8_t out[4], uint32_t selector)
{
	out[0] = IPFIX_ENGINE_NDPI;
	out[1] = (uint8_t)(selector >> 16);
	out[2] = (uint8_t)(selector >> 8);
	out[3] = (uint8_t)selector;
}

void
ipfix_templates(struct ipfix *x, uint64_t now_ms)
{
	GError *gerr = NULL;
	static const uint16_t tids[] = {IPFIX_TEMPLATE_V4, IPFIX_TEMPLATE_V6, IPFIX_TEMPLATE_APP_NAMES};
	uint32_t id, n = dpi_proto_count(x->p.names);
	size_t t;

	/* Templates in a message of their own, then the names. */
	if (x->in_msg > 0)
		emit(x);
	/* One by one: in manual mode libfixbuf first answers "end of message" (nothing written)
	 * to start a template message afresh; then they fit (a few hundred bytes). */
	for (t = 0; t < sizeof(tids) / sizeof(tids[0]); t++) {
		int tries;

		for (tries = 0; !fbSessionExportTemplate(fBufGetSession(x->fbuf), tids[t], &gerr);
		     tries++) {
			bool eom = g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM);

			g_clear_error(&gerr);
			if (!eom || tries == 2) {
				x->st.encode_errors++;
				return;
			}
			emit(x);
		}
	}
	x->cur_tid = 0;
	emit(x);
	x->st.template_sends++;
	for (id = 0; id < n; id++) {
		struct app_rec a;
		const char *name = dpi_proto_name(x->p.names, (uint16_t)id);

		memset(&a, 0, sizeof(a));
		app_id(a.app_id, id);
		/* Fixed-length strings: nfcapd wants the name NUL-terminated within its field. */
		snprintf(a.name, sizeof(a.name), "%s", name);
		snprintf(a.desc, sizeof(a.desc), "nDPI protocol %u: %s", id, name);
		if (!append(x, TID_INTERNAL_APP, IPFIX_TEMPLATE_APP_NAMES, &a, sizeof(a), false,
			    now_ms))
			x->st.encode_errors++;
	}
	emit(x);
}

uint8_t
ipfix_end_reason(const struct flow_record *r)
{
	/* RFC 5102 flowEndReason: 1 idle, 2 active, 3 end of flow, 4 forced end, 5 resources. */
	if (r->interim)
		return 2;
	switch ((enum flow_end_reason)r->end_reason) {
	case FLOW_END_IDLE:
		return 1;
	case FLOW_END_CLOSED:
		return 3;
	case FLOW_END_EVICTED:
		return 5;
	case FLOW_END_FLUSH:
	default:
		return 4;
	}
}

/* Copy `s` as valid UTF-8 (a byte that is not becomes '?'), NUL-terminated. */
static size_t
utf8_copy(char *out, size_t cap, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t used = 0;

	while (*u != '\0' && used + 4 < cap) {
		size_t n = json_utf8_seq_len(u);

		if (n == 0) {
			out[used++] = '?';
			u++;
			continue;
		}
		memcpy(out + used, u, n);
		used += n;
		u += n;
	}
	out[used] = '\0';
	return used;
}

static void
varfield(fbVarfield_t *v, const char *s)
{
	v->buf = (uint8_t *)(uintptr_t)s;
	v->len = strlen(s);
}

static uint32_t
track_slot(const struct ipfix *x, uint64_t id)
{
	/* Flow ids are flowtag's own (sequential per worker), not chosen by senders. */
	return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & x->track_mask;
}

static struct tracked *
track_find(struct ipfix *x, uint64_t id)
{
	uint32_t i = track_slot(x, id);

	while (x->tracked[i].id != 0) {
		if (x->tracked[i].id == id)
			return &x->tracked[i];
		i = (i + 1) & x->track_mask;
	}
	return NULL;
}

static struct tracked *
track_add(struct ipfix *x, uint64_t id)
{
	uint32_t i;

	if (x->n_tracked >= x->p.max_tracked)
		return NULL;
	i = track_slot(x, id);
	while (x->tracked[i].id != 0)
		i = (i + 1) & x->track_mask;
	memset(&x->tracked[i], 0, sizeof(x->tracked[i]));
	x->tracked[i].id = id;
	x->n_tracked++;
	return &x->tracked[i];
}

/* Linear probing's backward-shift deletion: no tombstones to slow later lookups. */
static void
track_del(struct ipfix *x, struct tracked *t)
{
	uint32_t hole = (uint32_t)(t - x->tracked), i = hole;

	for (;;) {
		uint32_t home;

		i = (i + 1) & x->track_mask;
		if (x->tracked[i].id == 0)
			break;
		home = track_slot(x, x->tracked[i].id);
		/* Move it back if its home is not within (hole, i]. */
		if (((i - home) & x->track_mask) >= ((i - hole) & x->track_mask)) {
			x->tracked[hole] = x->tracked[i];
			hole = i;
		}
	}
	x->tracked[hole].id = 0;
	x->n_tracked--;
}

void
ipfix_record(struct ipfix *x, const struct flow_record *r, uint32_t spi, uint64_t now_ms)
{
	const struct flow_key *k = &r->key;
	uint64_t id = ((uint64_t)r->worker << 32 | r->flow_id) + 1;
	struct tracked *t = track_find(x, id);
	char host[HOST_MAX], label[64];
	uint8_t app[4];
	struct flow_rec f;
	bool v4 = k->ip_version == 4;
	const uint8_t *src = r->initiator_hi ? k->hi_addr : k->lo_addr;
	const uint8_t *dst = r->initiator_hi ? k->lo_addr : k->hi_addr;
	uint32_t selector = r->verdict.app_proto != 0 ? r->verdict.app_proto : r->verdict.master_proto;

	if (r->interim && t == NULL && (t = track_add(x, id)) == NULL) {
		x->st.interim_untracked++; /* its final record will carry all of it */
		return;
	}
	memset(&f, 0, sizeof(f));
	f.start_ms = t != NULL && t->start_ms != 0 ? t->start_ms : r->first_ms;
	f.end_ms = r->last_ms;
	/* Counts since the last record of the flow (all of them if none). The records' counts
	 * only grow, except when the switch's arrive: both are totals, so this never wraps. */
	f.packets = r->packets - r->rev_packets - (t != NULL ? t->packets : 0);
	f.octets = r->bytes - r->rev_bytes - (t != NULL ? t->octets : 0);
	f.rev_packets = r->rev_packets - (t != NULL ? t->rev_packets : 0);
	f.rev_octets = r->rev_bytes - (t != NULL ? t->rev_octets : 0);
	f.offloaded_packets = r->offloaded_packets - (t != NULL ? t->offloaded_packets : 0);
	f.offloaded_octets = r->offloaded_bytes - (t != NULL ? t->offloaded_octets : 0);
	if (v4) {
		f.src4 = (uint32_t)src[0] << 24 | (uint32_t)src[1] << 16 | (uint32_t)src[2] << 8 | src[3];
		f.dst4 = (uint32_t)dst[0] << 24 | (uint32_t)dst[1] << 16 | (uint32_t)dst[2] << 8 | dst[3];
	} else {
		memcpy(f.src6, src, 16);
		memcpy(f.dst6, dst, 16);
	}
	f.sport = r->initiator_hi ? k->hi_port : k->lo_port;
	f.dport = r->initiator_hi ? k->lo_port : k->hi_port;
	f.vlan = k->vlan;
	f.proto = k->l4_proto;
	f.end_reason = ipfix_end_reason(r);
	app_id(app, selector);
	f.app_id.buf = app;
	f.app_id.len = sizeof(app);
	f.master_id = r->verdict.master_proto;
	f.category_id = r->verdict.category;
	f.action = r->action;
	f.spi = spi;
	f.policy_version = r->policy_version;
	f.flow_id = r->flow_id;
	varfield(&f.label, dpi_label(x->p.names, &r->verdict, label, sizeof(label)));
	varfield(&f.category_name, dpi_category_name(x->p.names, r->verdict.category));
	utf8_copy(host, sizeof(host), r->meta.host);
	varfield(&f.host, host);
	varfield(&f.ja3, r->meta.ja3c);
	varfield(&f.chain, r->action == POLICY_CHAIN ? r->chain : "");
	if (!append(x, TID_INTERNAL_FLOW, v4 ? IPFIX_TEMPLATE_V4 : IPFIX_TEMPLATE_V6, &f, sizeof(f),
		    true, now_ms)) {
		x->st.encode_errors++;
		return;
	}
	x->st.records++;
	if (r->interim) {
		x->st.interim_records++;
		t->packets = r->packets - r->rev_packets;
		t->octets = r->bytes - r->rev_bytes;
		t->rev_packets = r->rev_packets;
		t->rev_octets = r->rev_bytes;
		t->offloaded_packets = r->offloaded_packets;
		t->offloaded_octets = r->offloaded_bytes;
		t->start_ms = r->last_ms;
	} else if (t != NULL) {
		track_del(x, t);
	}
}

void
ipfix_skip(struct ipfix *x, const struct flow_record *r)
{
	uint64_t id = ((uint64_t)r->worker << 32 | r->flow_id) + 1;
	struct tracked *t = track_find(x, id);

	x->st.records++;
	x->st.records_not_sent++;
	if (r->interim)
		x->st.interim_records++;
	else if (t != NULL)
		track_del(x, t); /* nothing more will come of it */
}

void
ipfix_discard(struct ipfix *x)
{
	GError *gerr = NULL;

	if (!fBufEmit(x->fbuf, &gerr))
		g_clear_error(&gerr);
	x->st.records_not_sent += x->in_msg;
	x->in_msg = 0;
	x->cur_tid = 0;
}

void
ipfix_flush(struct ipfix *x, uint64_t now_ms, uint32_t max_age_ms)
{
	if (x->in_msg > 0 && now_ms - x->msg_first_ms >= max_age_ms)
		emit(x);
}

void
ipfix_get_stats(const struct ipfix *x, struct ipfix_stats *st)
{
	*st = x->st;
	st->tracked = x->n_tracked;
}

const char *
ipfix_target_parse(const char *target, bool *tcp, char *host, size_t host_len, char *port,
	     size_t port_len)
{
	const char *rest, *colon;
	size_t hl;

	if (strncmp(target, "udp://", 6) == 0)
		*tcp = false;
	else if (strncmp(target, "tcp://", 6) == 0)
		*tcp = true;
	else
		return "expected udp://HOST:PORT or tcp://HOST:PORT";
	rest = target + 6;
	colon = strrchr(rest, ':');
	if (colon == NULL || colon == rest)
		return "expected udp://HOST:PORT or tcp://HOST:PORT (the port is missing)";
	hl = (size_t)(colon - rest);
	if (rest[0] == '[') {
		if (hl < 3 || rest[hl - 1] != ']')
			return "an IPv6 address goes in brackets: udp://[2001:db8::1]:4739";
		rest++;
		hl -= 2;
	}
	if (hl >= host_len || strlen(colon + 1) >= port_len)
		return "the host or the port is too long";
	memcpy(host, rest, hl);
	host[hl] = '\0';
	snprintf(port, port_len, "%s", colon + 1);
	{
		char *end;
		long v = strtol(port, &end, 10);

		if (port[0] == '\0' || *end != '\0' || v < 1 || v > 65535)
			return "the port must be a number from 1 to 65535";
	}
	return NULL;
}
