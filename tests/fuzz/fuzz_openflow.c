/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * libFuzzer target: what an OpenFlow peer sends flowtag (a switch, or anything listening
 * where the config points). The bytes are one message, handed to the reader for its type
 * and, whatever the type says, to every reader: no crash, no read past the end, and a
 * FLOW_REMOVED that parses has a match of one of the two IP versions or none.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees a read one byte past the message. */
	uint8_t *msg = malloc(size > 0 ? size : 1);
	struct of_header h;
	struct of_flow_removed fr;
	struct of_error e;
	struct of_buf reply;
	uint64_t dpid;
	uint8_t tables;
	char name[64];

	if (msg == NULL)
		return 0;
	memcpy(msg, data, size);
	(void)of_parse_header(msg, size, &h);
	(void)of_parse_hello(msg, size);
	if (of_parse_error(msg, size, &e) == 0)
		(void)of_error_name(e.type, e.code, name, sizeof(name));
	if (of_parse_flow_removed(msg, size, &fr) == 0 && fr.match.ip_version != 0 &&
	    fr.match.ip_version != 4 && fr.match.ip_version != 6)
		abort();
	(void)of_parse_features_reply(msg, size, &dpid, &tables);
	reply.len = 0;
	reply.overflow = false;
	of_echo_reply(&reply, msg, size);
	if (reply.len > sizeof(reply.data))
		abort();
	free(msg);
	return 0;
}
