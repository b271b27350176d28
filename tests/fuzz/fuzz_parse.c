/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* libFuzzer target: Ethernet frames straight off the wire into the parser. */
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_info pi;
	struct flow_key key;
	unsigned int flags;

	/* As from a port, and as from a capture (TSO lengths of 0 read as the frame's) with
	 * every tunnel opened. */
	for (flags = 0; flags <= (PARSE_F_CAPTURE | PARSE_F_TUNNELS);
	     flags += PARSE_F_CAPTURE | PARSE_F_TUNNELS) {
		if (parse_frame(data, (uint32_t)size, flags, &pi) != PARSE_OK)
			continue;
		/* Whatever parsed must also make a key, and stay within the frame. */
		flow_key_from_packet(&pi, &key);
		(void)flow_key_hash(&key);
		if (pi.l3_off + pi.l3_len > size || pi.payload_off + pi.payload_len > size)
			__builtin_trap();
	}
	return 0;
}
