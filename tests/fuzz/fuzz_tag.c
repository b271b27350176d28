/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * libFuzzer target: every tag encoder on arbitrary frames (the first bytes pick the encoder
 * and its parameters). Encoders must stay inside headroom + frame, keep their length promise,
 * and leave a refused frame unchanged.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADROOM 128

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[HEADROOM + 4096], copy[4096];
	struct tag_spec spec = {0};
	struct tag_meta meta = {.si = 255, .flow_id = 1, .policy_version = 1, .host = "h.example"};
	uint8_t *frame;
	uint32_t len, max;
	int rc;

	if (size < 4 || size - 4 > 4096)
		return 0;
	spec.kind = (enum tag_kind)(data[0] % TAG_KIND_COUNT);
	spec.md_type = (uint8_t)(1 + (data[1] & 1));
	spec.spi = (uint32_t)data[1] << 8 | data[2];
	spec.vid = (uint16_t)(1 + data[2] % 4094);
	spec.dscp = (uint8_t)(1 + data[3] % 63);
	len = (uint32_t)(size - 4);
	max = len + (data[3] >> 2); /* sometimes too small: must refuse, not overflow */
	frame = buf + HEADROOM;
	memcpy(frame, data + 4, len);
	memcpy(copy, data + 4, len);
	rc = tag_apply(&spec, &meta, &frame, &len, HEADROOM, max);
	if (rc == 0) {
		if (frame < buf || len > max || frame + len > buf + sizeof(buf))
			__builtin_trap();
		if (spec.kind == TAG_NSH && tag_nsh_decap(&frame, &len) == 0 &&
		    (len != size - 4 || memcmp(frame, copy, len) != 0))
			__builtin_trap(); /* decap must give back exactly what was encapsulated */
	} else if (frame != buf + HEADROOM || len != size - 4 || memcmp(frame, copy, len) != 0) {
		__builtin_trap(); /* a refused frame is left as it was */
	}
	return 0;
}
