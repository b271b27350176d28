/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The live web view's files (vnf/web/), built into flowtag by vnf/web/embed.py with Chart.js
 * from Debian's libjs-chart.js: GET / and /ui/... serve them, offline, no CDN. Pure.
 */
#ifndef FLOWTAG_WEBUI_H
#define FLOWTAG_WEBUI_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/", "/ui/app.js", ... */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

/* The table embed.py writes, a NULL path last. */
extern const struct web_asset web_assets[];

/* The asset at `path`, or NULL. */
const struct web_asset *webui_find(const char *path);

/* Headers every page answer carries: the page loads only its own files and talks only to its
 * own origin (no inline script, no frames: a host name from a packet cannot become code). */
#define WEBUI_HEADERS                                                                              \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "   \
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "     \
	"frame-ancestors 'none'\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n"

#endif
