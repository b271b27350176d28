/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * IPFIX (RFC 7011) encoding of finished flows: the one module that uses libfixbuf.
 *
 * Records become IPFIX messages of at most `mtu` bytes, handed to `send` whole (the transport,
 * ipfix_conn.c, decides what happens to them). Each flow is one RFC 5103 biflow record
 * (forward = the initiator's direction, reverse = the responder's), IPv4 or IPv6 template,
 * with its application as RFC 6759 applicationId (IE 95: classification engine 22, ntop nDPI,
 * and nDPI's protocol id as the selector) and flowtag's own fields as enterprise-specific
 * elements under `pen`. An options template scoped on applicationId names every nDPI
 * protocol (applicationName, applicationDescription, fixed length: nfcapd 1.7 refuses
 * variable-length ones there); ipfix_templates() sends templates and names again.
 *
 * Long flows: a worker hands an interim record (flow_record.interim) at each active timeout;
 * counts are exported as deltas (octetDeltaCount...), so the exporter remembers, for each flow
 * that had an interim record, what it already exported (a bounded table: when full, a flow's
 * interim record is not exported and its final record carries all of it).
 *
 * Pure code (no DPDK, no libevent), one thread: the control thread.
 */
#ifndef FLOWTAG_IPFIX_H
#define FLOWTAG_IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stat_item.h"

struct dpi;
struct flow_record;

/* RFC 6759 §4.1: classification engine 22 is "ntop nDPI" in IANA's registry. */
#define IPFIX_ENGINE_NDPI 22
/* RFC 5612: the Private Enterprise Number set aside for documentation and examples. */
#define IPFIX_PEN_DOCUMENTATION 32473
#define IPFIX_TEMPLATE_V4 256
#define IPFIX_TEMPLATE_V6 257
#define IPFIX_TEMPLATE_APP_NAMES 258
#define IPFIX_APP_NAME_LEN 32 /* applicationName, fixed (see above) */
#define IPFIX_APP_DESC_LEN 64
#define IPFIX_MTU_MIN 512
#define IPFIX_MTU_MAX 65535

struct ipfix_params {
	uint32_t domain; /* observation domain id */
	uint32_t pen; /* enterprise number of flowtag's own elements */
	uint16_t mtu; /* largest message, bytes */
	uint32_t max_tracked; /* flows with interim records remembered at once */
	const struct dpi *names; /* protocol and category names (read-only tables) */
	/* A finished message and the data records in it. Returns false if it was not sent
	 * (the records are counted as not exported). */
	bool (*send)(void *ctx, const uint8_t *msg, size_t len, uint32_t records);
	void *ctx;
};

/* What happened to the records: every counter, its name and help (for /v1/stats, /metrics). */
#define IPFIX_STATS(X)                                                                             \
	X(records, "flow records encoded (final and interim)")                                   \
	X(interim_records, "interim records encoded (active timeout of a long flow)")            \
	X(records_not_sent, "records in messages the transport did not take (collector down, " \
			    "queue full)")                                                         \
	X(interim_untracked, "interim records not exported: the table of long flows was full")   \
	X(messages, "IPFIX messages handed to the transport")                                   \
	X(message_bytes, "bytes of those messages")                                             \
	X(template_sends, "times the templates and application names were sent")               \
	X(encode_errors, "records libfixbuf refused to encode")

struct ipfix_stats {
#define IPFIX_STAT_FIELD(name, help) uint64_t name;
	IPFIX_STATS(IPFIX_STAT_FIELD)
#undef IPFIX_STAT_FIELD
	uint32_t tracked; /* long flows remembered now */
};

/* NULL with a reason in err (a bad parameter, libfixbuf refused the templates). */
struct ipfix *ipfix_create(const struct ipfix_params *p, char *err, size_t err_len);
void ipfix_destroy(struct ipfix *x);
/* New ids or message size (a reload): the templates are rebuilt (send them again with
 * ipfix_templates); what it remembers of long flows stays. -1 with err: the old ones stay. */
int ipfix_reconfigure(struct ipfix *x, uint32_t domain, uint32_t pen, uint16_t mtu, char *err,
		      size_t err_len);

/*
 * The templates, then the application names (options data), then whatever records were
 * waiting. At start, on each (re)connection and at every template refresh.
 */
void ipfix_templates(struct ipfix *x, uint64_t now_ms);
/* One record: final (its flow ended) or interim. `spi` is its chain's NSH SPI, 0 if none. */
void ipfix_record(struct ipfix *x, const struct flow_record *r, uint32_t spi, uint64_t now_ms);
/* A record that cannot go (no session): counted as not sent, its flow forgotten if final. */
void ipfix_skip(struct ipfix *x, const struct flow_record *r);
/* Drop the message being filled, counted as not sent: a new TCP session must begin with
 * templates, not with records appended for the one that went away. */
void ipfix_discard(struct ipfix *x);
/* Send the message being filled, if it holds records older than `max_age_ms` (0: any). */
void ipfix_flush(struct ipfix *x, uint64_t now_ms, uint32_t max_age_ms);
void ipfix_get_stats(const struct ipfix *x, struct ipfix_stats *st);

/*
 * A collector's address, udp://HOST:PORT or tcp://HOST:PORT ([IPv6] in brackets), split. NULL
 * if fine, else what was expected (the config reader's message).
 */
const char *ipfix_target_parse(const char *target, bool *tcp, char *host, size_t host_len,
			       char *port, size_t port_len);

/* RFC 5102 flowEndReason of a record. */
uint8_t ipfix_end_reason(const struct flow_record *r);

extern const struct stat_item ipfix_stat_items[];
extern const unsigned int ipfix_stat_count;

#endif
