/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "eal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <rte_eal.h>
#include <rte_errno.h>

static int __attribute__((format(printf, 2, 3)))
add(struct eal_args *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->argc + 1 >= EAL_MAX_ARGS)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(a->store + a->used, sizeof(a->store) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->store) - a->used)
		return -ENOSPC;
	a->argv[a->argc++] = a->store + a->used;
	a->argv[a->argc] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

#define MAX_LOG_LEVELS 8
static const char *log_levels[MAX_LOG_LEVELS];
static int n_log_levels;

int
eal_add_log_level(const char *level)
{
	if (n_log_levels == MAX_LOG_LEVELS)
		return -ENOSPC;
	log_levels[n_log_levels++] = level;
	return 0;
}

int
eal_build_args(const struct config *cfg, const char *prog, struct eal_args *a)
{
	bool virtio_user = false;
	uint32_t i;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	rc |= add(a, "%s", prog);
	/* "0,1,2" is a core list; "0@0,1@1,2@1" maps lcores onto cores (more lcores than cores). */
	rc |= add(a, strpbrk(cfg->lcores, "@()") != NULL ? "--lcores" : "-l");
	rc |= add(a, "%s", cfg->lcores);
	rc |= add(a, "--no-pci");
	if (cfg->file_prefix[0] != '\0')
		rc |= add(a, "--file-prefix=%s", cfg->file_prefix);
	else
		rc |= add(a, "--file-prefix=flowtag-%ld", (long)getpid());
	if (cfg->hugepages) {
		rc |= add(a, "--in-memory");
	} else {
		/*
		 * Anonymous memory leaves no hugepage files; --no-huge implies legacy memory,
		 * which EAL refuses together with --in-memory, so --no-shconf keeps the
		 * runtime directory empty instead.
		 */
		rc |= add(a, "--no-huge");
		rc |= add(a, "--no-shconf");
	}
	rc |= add(a, "-m");
	rc |= add(a, "%u", cfg->memory_mb);
	for (i = 0; i < cfg->n_ports; i++) {
		rc |= add(a, "--vdev=%s", cfg->ports[i].vdev);
		if (strncmp(cfg->ports[i].vdev, "net_virtio_user", 15) == 0)
			virtio_user = true;
	}
	if (virtio_user)
		rc |= add(a, "--single-file-segments");
	/* EAL's start-up chatter is noise for a CLI; warnings and errors still show. */
	rc |= add(a, "--log-level=lib.eal:warning");
	/* Telemetry logs "no legacy callbacks" at warning level on every start: errors only. */
	rc |= add(a, "--log-level=lib.telemetry:4");
	/* The user's, last: they override the quieting above. */
	for (i = 0; i < (uint32_t)n_log_levels; i++)
		rc |= add(a, "--log-level=%s", log_levels[i]);
	for (i = 0; i < cfg->n_eal_extra; i++)
		rc |= add(a, "%s", cfg->eal_extra[i]);
	return rc != 0 ? -ENOSPC : 0;
}

/*
 * A vhost-user server socket left by a flowtag that died (SIGKILL, a crash): DPDK's
 * virtio-user refuses to bind over it ("Address already in use"), so the restart would fail.
 * It is stale when nobody accepts on it; then it goes. A live one (another flowtag) stays,
 * and the probe fails as it should.
 */
static void
remove_stale_vhost_socket(const char *vdev)
{
	const char *p = strstr(vdev, ",path=");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	size_t n;
	int fd;

	if (strncmp(vdev, "net_virtio_user", 15) != 0 || strstr(vdev, "server=1") == NULL ||
	    p == NULL)
		return;
	p += 6;
	n = strcspn(p, ",");
	if (n == 0 || n >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, p, n);
	if (lstat(sun.sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 && errno == ECONNREFUSED) {
		if (unlink(sun.sun_path) == 0)
			fprintf(stderr, "flowtag: %s: a stale vhost-user socket (nobody listens on it) "
					"was removed\n", sun.sun_path);
	}
	close(fd);
}

int
eal_start(const struct config *cfg, const char *prog, char *err, size_t err_len)
{
	struct eal_args a;
	uint32_t i;

	for (i = 0; i < cfg->n_ports; i++)
		remove_stale_vhost_socket(cfg->ports[i].vdev);

	if (eal_build_args(cfg, prog, &a) != 0) {
		snprintf(err, err_len, "EAL arguments do not fit (too many ports or extra_args)");
		return -1;
	}
	if (rte_eal_init(a.argc, a.argv) < 0) {
		snprintf(err, err_len, "DPDK EAL start failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* Files EAL makes in its runtime directory (eal_filesystem.h and the telemetry socket). */
static bool
is_eal_runtime_file(const char *name)
{
	static const char *const exact[] = {"config", "hugepage_info", "mp_socket"};
	static const char *const prefixes[] = {"dpdk_telemetry.", "mp_socket_", "fbarray_"};
	size_t i;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(name, exact[i]) == 0)
			return true;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

void
eal_stop(void)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	/*
	 * EAL leaves its runtime directory behind (the telemetry socket goes only at exit).
	 * The file prefix is unique to this instance and a plain name (config.c), so the
	 * directory is ours; still, only the files EAL makes there are removed, then the
	 * directory if that emptied it.
	 */
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (dir[0] == '\0' || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (is_eal_runtime_file(de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}
