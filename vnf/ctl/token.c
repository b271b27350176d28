/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_RANDOM_BYTES 32

char *
token_load(const char *path, size_t max_len, char *err, size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *buf = malloc(max_len + 2);
	ssize_t got = 0, n;
	size_t len, i;
	struct stat st;

	if (fd < 0 || buf == NULL) {
		snprintf(err, err_len, "api.token_file %s: %s", path,
			 buf == NULL ? "out of memory" : errno == ELOOP ? "a symbolic link: refused"
									: strerror(errno));
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & S_IWOTH)) {
		snprintf(err, err_len, "api.token_file %s: not a regular file, or anyone may write it",
			 path);
		goto fail;
	}
	while ((size_t)got < max_len + 1 && (n = read(fd, buf + got, max_len + 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	len = strcspn(buf, "\r\n");
	if (len > max_len) {
		snprintf(err, err_len, "api.token_file %s: the token is longer than %zu bytes", path,
			 max_len);
		goto fail;
	}
	buf[len] = '\0';
	if (len == 0) {
		snprintf(err, err_len, "api.token_file %s: empty", path);
		goto fail;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f) {
			snprintf(err, err_len, "api.token_file %s: the token must be printable ASCII "
					       "without spaces",
				 path);
			goto fail;
		}
	}
	close(fd);
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

char *
token_load_or_make(const char *path, size_t max_len, bool *made, char *err, size_t err_len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[TOKEN_RANDOM_BYTES];
	char *token, *slash, dir[4096];
	size_t got = 0, i;
	int fd;

	*made = false;
	if (access(path, F_OK) == 0 || errno != ENOENT)
		return token_load(path, max_len, err, err_len);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			snprintf(err, err_len, "api.token_file %s: cannot make %s: %s (set api.token_file, "
					       "or api.auth: none)",
				 path, dir, strerror(errno));
			return NULL;
		}
	}
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n <= 0 && errno != EINTR) {
			snprintf(err, err_len, "api token: no randomness: %s", strerror(errno));
			return NULL;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	token = malloc(2 * sizeof(raw) + 2);
	if (token == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	for (i = 0; i < sizeof(raw); i++) {
		token[2 * i] = hex[raw[i] >> 4];
		token[2 * i + 1] = hex[raw[i] & 15];
	}
	token[2 * sizeof(raw)] = '\n';
	token[2 * sizeof(raw) + 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		bool ok = write(fd, token, 2 * sizeof(raw) + 1) == (ssize_t)(2 * sizeof(raw) + 1);

		ok = close(fd) == 0 && ok;
		if (!ok) {
			unlink(path);
			fd = -1;
		}
	}
	if (fd < 0) {
		snprintf(err, err_len, "api.token_file %s: cannot write it: %s (set api.token_file, or "
				       "api.auth: none)",
			 path, strerror(errno));
		free(token);
		return NULL;
	}
	token[2 * sizeof(raw)] = '\0';
	*made = true;
	return token;
}
