/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "flow_record.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "parse.h"
#include "policy.h"

const char *
flow_record_l4_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_IGMP:
		return "igmp";
	case 112:
		return "vrrp";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

const char *
flow_end_reason_name(enum flow_end_reason r)
{
	static const char *const names[FLOW_END_REASON_COUNT] = {
		[FLOW_END_IDLE] = "idle",
		[FLOW_END_CLOSED] = "closed",
		[FLOW_END_EVICTED] = "evicted",
		[FLOW_END_FLUSH] = "flush",
	};

	return (unsigned int)r < FLOW_END_REASON_COUNT ? names[r] : "unknown";
}

static void
jaddr(struct json_buf *b, const uint8_t *addr, uint8_t version)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(version == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
	json_string(b, text);
}

static const char *
dpi_state_name(uint8_t s)
{
	switch (s) {
	case FLOW_DPI_DETECTED:
		return "detected";
	case FLOW_DPI_GAVE_UP:
		return "gave_up";
	case FLOW_DPI_CLASSIFYING:
		return "classifying";
	default:
		return "no_state";
	}
}

int
flow_record_to_json(const struct flow_record *r, const struct dpi *names, char *buf, size_t len)
{
	struct json_buf b;
	const uint8_t *src_addr = r->initiator_hi ? r->key.hi_addr : r->key.lo_addr;
	const uint8_t *dst_addr = r->initiator_hi ? r->key.lo_addr : r->key.hi_addr;
	uint16_t src_port = r->initiator_hi ? r->key.hi_port : r->key.lo_port;
	uint16_t dst_port = r->initiator_hi ? r->key.lo_port : r->key.hi_port;
	char l4[8], label[64];
	bool first = true;
	unsigned int bit;

	json_init(&b, buf, len);
	json_printf(&b, "{\"flow_id\":%u,\"worker\":%u,\"l4\":", r->flow_id, r->worker);
	json_string(&b, flow_record_l4_name(r->key.l4_proto, l4, sizeof(l4)));
	json_printf(&b, ",\"src_ip\":");
	jaddr(&b, src_addr, r->key.ip_version);
	json_printf(&b, ",\"src_port\":%u,\"dst_ip\":", src_port);
	jaddr(&b, dst_addr, r->key.ip_version);
	json_printf(&b, ",\"dst_port\":%u,\"vlan\":", dst_port);
	if (r->key.vlan != 0)
		json_printf(&b, "%u", r->key.vlan);
	else
		json_printf(&b, "null");
	/* A flow inside a UDP tunnel: its kind and id (TEID of its first packet, or VNI). */
	if (r->key.tunnel != 0) {
		json_printf(&b, ",\"tunnel\":");
		json_string(&b, parse_tunnel_name((enum parse_tunnel)r->key.tunnel));
		json_printf(&b, ",\"tunnel_id\":%u", r->key.tunnel_id);
	} else {
		json_printf(&b, ",\"tunnel\":null,\"tunnel_id\":null");
	}

	json_printf(&b, ",\"master_protocol\":");
	json_string(&b, r->verdict.master_proto != 0 ? dpi_proto_name(names, r->verdict.master_proto) : "");
	json_printf(&b, ",\"app_protocol\":");
	json_string(&b, dpi_proto_name(names, r->verdict.app_proto));
	json_printf(&b, ",\"category\":");
	json_string(&b, dpi_category_name(names, r->verdict.category));
	json_printf(&b, ",\"label\":");
	json_string(&b, dpi_label(names, &r->verdict, label, sizeof(label)));
	/* The ids NSH carries (C1 = master << 16 | app, C2 = category). */
	json_printf(&b, ",\"master_protocol_id\":%u,\"app_protocol_id\":%u,\"category_id\":%u",
		r->verdict.master_proto, r->verdict.app_proto, r->verdict.category);
	json_printf(&b, ",\"dpi\":\"%s\",\"host\":", dpi_state_name(r->dpi_state));
	if (r->meta.host[0] != '\0')
		json_string(&b, r->meta.host);
	else
		json_printf(&b, "null");
	json_printf(&b, ",\"ja3c\":");
	if (r->meta.ja3c[0] != '\0')
		json_string(&b, r->meta.ja3c);
	else
		json_printf(&b, "null");
	json_printf(&b, ",\"risk\":[");
	for (bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(r->meta.risk & (1ULL << bit)) || (name = dpi_risk_name(bit)) == NULL)
			continue;
		if (!first)
			json_printf(&b, ",");
		json_string(&b, name);
		first = false;
	}
	json_printf(&b, "],\"packets\":%llu,\"bytes\":%llu,\"reverse_packets\":%llu,\"reverse_bytes\":%llu",
		    (unsigned long long)r->packets, (unsigned long long)r->bytes,
		    (unsigned long long)r->rev_packets, (unsigned long long)r->rev_bytes);
	json_printf(&b, ",\"first_seen_ms\":%llu,\"last_seen_ms\":%llu", (unsigned long long)r->first_ms,
		    (unsigned long long)r->last_ms);
	json_printf(&b, ",\"end\":\"%s\"", flow_end_reason_name((enum flow_end_reason)r->end_reason));
	json_printf(&b, ",\"chain\":");
	if (r->action == POLICY_CHAIN)
		json_string(&b, r->chain);
	else
		json_printf(&b, "null");
	json_printf(&b, ",\"action\":\"%s\",\"verdict_packet\":%u,\"policy_version\":%u",
		r->action == POLICY_CHAIN ? "chain" : r->action == POLICY_DROP ? "drop" : "pass",
		r->verdict_packet, r->policy_version);
	json_printf(&b, ",\"offloaded\":%s,\"offloaded_packets\":%llu,\"offloaded_bytes\":%llu}",
		    r->offloaded ? "true" : "false", (unsigned long long)r->offloaded_packets,
		    (unsigned long long)r->offloaded_bytes);
	return b.overflow ? -ENOSPC : (int)b.used;
}
