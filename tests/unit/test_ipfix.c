/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The IPFIX encoder (ctl/ipfix.c) through libfixbuf, its messages read back by a small
 * decoder here (RFC 7011 sets, templates, data records): templates and application names
 * first, each field where its template says, biflow counts, RFC 6759 application ids, interim
 * deltas that add up, the long-flow table's bound, hostile hosts, no empty sets, messages
 * within the size asked for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpi.h"
#include "flow_record.h"
#include "ipfix.h"
#include "json.h"
#include "policy.h"

#define MTU 1400
#define PEN IPFIX_PEN_DOCUMENTATION
#define REVERSE_PEN 29305

static struct dpi *names;

/* ---- a small IPFIX reader ---- */

struct field {
	uint16_t id;
	uint32_t pen;
	uint16_t len;
};

struct tmpl {
	uint16_t id;
	uint16_t scope;
	uint16_t n;
	struct field f[64];
};

struct rec {
	uint16_t tid;
	uint8_t data[1024];
	uint16_t len;
};

static struct {
	struct tmpl t[8];
	uint32_t n_t;
	struct rec *r;
	uint32_t n_r;
	uint32_t messages;
	uint32_t empty_sets;
	uint32_t over_mtu;
	uint32_t counted; /* records the encoder said each message held */
	bool refuse;
} seen;

