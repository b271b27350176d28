/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* libFuzzer target: a user's config file. Any input gives 0 or a file:line:col message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dpi.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERR_MAX];
	struct config cfg;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&cfg);
	err[0] = '\0';
	if (config_load_string(&cfg, "fuzz.yaml", text, err, sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.yaml:", 10) != 0)
			__builtin_trap(); /* an error must say where */
	} else {
		/* A file that loads goes on to the policy compiler, as `flowtag check` does. */
		static struct dpi *names;
		struct dpi_params dp = {.max_states = 1};
		struct policy *p;

		if (names == NULL && (names = dpi_create(&dp)) == NULL)
			abort();
		p = policy_compile(config_policy(&cfg), names, "fuzz.yaml", err, sizeof(err));
		if (p == NULL && strncmp(err, "fuzz.yaml:", 10) != 0)
			__builtin_trap();
		policy_destroy(p);
	}
	config_release(&cfg);
	free(text);
	return 0;
}
