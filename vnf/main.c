/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * flowtag: DPI classifier VNF for service chaining.
 *
 *   flowtag run -c FILE                 attach to the configured ports, classify until stopped
 *   flowtag replay [-c FILE] [--flows FLOWS.jsonl] [--out OUT.pcap] PCAP...
 *                                       captures through the same data path, exit when drained
 *   flowtag check -c FILE               validate a config (exit 2 with file:line:col on error)
 *   flowtag sf -c FILE                  a dummy service function (demos, tests): see sf.h
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "api.h"
#include "replay.h"
#include "telemetry.h"
#include "token.h"
#include "capture.h"
#include "control.h"
#include "config.h"
#include "dpi.h"
#include "policy.h"
#include "sf.h"
#include "stat_item.h"
#include "datapath.h"
#include "eal.h"
#include "log.h"
#include "flow_record.h"
#include "ipfix.h"

#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f, "usage: flowtag [--log-level LEVEL]... COMMAND\n"
		   "  flowtag run -c FILE\n"
		   "  flowtag replay [-c FILE] [--flows FLOWS.jsonl] [--out OUT.pcap]\n"
		   "                 [--loop [--loop-pause MS]] [--pps N] [--api ADDR:PORT] PCAP...\n"
		   "  flowtag check -c FILE\n"
		   "  flowtag check --keys     (every config key: type, range, what it does)\n"
		   "  flowtag protos -c FILE   (the config's apps as an nDPI protocols file, for\n"
		   "                            ndpiReader -p)\n"
		   "  flowtag sf -c FILE       (a dummy service function on the configured ports)\n"
		   "  flowtag version\n");
}

/* Where finished flows go: JSON lines, formatted on the control thread. */
struct record_sink {
	FILE *f;
	const struct datapath *dp;
	uint64_t written;
	uint64_t failed;
};

static void
write_record(void *ctx, const struct flow_record *rec)
{
	struct record_sink *sink = ctx;
	char line[FLOW_RECORD_JSON_MAX];
	int n;

	if (sink->f == NULL)
		return;
	n = flow_record_to_json(rec, datapath_names(sink->dp), line, sizeof(line) - 1);
	if (n < 0) {
		sink->failed++;
		return;
	}
	line[n++] = '\n';
	if (fwrite(line, 1, (size_t)n, sink->f) != (size_t)n)
		sink->failed++;
	else
		sink->written++;
}

