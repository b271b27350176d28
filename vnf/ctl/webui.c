/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "webui.h"

#include <string.h>

const struct web_asset *
webui_find(const char *path)
{
	const struct web_asset *a;

	for (a = web_assets; a->path != NULL; a++)
		if (strcmp(a->path, path) == 0)
			return a;
	return NULL;
}
