/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * libFuzzer target: a PUT /v1/policy body, through exactly the path the API takes
 * (config_policy_from_text: bounded YAML, the config's rules, "a body must hold a policy",
 * the version bump, the compiler). Any input gives a policy or a "request:line:col" message;
 * a bumped version is never 0.
 */
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
	static struct dpi *names;
	struct dpi_params dp = {.max_states = 1};
	char err[CONFIG_ERR_MAX], *text = malloc(size + 1);
	struct policy *p;

	if (text == NULL)
		return 0;
	if (names == NULL && (names = dpi_create(&dp)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	p = config_policy_from_text(text, "request", true, size % 2 ? UINT32_MAX : 7, names, err,
				    sizeof(err));
	if (p == NULL && strncmp(err, "request:", 8) != 0)
		__builtin_trap(); /* an error must say where */
	if (p != NULL && policy_version(p) == 0 && strstr(text, "version") == NULL)
		__builtin_trap(); /* the bump wrapped */
	policy_destroy(p);
	free(text);
	return 0;
}