static struct tmpl *
tmpl_of(uint16_t id)
{
	uint32_t i;

	for (i = 0; i < seen.n_t; i++)
		if (seen.t[i].id == id)
			return &seen.t[i];
	return NULL;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void
read_template(const uint8_t *p, size_t len, bool options)
{
	size_t off = 0;

	while (off + 4 <= len) {
		struct tmpl *t = &seen.t[seen.n_t++];
		uint16_t i, count;

		assert_true(seen.n_t <= 8);
		t->id = be16(p + off);
		count = be16(p + off + 2);
		off += 4;
		if (options) {
			t->scope = be16(p + off);
			off += 2;
		}
		t->n = count;
		for (i = 0; i < count; i++) {
			uint16_t id = be16(p + off);

			t->f[i].id = id & 0x7fff;
			t->f[i].len = be16(p + off + 2);
			off += 4;
			if (id & 0x8000) {
				t->f[i].pen = be32(p + off);
				off += 4;
			}
		}
	}
}

/* Length of one record of `t` at p (variable-length fields included). */
static size_t
record_len(const struct tmpl *t, const uint8_t *p, size_t avail)
{
	size_t off = 0;
	uint16_t i;

	for (i = 0; i < t->n; i++) {
		size_t l = t->f[i].len;

		if (l == 65535) {
			if (off >= avail)
				return 0;
			l = p[off];
			off++;
			if (l == 255) {
				l = be16(p + off);
				off += 2;
			}
		}
		off += l;
	}
	return off <= avail ? off : 0;
}

static bool
on_message(void *ctx, const uint8_t *msg, size_t len, uint32_t records)
{
	size_t off = 16;

	(void)ctx;
	seen.messages++;
	seen.counted += records;
	if (len > MTU)
		seen.over_mtu++;
	assert_int_equal(be16(msg), 10);
	assert_int_equal(be16(msg + 2), len);
	while (off + 4 <= len) {
		uint16_t sid = be16(msg + off), slen = be16(msg + off + 2);
		const uint8_t *body = msg + off + 4;
		size_t blen = slen - 4u;

		assert_true(slen >= 4 && off + slen <= len);
		if (slen == 4)
			seen.empty_sets++;
		if (sid == 2 || sid == 3) {
			read_template(body, blen, sid == 3);
		} else {
			struct tmpl *t = tmpl_of(sid);
			size_t at = 0, n;

			assert_non_null(t); /* a template before any record of it */
			while (at < blen && (n = record_len(t, body + at, blen - at)) > 0) {
				struct rec *r;

				seen.r = realloc(seen.r, (seen.n_r + 1) * sizeof(*seen.r));
				r = &seen.r[seen.n_r++];
				r->tid = sid;
				r->len = (uint16_t)n;
				memcpy(r->data, body + at, n);
				at += n;
			}
			assert_int_equal(at, blen);
		}
		off += slen;
	}
	return !seen.refuse;
}

/* A field of a record, by element id and enterprise; NULL if its template has none. */
static const uint8_t *
field(const struct rec *r, uint16_t id, uint32_t pen, uint16_t *len)
{
	const struct tmpl *t = tmpl_of(r->tid);
	size_t off = 0;
	uint16_t i;

	for (i = 0; i < t->n; i++) {
		size_t l = t->f[i].len;

		if (l == 65535) {
			l = r->data[off++];
			if (l == 255) {
				l = be16(r->data + off);
				off += 2;
			}
		}
		if (t->f[i].id == id && t->f[i].pen == pen) {
			*len = (uint16_t)l;
			return r->data + off;
		}
		off += l;
	}
	return NULL;
}

static uint64_t
num(const struct rec *r, uint16_t id, uint32_t pen)
{
	uint16_t len = 0;
	const uint8_t *p = field(r, id, pen, &len);

	assert_non_null(p);
	switch (len) {
	case 1:
		return p[0];
	case 2:
		return be16(p);
	case 4:
		return be32(p);
	default:
		assert_int_equal(len, 8);
		return be64(p);
	}
}

/* ---- fixtures ---- */

static int
setup(void **state)
{
	struct dpi_params p = {.max_states = 1};

	(void)state;
	names = dpi_create(&p);
	return names == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	dpi_destroy(names);
	return 0;
}

static struct ipfix *
fresh(uint32_t max_tracked)
{
	struct ipfix_params p = {
		.domain = 7,
		.pen = PEN,
		.mtu = MTU,
		.max_tracked = max_tracked,
		.names = names,
		.send = on_message,
	};
	char err[256];
	struct ipfix *x;

	free(seen.r);
	memset(&seen, 0, sizeof(seen));
	x = ipfix_create(&p, err, sizeof(err));
	assert_non_null(x);
	return x;
}

static void
v4_flow(struct flow_record *r, uint32_t id, uint64_t packets, uint64_t rev_packets)
{
	memset(r, 0, sizeof(*r));
	r->key.ip_version = 4;
	r->key.l4_proto = 6;
	memcpy(r->key.lo_addr, (uint8_t[]){10, 0, 0, 1}, 4);
	memcpy(r->key.hi_addr, (uint8_t[]){10, 0, 0, 2}, 4);
	r->key.lo_port = 443;
	r->key.hi_port = (uint16_t)(40000 + id);
	r->initiator_hi = 1; /* 10.0.0.2:4xxxx -> 10.0.0.1:443 */
	r->flow_id = id;
	r->packets = packets;
	r->rev_packets = rev_packets;
	r->bytes = packets * 100;
	r->rev_bytes = rev_packets * 100;
	r->first_ms = 1000;
	r->last_ms = 2000;
	r->verdict.master_proto = (uint16_t)dpi_proto_id(names, "TLS");
	r->verdict.app_proto = (uint16_t)dpi_proto_id(names, "YouTube");
	r->end_reason = FLOW_END_CLOSED;
	r->action = POLICY_CHAIN;
	snprintf(r->chain, sizeof(r->chain), "video");
}

/* ---- tests ---- */

static void
templates_and_names_first(void **state)
{
	struct ipfix *x = fresh(16);
	const struct tmpl *v4, *v6, *apps;
	uint32_t i, n_names = 0;
	bool app_id = false, rev = false, own = false;

	(void)state;
	ipfix_templates(x, 0);
	v4 = tmpl_of(IPFIX_TEMPLATE_V4);
	v6 = tmpl_of(IPFIX_TEMPLATE_V6);
	apps = tmpl_of(IPFIX_TEMPLATE_APP_NAMES);
	assert_non_null(v4);
	assert_non_null(v6);
	assert_non_null(apps);
	for (i = 0; i < v4->n; i++) {
		/* Variable length (nfdump 1.7.1 reverses a fixed-length one; see ipfix.c). */
		app_id |= v4->f[i].id == 95 && v4->f[i].pen == 0 && v4->f[i].len == 65535;
		rev |= v4->f[i].id == 1 && v4->f[i].pen == REVERSE_PEN;
		own |= v4->f[i].pen == PEN;
	}
	assert_true(app_id && rev && own);
	/* The options template: scoped on applicationId, fixed-length name and description. */
	assert_int_equal(apps->scope, 1);
	assert_int_equal(apps->f[0].id, 95);
	assert_int_equal(apps->f[1].id, 96);
	assert_int_equal(apps->f[1].len, IPFIX_APP_NAME_LEN);
	assert_int_equal(apps->f[2].id, 94);
	for (i = 0; i < seen.n_r; i++) {
		uint16_t len;
		const uint8_t *id = field(&seen.r[i], 95, 0, &len);
		const uint8_t *name = field(&seen.r[i], 96, 0, &len);

		assert_int_equal(seen.r[i].tid, IPFIX_TEMPLATE_APP_NAMES);
		assert_int_equal(id[0], IPFIX_ENGINE_NDPI);
		assert_string_equal((const char *)name,
				    dpi_proto_name(names, (uint16_t)(id[1] << 16 | id[2] << 8 | id[3])));
		n_names++;
	}
	assert_int_equal(n_names, dpi_proto_count(names));
	assert_int_equal(seen.counted, 0); /* names are not flow records */
	assert_int_equal(seen.over_mtu, 0);
	ipfix_destroy(x);
}

static void
biflow_counts_and_application(void **state)
{
	struct ipfix *x = fresh(16);
	struct flow_record r;
	const struct rec *d;
	uint16_t len;
	const uint8_t *p;
	struct ipfix_stats st;

	(void)state;
	ipfix_templates(x, 0);
	seen.n_r = 0;
	v4_flow(&r, 1, 10, 4);
	snprintf(r.meta.host, sizeof(r.meta.host), "www.youtube.com");
	ipfix_record(x, &r, 300, 5);
	ipfix_flush(x, 5, 0);
	assert_int_equal(seen.n_r, 1);
	d = &seen.r[0];
	assert_int_equal(d->tid, IPFIX_TEMPLATE_V4);
	assert_int_equal(num(d, 2, 0), 6); /* packetDeltaCount: the initiator's */
	assert_int_equal(num(d, 2, REVERSE_PEN), 4);
	assert_int_equal(num(d, 1, 0), 600);
	assert_int_equal(num(d, 1, REVERSE_PEN), 400);
	assert_int_equal(num(d, 8, 0), 0x0a000002); /* sourceIPv4Address: the initiator */
	assert_int_equal(num(d, 7, 0), 40001);
	assert_int_equal(num(d, 11, 0), 443);
	assert_int_equal(num(d, 136, 0), 3); /* flowEndReason: end of flow detected */
	assert_int_equal(num(d, 152, 0), 1000);
	assert_int_equal(num(d, 153, 0), 2000);
	p = field(d, 95, 0, &len);
	assert_int_equal(len, 4);
	assert_int_equal(p[0], IPFIX_ENGINE_NDPI);
	assert_int_equal(p[1] << 16 | p[2] << 8 | p[3], dpi_proto_id(names, "YouTube"));
	assert_int_equal(num(d, 7, PEN), 300); /* flowtagNshSpi */
	p = field(d, 6, PEN, &len); /* flowtagChainName */
	assert_int_equal(len, 5);
	assert_memory_equal(p, "video", 5);
	p = field(d, 4, PEN, &len); /* flowtagServerName */
	assert_memory_equal(p, "www.youtube.com", len);
	ipfix_get_stats(x, &st);
	assert_int_equal(st.records, 1);
	assert_int_equal(seen.counted, 1);
	ipfix_destroy(x);
}

static void
interim_deltas_add_up(void **state)
{
	struct ipfix *x = fresh(16);
	struct flow_record r;
	uint64_t fwd = 0, rv = 0, fwd_bytes = 0;
	uint32_t i;

	(void)state;
	ipfix_templates(x, 0);
	seen.n_r = 0;
	v4_flow(&r, 1, 10, 4);
	r.interim = 1;
	ipfix_record(x, &r, 0, 1);
	r.packets = 30;
	r.rev_packets = 11;
	r.bytes = 3000;
	r.rev_bytes = 1100;
	r.last_ms = 3000;
	ipfix_record(x, &r, 0, 2);
	r.interim = 0;
	r.packets = 31;
	r.bytes = 3100;
	r.last_ms = 3500;
	ipfix_record(x, &r, 0, 3);
	ipfix_flush(x, 3, 0);
	assert_int_equal(seen.n_r, 3);
	for (i = 0; i < 3; i++) {
		fwd += num(&seen.r[i], 2, 0);
		rv += num(&seen.r[i], 2, REVERSE_PEN);
		fwd_bytes += num(&seen.r[i], 1, 0);
	}
	assert_int_equal(fwd, 31 - 11);
	assert_int_equal(rv, 11);
	assert_int_equal(fwd_bytes, 3100 - 1100);
	assert_int_equal(num(&seen.r[0], 136, 0), 2); /* active timeout */
	assert_int_equal(num(&seen.r[2], 136, 0), 3);
	/* Each interval starts where the last ended. */
	assert_int_equal(num(&seen.r[1], 152, 0), 2000);
	assert_int_equal(num(&seen.r[2], 152, 0), 3000);
	ipfix_destroy(x);
}

static void
long_flow_table_is_bounded(void **state)
{
	struct ipfix *x = fresh(1);
	struct flow_record a, b;
	struct ipfix_stats st;

	(void)state;
	ipfix_templates(x, 0);
	seen.n_r = 0;
	v4_flow(&a, 1, 10, 4);
	v4_flow(&b, 2, 20, 5);
	a.interim = b.interim = 1;
	ipfix_record(x, &a, 0, 1);
	ipfix_record(x, &b, 0, 1); /* the table is full: skipped, counted */
	b.interim = 0;
	b.packets = 25;
	ipfix_record(x, &b, 0, 2); /* its final record carries all of it */
	ipfix_flush(x, 2, 0);
	ipfix_get_stats(x, &st);
	assert_int_equal(st.interim_untracked, 1);
	assert_int_equal(st.tracked, 1);
	assert_int_equal(seen.n_r, 2);
	assert_int_equal(num(&seen.r[1], 2, 0) + num(&seen.r[1], 2, REVERSE_PEN), 25);
	ipfix_destroy(x);
}

static void
hostile_hosts_and_no_empty_sets(void **state)
{
	struct ipfix *x = fresh(16);
	struct flow_record r;
	struct ipfix_stats st;
	uint32_t i;

	(void)state;
	ipfix_templates(x, 0);
	seen.n_r = 0;
	for (i = 0; i < 500; i++) {
		v4_flow(&r, i, 3, 1);
		if (i % 2) {
			r.key.ip_version = 6;
			memset(r.key.lo_addr, 0x20, 16);
			memset(r.key.hi_addr, 0x30, 16);
		}
		/* The longest host nDPI keeps, with bytes that are not UTF-8. */
		memset(r.meta.host, 'a', sizeof(r.meta.host) - 1);
		r.meta.host[sizeof(r.meta.host) - 1] = '\0';
		r.meta.host[3] = (char)0xff;
		r.meta.host[10] = (char)0xc3; /* a lead byte with no continuation */
		ipfix_record(x, &r, 0, i);
	}
	ipfix_flush(x, 500, 0);
	assert_int_equal(seen.n_r, 500);
	assert_int_equal(seen.empty_sets, 0);
	assert_int_equal(seen.over_mtu, 0);
	for (i = 0; i < seen.n_r; i++) {
		uint16_t len, k;
		const uint8_t *h = field(&seen.r[i], 4, PEN, &len);
		char text[512];

		assert_int_equal(len, sizeof(r.meta.host) - 1);
		memcpy(text, h, len);
		text[len] = '\0';
		for (k = 0; k < len;) {
			size_t n = json_utf8_seq_len((const unsigned char *)text + k);

			assert_true(n > 0); /* valid UTF-8 all through */
			k = (uint16_t)(k + n);
		}
		assert_int_equal(text[3], '?');
	}
	/* A transport that refuses: the records are counted, nothing else happens. */
	seen.refuse = true;
	v4_flow(&r, 9999, 3, 1);
	ipfix_record(x, &r, 0, 600);
	ipfix_flush(x, 600, 0);
	ipfix_get_stats(x, &st);
	assert_int_equal(st.records_not_sent, 1);
	ipfix_destroy(x);
}

static void
targets(void **state)
{
	char host[200], port[8];
	bool tcp;

	(void)state;
	assert_null(ipfix_target_parse("udp://127.0.0.1:4739", &tcp, host, sizeof(host), port,
				       sizeof(port)));
	assert_false(tcp);
	assert_string_equal(host, "127.0.0.1");
	assert_null(ipfix_target_parse("tcp://[2001:db8::1]:4739", &tcp, host, sizeof(host), port,
				       sizeof(port)));
	assert_true(tcp);
	assert_string_equal(host, "2001:db8::1");
	assert_non_null(ipfix_target_parse("udp://127.0.0.1", &tcp, host, sizeof(host), port,
					   sizeof(port)));
	assert_non_null(ipfix_target_parse("udp://h:0", &tcp, host, sizeof(host), port, sizeof(port)));
	assert_non_null(ipfix_target_parse("udp://h:65536", &tcp, host, sizeof(host), port,
					   sizeof(port)));
	assert_non_null(ipfix_target_parse("sctp://h:1", &tcp, host, sizeof(host), port, sizeof(port)));
	assert_non_null(ipfix_target_parse("udp://[::1:4739", &tcp, host, sizeof(host), port,
					   sizeof(port)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(templates_and_names_first),
		cmocka_unit_test(biflow_counts_and_application),
		cmocka_unit_test(interim_deltas_add_up),
		cmocka_unit_test(long_flow_table_is_bounded),
		cmocka_unit_test(hostile_hosts_and_no_empty_sets),
		cmocka_unit_test(targets),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);

	free(seen.r);
	return rc;
}
