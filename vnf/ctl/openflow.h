/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * OpenFlow 1.3 as flowtag speaks it to Open vSwitch: the only code that knows the wire format.
 *
 * What flowtag sends: HELLO, ECHO, SET_CONFIG, SET_ASYNC, BARRIER, and FLOW_MODs whose match
 * is a flow's exact 5-tuple (+ VLAN, + "no SYN/FIN/RST" for TCP) and whose actions push one
 * of flowtag's tags (struct tag_push) and hand the packet back to the bridge's pipeline
 * (Nicira resubmit). NSH needs the Nicira extensions OVS defines: encap/decap actions with
 * NSH properties (lib/ofp-ed-props.c), the NSH fields as experimenter OXMs (class 0xffff,
 * experimenter 0x005ad650), register moves. Every encoding here is the one OVS itself
 * produces for the same flow (ovs-ofctl parse-flow -mmmmm prints it; tests compare them byte
 * for byte).
 *
 * What it reads: message headers, HELLO (version bitmap), ECHO_REQUEST, ERROR, FLOW_REMOVED
 * (with its OXM match), BARRIER_REPLY, FEATURES_REPLY. Every byte read comes from a socket:
 * lengths are checked before use, unknown OXM fields are skipped by their length, and a
 * malformed message is refused (-EINVAL), never read past its end.
 *
 * Pure code: buffers in, buffers out (ofconn.c moves them over a socket).
 */
#ifndef FLOWTAG_OPENFLOW_H
#define FLOWTAG_OPENFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tag_push;

#define OFP13_VERSION 0x04
#define OF_HEADER_LEN 8
#define OF_MSG_MAX 2048 /* the largest message flowtag builds (an NSH MD2 FLOW_MOD: ~450 B) */
#define OF_READ_MAX 65535 /* the largest a peer can send (the length field) */

enum of_type {
	OFPT_HELLO = 0,
	OFPT_ERROR = 1,
	OFPT_ECHO_REQUEST = 2,
	OFPT_ECHO_REPLY = 3,
	OFPT_EXPERIMENTER = 4,
	OFPT_FEATURES_REQUEST = 5,
	OFPT_FEATURES_REPLY = 6,
	OFPT_SET_CONFIG = 9,
	OFPT_PACKET_IN = 10,
	OFPT_FLOW_REMOVED = 11,
	OFPT_PORT_STATUS = 12,
	OFPT_FLOW_MOD = 14,
	OFPT_MULTIPART_REQUEST = 18,
	OFPT_MULTIPART_REPLY = 19,
	OFPT_BARRIER_REQUEST = 20,
	OFPT_BARRIER_REPLY = 21,
	OFPT_SET_ASYNC = 28,
};

enum of_flow_mod_command {
	OFPFC_ADD = 0,
	OFPFC_MODIFY = 1,
	OFPFC_MODIFY_STRICT = 2,
	OFPFC_DELETE = 3,
	OFPFC_DELETE_STRICT = 4,
};

#define OFPFF_SEND_FLOW_REM 0x0001
#define OFPTT_ALL 0xff /* every table (DELETE) */
#define OFPP_ANY 0xffffffffu
#define OFPG_ANY 0xffffffffu
#define OF_MAX_PORT 0xffffff00u /* OFPP_MAX: the highest physical port number */

enum of_removed_reason {
	OFPRR_IDLE_TIMEOUT = 0,
	OFPRR_HARD_TIMEOUT = 1,
	OFPRR_DELETE = 2,
	OFPRR_GROUP_DELETE = 3,
};

struct of_header {
	uint8_t version;
	uint8_t type;
	uint16_t length;
	uint32_t xid;
};

/* The header at p (len bytes available). 0, or -EINVAL when len < 8 or length < 8. */
int of_parse_header(const uint8_t *p, size_t len, struct of_header *h);

/* A message being built: writes past `cap` set `overflow` and are dropped whole. */
struct of_buf {
	uint8_t data[OF_MSG_MAX];
	size_t len;
	bool overflow;
};

/*
 * A flow's match: what flowtag offloads is always one direction of one TCP or UDP flow.
 * Fields OVS orders them in: in_port, eth_type, vlan_vid, addresses, ip_proto, ports, TCP
 * flags (the encoding below follows that order, as oxm_put_match() does).
 */
#define OF_VID_PRESENT 0x1000 /* OFPVID_PRESENT: a tag is there; without it, vid 0 = untagged */

