/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "http_parse.h"

#include <string.h>

#include "text.h"
#include <strings.h>

/* RFC 9110 §5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

#define hexval text_hex_value

size_t
http_head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The next line of buf[*at..end), NUL-terminated in place (CRLF or LF). NULL at the end. */
static char *
next_line(char *buf, size_t *at, size_t end)
{
	char *line = buf + *at, *nl;

	if (*at >= end)
		return NULL;
	nl = memchr(line, '\n', end - *at);
	if (nl == NULL)
		return NULL;
	*at = (size_t)(nl - buf) + 1;
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	*nl = '\0';
	return line;
}

static bool
has_token(const char *list, const char *token)
{
	size_t n = strlen(token);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
						       p[n] == '\t'))
			return true;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return false;
}

static int
parse_request_line(char *line, struct http_head *h)
{
	char *sp1 = strchr(line, ' '), *sp2, *p;

	if (sp1 == NULL || sp1 == line)
		return 400;
	*sp1 = '\0';
	for (p = line; *p != '\0'; p++)
		if (!is_tchar((unsigned char)*p))
			return 400;
	if (sp1 - line > 15)
		return 501;
	h->method = line;
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL)
		return 400;
	*sp2 = '\0';
	if ((size_t)(sp2 - (sp1 + 1)) > HTTP_MAX_TARGET)
		return 414;
	h->target = sp1 + 1;
	if (h->target[0] != '/')
		return h->target[0] == '\0' ? 400 : 501; /* absolute-form, authority-form, '*' */
	for (p = sp1 + 1; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			return 400;
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9' || sp2[9] != '\0')
		return strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400;
	h->version_minor = (unsigned)(sp2[8] - '0');
	return 0;
}

/* A Content-Length value: digits only (RFC 9110 §8.6), no sign, within the limit. */
static bool
parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return false;
	for (; *v >= '0' && *v <= '9'; v++) {
		n = n * 10 + (uint64_t)(*v - '0');
		if (n > HTTP_MAX_BODY_LENGTH)
			return false;
	}
	*out = n;
	return *v == '\0';
}

int
http_parse_head(char *buf, size_t head_len, struct http_head *h)
{
	size_t at = 0;
	char *line;
	unsigned n_headers = 0;
	bool have_length = false, close = false, keep = false;
	int rc;

	memset(h, 0, sizeof(*h));
	/* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request. */
	while (at < head_len && (buf[at] == '\r' || buf[at] == '\n'))
		at++;
	line = next_line(buf, &at, head_len);
	if (line == NULL)
		return 400;
	rc = parse_request_line(line, h);
	if (rc != 0)
		return rc;
	while ((line = next_line(buf, &at, head_len)) != NULL && line[0] != '\0') {
		char *colon = strchr(line, ':'), *v, *end, *p;

		if (++n_headers > HTTP_MAX_HEADERS)
			return 431;
		if (line[0] == ' ' || line[0] == '\t')
			return 400; /* obsolete line folding (RFC 9112 §5.2) */
		if (colon == NULL || colon == line)
			return 400;
		*colon = '\0';
		for (p = line; *p != '\0'; p++)
			if (!is_tchar((unsigned char)*p))
				return 400; /* no whitespace before the colon (§5.1) */
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		for (p = v; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 && *p != '\t')
				return 400;
		if (strcasecmp(line, "Content-Length") == 0) {
			uint64_t n;

			/* Two different lengths: request smuggling territory (§6.3). */
			if (!parse_length(v, &n) || (have_length && n != h->content_length))
				return 400;
			h->content_length = n;
			have_length = true;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			return 501; /* request bodies are sent with a Content-Length here */
		} else if (strcasecmp(line, "Connection") == 0) {
			close = close || has_token(v, "close");
			keep = keep || has_token(v, "keep-alive");
		} else if (strcasecmp(line, "Authorization") == 0) {
			if (h->authorization != NULL)
				return 400;
			h->authorization = v;
		} else if (strcasecmp(line, "Accept") == 0) {
			h->accept = v;
		} else if (strcasecmp(line, "Origin") == 0) {
			h->origin = v;
		}
	}
	if (line == NULL)
		return 400; /* the head must end with its blank line */
	h->keep_alive = h->version_minor >= 1 ? !close : keep && !close;
	return 0;
}

int
http_split_target(const char *target, char *path, size_t path_len, const char **query)
{
	size_t o = 0;
	const char *p;

	*query = NULL;
	for (p = target; *p != '\0' && *p != '?'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%') {
			int hi = hexval((unsigned char)p[1]), lo = hi >= 0 ? hexval((unsigned char)p[2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			p += 2;
		}
		if (o + 1 >= path_len)
			return -1;
		path[o++] = (char)c;
	}
	path[o] = '\0';
	if (*p == '?')
		*query = p + 1;
	return 0;
}
