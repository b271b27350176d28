/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* libFuzzer target: a capture record of any supported link type, converted, then parsed. */
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int linktypes[] = {0, 1, 9, 12, 101, 104, 108, 113, 228, 229, 276};
	static uint8_t frame[65536 + 64];
	struct parse_info pi;
	int n;

	if (size < 1)
		return 0;
	n = capture_to_ethernet(linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))],
				data + 1, (uint32_t)(size - 1 > 65536 ? 65536 : size - 1), frame,
				sizeof(frame));
	if (n >= 0)
		(void)parse_ethernet(frame, (uint32_t)n, &pi);
	return 0;
}