static int
load_config(struct config *cfg, const char *path)
{
	char err[CONFIG_ERR_MAX];

	config_defaults(cfg);
	if (path == NULL)
		return 0;
	if (config_load(cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* Compile the configured policy against nDPI's names; NULL with the message printed. */
static struct policy *
compile_policy(const struct config *cfg)
{
	struct dpi_params dp = {.max_states = 1};
	struct dpi *names = dpi_create(&dp);
	char err[CONFIG_ERR_MAX];
	struct policy *p;

	if (names == NULL) {
		fprintf(stderr, "flowtag: cannot start nDPI: %s\n", strerror(errno));
		return NULL;
	}
	/* The apps against nDPI's own names first, then the names with the apps. */
	if (cfg->apps != NULL && cfg->apps->n > 0) {
		if (config_check_apps(cfg, names, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			dpi_destroy(names);
			return NULL;
		}
		dpi_destroy(names);
		dp.apps = cfg->apps;
		names = dpi_create(&dp);
		if (names == NULL) {
			fprintf(stderr, "%s:%u:%u: nDPI did not take the apps: %s\n", cfg->path,
				cfg->apps_line, cfg->apps_col, strerror(errno));
			return NULL;
		}
	}
	p = policy_compile(config_policy(cfg), names, cfg->path, err, sizeof(err));
	if (p == NULL)
		fprintf(stderr, "%s\n", err);
	dpi_destroy(names);
	return p;
}

static void
print_summary(const struct datapath *dp, const struct record_sink *sink)
{
	struct datapath_stats st;
	uint64_t malformed = 0;
	size_t k;
	int r;

	datapath_get_stats(dp, &st);
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		malformed += st.w.parse[r];
	fprintf(stderr,
		"flowtag: %llu packets in, %llu out, %llu dropped; %llu flows (%llu detected, "
		"%llu gave up, %llu not inspected); %llu records written\n",
		(unsigned long long)st.c.rx, (unsigned long long)st.c.tx,
		(unsigned long long)(st.c.dropped + st.c.tx_failed + st.c.dispatch_dropped),
		(unsigned long long)st.w.flows_created, (unsigned long long)st.w.flows_detected,
		(unsigned long long)st.w.flows_gave_up, (unsigned long long)st.w.dpi_no_state,
		(unsigned long long)sink->written);
	if (st.busy_s > 0)
		fprintf(stderr, "flowtag: busy %.6f s from the first packet in to the last out: %.3f "
				"Mpps, %.0f new flows/s\n",
			st.busy_s, (double)st.c.rx / st.busy_s / 1e6,
			(double)st.w.flows_created / st.busy_s);
	fprintf(stderr, "flowtag: later IP fragments: %llu, %llu of them with their flow\n",
		(unsigned long long)st.w.parse[PARSE_FRAGMENT],
		(unsigned long long)st.w.fragments_attributed);
	fprintf(stderr, "flowtag: not classified: %llu non-IP, %llu later fragments of no known "
			"flow, %llu malformed",
		(unsigned long long)st.w.parse[PARSE_NON_IP],
		(unsigned long long)st.w.fragments_unattributed, (unsigned long long)malformed);
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		if (st.w.parse[r] != 0)
			fprintf(stderr, " [%s %llu]", parse_result_name((enum parse_result)r),
				(unsigned long long)st.w.parse[r]);
	fprintf(stderr, "\n");
	fprintf(stderr, "flowtag: out: %llu tagged, %llu untagged, %llu dropped by policy, %llu held "
			"until the verdict, %llu oversize, %llu could not be tagged\n",
		(unsigned long long)st.w.tagged, (unsigned long long)st.w.untagged,
		(unsigned long long)st.w.dropped_policy, (unsigned long long)st.w.held,
		(unsigned long long)st.c.oversize, (unsigned long long)st.c.tag_failed);
	if (sink->failed != 0 || st.c.records_dropped != 0)
		fprintf(stderr, "flowtag: %llu flow records lost (%llu ring full, %llu write errors)\n",
			(unsigned long long)(sink->failed + st.c.records_dropped),
			(unsigned long long)st.c.records_dropped, (unsigned long long)sink->failed);
	/* Every counter of the lists that moved (worker_counters.def, dp_counters.def). */
	fprintf(stderr, "flowtag: counters:");
	for (k = 0; k < worker_stat_item_count; k++)
		if (!worker_stat_items[k].gauge && stat_value(&st.w, &worker_stat_items[k]) != 0)
			fprintf(stderr, " %s=%llu", worker_stat_items[k].name,
				(unsigned long long)stat_value(&st.w, &worker_stat_items[k]));
	for (k = 0; k < datapath_stat_item_count; k++)
		if (stat_value(&st.c, &datapath_stat_items[k]) != 0)
			fprintf(stderr, " datapath.%s=%llu", datapath_stat_items[k].name,
				(unsigned long long)stat_value(&st.c, &datapath_stat_items[k]));
	fprintf(stderr, " records.written=%llu records.failed=%llu\n",
		(unsigned long long)sink->written, (unsigned long long)sink->failed);
}

static void
print_sf_summary(const struct datapath *dp, const struct config *cfg)
{
	uint32_t i, k;

	for (i = 0; i < cfg->n_ports; i++) {
		struct sf_counters c;

		datapath_sf_counters(dp, i, &c);
		fprintf(stderr, "flowtag sf: %s: %llu packets (%llu NSH, %llu MPLS, %llu other), %llu "
				"dropped at SI 0",
			cfg->ports[i].name, (unsigned long long)c.packets, (unsigned long long)c.nsh,
			(unsigned long long)c.mpls, (unsigned long long)c.other,
			(unsigned long long)c.si_expired);
		for (k = 0; k < c.n_spi; k++)
			fprintf(stderr, " [SPI %u: %llu]", c.spi[k], (unsigned long long)c.spi_packets[k]);
		fprintf(stderr, "\n");
	}
}

/* How drive() runs the data path. */
struct drive_opts {
	struct replay *replay; /* the input, for flowtag replay; NULL: the configured ports */
	const char *records_path;
	bool service_function;
	const char *api_listen; /* NULL / "" = no API */
};

/*
 * The API's bearer token, per api.auth and api.token_file: `flowtag run` reads the file or
 * makes a fresh token there (*made: remove it at exit); `replay --api` uses one only when the
 * config names the file. 0 (token NULL for none), or -1 with the reason printed.
 */
static int
setup_token(const struct config *cfg, bool replaying, char **token, bool *made)
{
	char err[CONFIG_ERR_MAX + 128];

	*token = NULL;
	*made = false;
	if (cfg->api_auth == CONFIG_API_AUTH_NONE || (replaying && !cfg->api_token_file_set))
		return 0;
	*token = replaying ? token_load(cfg->api_token_file, API_TOKEN_MAX, err, sizeof(err))
			   : token_load_or_make(cfg->api_token_file, API_TOKEN_MAX, made, err,
						sizeof(err));
	if (*token == NULL) {
		fprintf(stderr, "flowtag: %s\n", err);
		return -1;
	}
	if (*made)
		fprintf(stderr, "flowtag: API token written to %s (flowtagctl reads it from there)\n",
			cfg->api_token_file);
	return 0;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = calloc(1, (size_t)n + 1)) != NULL && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/*
 * The flow records file: created 0600 (records name hosts and addresses), never through a
 * symbolic link (a link planted in a shared directory would have flowtag, often root, write
 * where the link points), and only a regular file or a FIFO (a consumer reading a pipe).
 * Replay truncates it; run appends. NULL with the reason printed.
 */
static FILE *
open_records(const char *path, bool truncate)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
				    (truncate ? O_TRUNC : O_APPEND),
		      0600);
	struct stat st;
	FILE *f;

	if (fd < 0) {
		fprintf(stderr, "flowtag: %s: %s\n", path,
			errno == ELOOP ? "a symbolic link: refused (give the file itself)"
				       : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		fprintf(stderr, "flowtag: %s: not a regular file or a FIFO: refused\n", path);
		close(fd);
		return NULL;
	}
	/* O_NONBLOCK only so that opening a FIFO without a reader fails instead of hanging. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	f = fdopen(fd, truncate ? "w" : "a");
	if (f == NULL) {
		fprintf(stderr, "flowtag: %s: %s\n", path, strerror(errno));
		close(fd);
	}
	return f;
}

static int
drive(struct config *cfg, const struct drive_opts *o, const char *prog)
{
	const bool replaying = o->replay != NULL;
	struct control_params cp = {0};
	struct api api;
	struct policy *policy = compile_policy(cfg);
	struct datapath_params dpp = {0};
	struct record_sink sink = {0};
	struct control_link link = {0};
	struct datapath *dp = NULL;
	bool token_made = false;
	char err[512];
	int rc = 0;

	memset(&api, 0, sizeof(api));
	api.auth = cfg->api_auth;
	if (policy == NULL)
		return EXIT_USAGE;
	if (o->records_path != NULL && o->records_path[0] != '\0') {
		sink.f = open_records(o->records_path, replaying);
		if (sink.f == NULL) {
			policy_destroy(policy);
			return 1;
		}
	}
	if (!o->service_function && o->api_listen != NULL && o->api_listen[0] != '\0' &&
	    setup_token(cfg, replaying, &api.token, &token_made) != 0) {
		if (sink.f != NULL)
			fclose(sink.f);
		policy_destroy(policy);
		return EXIT_USAGE;
	}
	if (eal_start(cfg, prog, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtag: %s\n", err);
		rc = 1;
		goto out;
	}
	log_init();
	if (replaying && replay_attach(o->replay, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtag: %s\n", err);
		rc = 1;
		goto out;
	}
	dpp.cfg = cfg;
	dpp.input = replaying ? replay_input(o->replay) : NULL;
	/* Records pass through the control link (the offload adds the switch's counts). */
	link.write = write_record;
	link.write_ctx = &sink;
	dpp.on_record = control_link_record;
	dpp.record_ctx = &link;
	if (!replaying && !o->service_function && cfg->offload_switch[0] != '\0') {
		dpp.on_offload_ask = control_link_ask;
		dpp.offload_ctx = &link;
		dpp.on_policy = control_link_policy;
		dpp.policy_ctx = &link;
	} else if (policy_offload_wanted(policy) && !o->service_function) {
		fprintf(stderr, "flowtag: the policy allows offload, but %s: every packet stays on the "
				"flowtag path\n",
			replaying ? "a replay has no switch" : "offload.switch is not set");
	}
	dpp.policy = policy;
	dpp.service_function = o->service_function;
	dp = datapath_create(&dpp, err, sizeof(err));
	policy = NULL; /* the data path owns it now (and frees it, even when it failed) */
	if (dp == NULL) {
		fprintf(stderr, "flowtag: %s\n", err);
		rc = 1;
		goto out;
	}
	sink.dp = dp;
	link.dp = dp;
	api.dp = dp;
	api.started_unix = (uint64_t)time(NULL);
	api.policy_text = strcmp(cfg->path, "(defaults)") != 0 ? slurp(cfg->path) : NULL;
	snprintf(api.policy_source, sizeof(api.policy_source), "%s", cfg->path);
	if (!o->service_function && telemetry_register() != 0)
		fprintf(stderr, "flowtag: DPDK telemetry commands not registered\n");
	if (datapath_start(dp) != 0) {
		fprintf(stderr, "flowtag: cannot launch the workers\n");
		rc = 1;
		goto out;
	}
	cp.dp = dp;
	cp.link = &link;
	cp.cfg = cfg;
	cp.api = o->service_function ? NULL : &api;
	cp.listen = o->api_listen;
	cp.limits.max_connections = cfg->api_max_connections;
	cp.limits.max_header_bytes = cfg->api_max_header_bytes;
	cp.limits.max_body_bytes = cfg->api_max_body;
	cp.limits.idle_timeout_ms = cfg->api_idle_timeout_s * 1000;
	cp.limits.request_timeout_ms = cfg->api_request_timeout_s * 1000;
	cp.limits.write_timeout_ms = 30000;
	cp.config_path = strcmp(cfg->path, "(defaults)") != 0 ? cfg->path : NULL;
	if (control_run(&cp, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowtag: %s\n", err);
		rc = 1;
		datapath_stop(dp);
	}
	/* Let the lcores finish (bounded) before the figures, so they are the final ones. */
	{
		uint64_t give_up = rte_get_timer_cycles() + 30 * rte_get_timer_hz();

		datapath_stop(dp);
		while (!datapath_poll(dp) && rte_get_timer_cycles() < give_up)
			rte_delay_us_sleep(1000);
	}
	if (o->service_function) {
		print_sf_summary(dp, cfg);
	} else {
		print_summary(dp, &sink);
		fprintf(stderr, "flowtag: memory per flow: %zu bytes classified, %zu more under "
				"classification (nDPI state); shared pools %zu bytes per worker\n",
			datapath_bytes_per_classified_flow(dp), datapath_bytes_per_classifying_flow(dp),
			datapath_shared_pool_bytes(dp));
	}
out:
	api_release(&api);
	if (token_made)
		unlink(cfg->api_token_file); /* a fresh one at the next start */
	datapath_destroy(dp);
	eal_stop();
	policy_destroy(policy);
	if (sink.f != NULL && fclose(sink.f) != 0) {
		fprintf(stderr, "flowtag: %s: %s\n", o->records_path, strerror(errno));
		rc = 1;
	}
	return rc;
}

/* A whole number from 0 to max for option `what`; -1 with the message printed. */
static int
parse_count(const char *text, const char *what, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 || v > max) {
		fprintf(stderr, "flowtag replay: %s must be a whole number from 0 to %u, found '%s'\n",
			what, max, text);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* `COMMAND -c FILE` (check, run, sf): load FILE, or say what is wrong. 0, or an exit code. */
static int
config_from_args(int argc, char **argv, const char *command, struct config *cfg)
{
	const char *path = NULL;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c != 'c') {
			usage(stderr);
			return EXIT_USAGE;
		}
		path = optarg;
	}
	if (path == NULL) {
		fprintf(stderr, "flowtag %s: -c FILE is required\n", command);
		return EXIT_USAGE;
	}
	return load_config(cfg, path) != 0 ? EXIT_USAGE : 0;
}

static void
print_line(void *ctx, const char *text)
{
	fprintf(ctx, "%s\n", text);
}

static int
cmd_check(int argc, char **argv)
{
	struct policy *policy;
	struct config cfg;
	const char *path;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--keys") == 0) {
		/* The config's schema: every key, its type and range, what it does. */
		config_describe(print_line, stdout);
		return 0;
	}
	rc = config_from_args(argc, argv, "check", &cfg);
	if (rc != 0)
		return rc;
	path = cfg.path;
	policy = compile_policy(&cfg);
	if (policy == NULL) {
		config_release(&cfg);
		return EXIT_USAGE;
	}
	printf("%s: ok (%u port%s, flow table %u per worker, %u under classification; %u chain%s, "
	       "%u rule%s, policy version %u; %u app%s)\n",
	       path, cfg.n_ports, cfg.n_ports == 1 ? "" : "s", cfg.flow_capacity, cfg.dpi_states,
	       policy_chain_count(policy), policy_chain_count(policy) == 1 ? "" : "s",
	       policy_rule_count(policy), policy_rule_count(policy) == 1 ? "" : "s",
	       policy_version(policy), cfg.apps != NULL ? cfg.apps->n : 0,
	       cfg.apps != NULL && cfg.apps->n == 1 ? "" : "s");
	policy_destroy(policy);
	config_release(&cfg);
	return 0;
}

/* The config's apps as the nDPI protocols file they become (what ndpiReader -p reads). */
static int
cmd_protos(int argc, char **argv)
{
	struct policy *policy;
	struct config cfg;
	size_t size;
	char *text;
	int rc;

	rc = config_from_args(argc, argv, "protos", &cfg);
	if (rc != 0)
		return rc;
	policy = compile_policy(&cfg); /* the apps checked against nDPI's names */
	if (policy == NULL) {
		config_release(&cfg);
		return EXIT_USAGE;
	}
	policy_destroy(policy);
	size = apps_ndpi_protos_size(cfg.apps);
	text = malloc(size);
	rc = text != NULL && apps_ndpi_protos(cfg.apps, text, size) >= 0 ? 0 : 1;
	if (rc == 0)
		fputs(text, stdout);
	else
		fprintf(stderr, "flowtag protos: out of memory\n");
	free(text);
	config_release(&cfg);
	return rc;
}

static int
cmd_run(int argc, char **argv, const char *prog, bool service_function)
{
	struct config cfg;
	int rc = config_from_args(argc, argv, service_function ? "sf" : "run", &cfg);

	if (rc != 0)
		return rc;
	if (cfg.n_ports == 0) {
		fprintf(stderr, "%s: no ports configured: 'ports' needs at least one vdev\n", cfg.path);
		config_release(&cfg);
		return EXIT_USAGE;
	}
	{
		struct drive_opts o = {.records_path = cfg.records_path,
				       .service_function = service_function,
				       .api_listen = service_function ? NULL : cfg.api_listen};


		rc = drive(&cfg, &o, prog);
	}
	config_release(&cfg);
	return rc;
}

/* --ipfix URL: the collector, over the config's export.ipfix.collector ("" = none). */
static int
set_ipfix_collector(struct config *cfg, const char *target)
{
	char host[200], port[8];
	const char *why;
	bool tcp;

	if (target[0] != '\0' &&
	    (why = ipfix_target_parse(target, &tcp, host, sizeof(host), port, sizeof(port))) != NULL) {
		fprintf(stderr, "flowtag: --ipfix '%s': %s\n", target, why);
		return -1;
	}
	if (strlen(target) >= sizeof(cfg->ipfix_collector)) {
		fprintf(stderr, "flowtag: --ipfix: longer than %zu bytes\n",
			sizeof(cfg->ipfix_collector) - 1);
		return -1;
	}
	snprintf(cfg->ipfix_collector, sizeof(cfg->ipfix_collector), "%s", target);
	return 0;
}

static int
cmd_replay(int argc, char **argv, const char *prog)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"flows", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},
		{"loop", no_argument, NULL, 'l'},
		{"loop-pause", required_argument, NULL, 'p'},
		{"api", required_argument, NULL, 'a'},
		{"pps", required_argument, NULL, 'r'},
		{"ipfix", required_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	struct replay_params rp = {.loop_pause_ms = 1000};
	struct drive_opts dro = {0};
	const char *path = NULL, *flows = NULL, *ipfix = NULL;
	struct replay *replay;
	char err[1024];
	struct config cfg;
	int c, n, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			flows = optarg;
			break;
		case 'o':
			rp.out_path = optarg;
			break;
		case 'l':
			rp.loop = true;
			break;
		case 'p':
			if (parse_count(optarg, "--loop-pause", 3600000, &rp.loop_pause_ms) != 0)
				return EXIT_USAGE;
			break;
		case 'a':
			dro.api_listen = optarg;
			break;
		case 'r':
			if (parse_count(optarg, "--pps", 100000000, &rp.pps) != 0)
				return EXIT_USAGE;
			break;
		case 'i':
			ipfix = optarg;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "flowtag replay: give at least one capture (pcap or pcapng)\n");
		return EXIT_USAGE;
	}
	if (load_config(&cfg, path) != 0)
		return EXIT_USAGE;
	if (ipfix != NULL && set_ipfix_collector(&cfg, ipfix) != 0) {
		config_release(&cfg);
		return EXIT_USAGE;
	}
	if (rp.out_path != NULL) {
		struct stat st;

		/* net_pcap opens --out by name and would follow a link: refuse one. */
		if (lstat(rp.out_path, &st) == 0 && S_ISLNK(st.st_mode)) {
			fprintf(stderr, "flowtag replay: %s: a symbolic link: refused (give the file "
					"itself)\n", rp.out_path);
			config_release(&cfg);
			return EXIT_USAGE;
		}
	}
	rp.captures = (const char *const *)argv + optind;
	rp.n_captures = argc - optind;
	replay = replay_create(&rp, err, sizeof(err));
	if (replay == NULL) {
		fprintf(stderr, "flowtag replay: %s\n", err);
		config_release(&cfg);
		return 1;
	}
	/*
	 * Replay runs anywhere: anonymous memory instead of hugepages (an ordinary user has
	 * none), and the capture as the only port, sent back out to --out or dropped.
	 */
	cfg.hugepages = false;
	cfg.n_ports = 1;
	snprintf(cfg.ports[0].name, sizeof(cfg.ports[0].name), "replay");
	n = snprintf(cfg.ports[0].vdev, sizeof(cfg.ports[0].vdev), "%s", replay_vdev(replay));
	if (n < 0 || (size_t)n >= sizeof(cfg.ports[0].vdev)) {
		fprintf(stderr, "flowtag replay: the --out path or TMPDIR is too long\n");
		replay_destroy(replay);
		config_release(&cfg);
		return EXIT_USAGE;
	}
	cfg.ports[0].is_return = false;
	if (cfg.file_prefix[0] == '\0')
		snprintf(cfg.file_prefix, sizeof(cfg.file_prefix), "flowtag-replay-%ld", (long)getpid());

	if (replay_packets(replay) == 0) {
		/* Nothing to send through: still honour --flows and --out with empty files. */
		FILE *f = flows != NULL ? open_records(flows, true) : NULL;

		if (f != NULL)
			fclose(f);
		if (rp.out_path != NULL)
			capture_write_empty(rp.out_path);
		fprintf(stderr, "flowtag: 0 packets in the input\n");
		replay_destroy(replay);
		config_release(&cfg);
		return 0;
	}
	dro.replay = replay;
	dro.records_path = flows != NULL ? flows : cfg.records_path;
	rc = drive(&cfg, &dro, prog);
	replay_destroy(replay);
	config_release(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	/* Options before the command: --log-level LEVEL (or =LEVEL), any number of times. */
	while (argc >= 2 && strncmp(argv[1], "--log-level", 11) == 0) {
		bool joined = argv[1][11] == '=';
		int used = joined ? 1 : 2;
		const char *level = joined ? argv[1] + 12
				    : argv[1][11] == '\0' && argc >= 3 ? argv[2]
									: NULL;

		if (level == NULL || level[0] == '\0' || eal_add_log_level(level) != 0) {
			fprintf(stderr, "flowtag: --log-level LEVEL (debug, info, ... or TYPE:LEVEL, "
					"e.g. flowtag.api:debug), at most 8 times\n");
			return EXIT_USAGE;
		}
		argv[used] = argv[0]; /* the program's name stays first */
		argv += used;
		argc -= used;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1, argv[0], false);
	if (strcmp(cmd, "sf") == 0)
		return cmd_run(argc - 1, argv + 1, argv[0], true);
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay(argc - 1, argv + 1, argv[0]);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "protos") == 0)
		return cmd_protos(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("flowtag %s\n", FLOWTAG_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "flowtag: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