struct of_match {
	uint32_t in_port; /* 0: any port */
	bool match_vlan; /* vlan_vid below matters */
	uint16_t vlan_vid; /* OF_VID_PRESENT | VID, or 0 for "no VLAN tag" */
	uint8_t ip_version; /* 4 or 6 */
	uint8_t ip_proto; /* 6 (TCP) or 17 (UDP) */
	uint8_t src[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint16_t tp_src;
	uint16_t tp_dst;
	/* TCP: match only segments with none of these flags (e.g. SYN|FIN|RST stay on the
	 * flowtag path, so it sees a connection begin and end). 0: no flags matched. */
	uint16_t tcp_flags_clear;
};

/*
 * Parse an OXM match (ofp_match: type 1, length, fields, padding) at p[0..len) into m.
 * Fields flowtag never sets are skipped; a field outside the match, a bad length or a
 * prerequisite it cannot represent gives -EINVAL. Returns the match's padded length.
 */
int of_parse_match(const uint8_t *p, size_t len, struct of_match *m);

/* ---- actions (appended to a struct of_buf that holds an action list) ---- */

/*
 * Push `t` as OVS actions. NSH: the frame's addresses are kept in `scratch_xxreg` (NXM
 * xxreg0..3, 128 bits: eth_src in bits 0..47, eth_dst in 64..111) across encap(nsh) and
 * encap(ethernet), then written to the outer header, as flowtag's own encoder does.
 */
void of_put_tag_push(struct of_buf *b, const struct tag_push *t, unsigned int scratch_xxreg);
/* resubmit(in_port, table): the packet re-enters the pipeline as if it came from in_port. */
void of_put_resubmit(struct of_buf *b, uint32_t in_port, uint8_t table);

/* ---- messages ---- */

/* HELLO offering OpenFlow 1.3 only (a version bitmap element). */
void of_hello(struct of_buf *b, uint32_t xid);
void of_echo_request(struct of_buf *b, uint32_t xid);
/* ECHO_REPLY to a request (its payload echoed, up to what fits). */
void of_echo_reply(struct of_buf *b, const uint8_t *request, size_t len);
void of_features_request(struct of_buf *b, uint32_t xid);
/* SET_CONFIG: fragments normal, miss_send_len (non-zero: a service connection then gets
 * asynchronous messages, FLOW_REMOVED among them). */
void of_set_config(struct of_buf *b, uint32_t xid, uint16_t miss_send_len);
/* SET_ASYNC: no PACKET_IN, no PORT_STATUS; FLOW_REMOVED for every reason. */
void of_set_async_flow_removed_only(struct of_buf *b, uint32_t xid);
void of_barrier_request(struct of_buf *b, uint32_t xid);

struct of_flow_mod {
	uint64_t cookie;
	uint64_t cookie_mask; /* DELETE / MODIFY: which cookies (0 = any) */
	uint8_t table_id;
	uint8_t command; /* enum of_flow_mod_command */
	uint16_t idle_timeout;
	uint16_t hard_timeout;
	uint16_t priority;
	uint16_t flags; /* OFPFF_* */
	const struct of_match *match; /* NULL: match everything */
	/* An action list, sent in one APPLY_ACTIONS instruction; NULL or empty: drop. */
	const uint8_t *actions;
	size_t actions_len;
};

void of_flow_mod(struct of_buf *b, uint32_t xid, const struct of_flow_mod *fm);

/* MULTIPART_REQUEST AGGREGATE: the packets, bytes and rules of every rule with this cookie
 * (under cookie_mask), in every table: what the switch carries for flowtag right now. */
void of_aggregate_request(struct of_buf *b, uint32_t xid, uint64_t cookie, uint64_t cookie_mask);

/* ---- what a peer sends ---- */

/* HELLO: 0 when OpenFlow 1.3 is among the peer's versions, -EPROTO when not. */
int of_parse_hello(const uint8_t *msg, size_t len);

struct of_error {
	uint16_t type;
	uint16_t code;
	uint8_t failed_type; /* the type of the message it refers to (0xff: unknown) */
	bool has_cookie; /* a FLOW_MOD's, from the error's copy of its first bytes */
	uint32_t failed_xid;
	uint64_t failed_cookie;
};
int of_parse_error(const uint8_t *msg, size_t len, struct of_error *e);
/* "OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL" and the like, for logs. */
const char *of_error_name(uint16_t type, uint16_t code, char *buf, size_t len);

struct of_flow_removed {
	uint64_t cookie;
	uint16_t priority;
	uint8_t reason; /* enum of_removed_reason */
	uint8_t table_id;
	uint32_t duration_sec;
	uint32_t duration_nsec;
	uint16_t idle_timeout;
	uint16_t hard_timeout;
	uint64_t packet_count;
	uint64_t byte_count;
	struct of_match match;
};
int of_parse_flow_removed(const uint8_t *msg, size_t len, struct of_flow_removed *fr);

struct of_aggregate {
	uint64_t packet_count;
	uint64_t byte_count;
	uint32_t flow_count;
};
/* A MULTIPART_REPLY of type AGGREGATE; -EINVAL for anything else. */
int of_parse_aggregate_reply(const uint8_t *msg, size_t len, struct of_aggregate *a);

int of_parse_features_reply(const uint8_t *msg, size_t len, uint64_t *datapath_id,
			    uint8_t *n_tables);

const char *of_type_name(uint8_t type);
const char *of_removed_reason_name(uint8_t reason);

#endif
