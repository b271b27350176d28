/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "dpi.h"

static char err[CONFIG_ERR_MAX];

static void
expect_error(const char *yaml, const char *message)
{
	struct config cfg;

	config_defaults(&cfg);
	err[0] = '\0';
	assert_int_equal(config_load_string(&cfg, "t.yaml", yaml, err, sizeof(err)), -1);
	if (strcmp(err, message) != 0)
		fail_msg("config error\n  got:      %s\n  expected: %s", err, message);
	config_release(&cfg);
}

static void
defaults(void **state)
{
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.lcores, "0,1");
	assert_true(cfg.hugepages);
	assert_int_equal(cfg.budget_tcp, 80);
	assert_int_equal(cfg.budget_udp, 24);
	assert_int_equal(cfg.timeout_ms[FLOW_TC_UDP], 120000);
	assert_int_equal(cfg.n_ports, 0);
	/* An empty document keeps every default. */
	assert_int_equal(config_load_string(&cfg, "t.yaml", "", err, sizeof(err)), 0);
	assert_int_equal(cfg.flow_capacity, 262144);
}

static void
full_file(void **state)
{
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "t.yaml",
					    "eal:\n"
					    "  lcores: \"2,3\"\n"
					    "  memory_mb: 256\n"
					    "  hugepages: false\n"
					    "  file_prefix: lab1\n"
					    "  extra_args: [\"--log-level=pmd:debug\"]\n"
					    "ports:\n"
					    "  - name: vnf0\n"
					    "    vdev: \"net_virtio_user0,path=/tmp/a.sock,server=1\"\n"
					    "datapath:\n"
					    "  burst_size: 64\n"
					    "  malformed: drop\n"
					    "flows:\n"
					    "  capacity: 1000\n"
					    "  classifying: 100\n"
					    "  ipv6: 250\n"
					    "  metadata: 125\n"
					    "  timeouts: {tcp: 30, udp: 5}\n"
					    "  packet_budget: {udp: 10}\n"
					    "records: {path: /tmp/flows.jsonl}\n",
					    err, sizeof(err)),
			 0);
	assert_string_equal(cfg.lcores, "2,3");
	assert_int_equal(cfg.ipv6_capacity, 250);
	assert_int_equal(cfg.meta_capacity, 125);
	assert_int_equal(cfg.memory_mb, 256);
	assert_false(cfg.hugepages);
	assert_string_equal(cfg.file_prefix, "lab1");
	assert_int_equal(cfg.n_eal_extra, 1);
	assert_string_equal(cfg.eal_extra[0], "--log-level=pmd:debug");
	assert_int_equal(cfg.n_ports, 1);
	assert_string_equal(cfg.ports[0].name, "vnf0");
	assert_int_equal(cfg.burst_size, 64);
	assert_int_equal(cfg.malformed, WORKER_MALFORMED_DROP);
	assert_int_equal(cfg.flow_capacity, 1000);
	assert_int_equal(cfg.timeout_ms[FLOW_TC_TCP], 30000);
	assert_int_equal(cfg.timeout_ms[FLOW_TC_UDP], 5000);
	assert_int_equal(cfg.timeout_ms[FLOW_TC_OTHER], 60000); /* untouched default */
	assert_int_equal(cfg.budget_udp, 10);
	assert_string_equal(cfg.records_path, "/tmp/flows.jsonl");
	config_release(&cfg);
}

/*
 * A key given twice: the later one counts (the container's entrypoint appends sections that
 * override), and the earlier value is freed, not leaked (the fuzzer's find; ASan checks).
 */
static void
repeated_keys_override(void **state)
{
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "t.yaml",
					    "chains: [{name: a, tag: vlan, vid: 5}, {name: b, tag: vlan, vid: 6}]\n"
					    "policy:\n  default: {chain: a}\n  default: {chain: b}\n"
					    "policy: {default: {chain: a}}\n"
					    "eal: {memory_mb: 100}\neal: {memory_mb: 200}\n",
					    err, sizeof(err)),
			 0);
	assert_string_equal(cfg.policy->default_action.chain.text, "a");
	assert_int_equal(cfg.memory_mb, 200);
	config_release(&cfg);
}

/* apps: parsed, written as nDPI rules, checked against nDPI's names, and never reloaded. */
static void
apps_section(void **state)
{
	static const char yaml[] = "apps:\n"
				   "  - name: LabPortal\n"
				   "    category: Web\n"
				   "    hosts: [Portal.Lab.Example, intranet.lab]\n"
				   "  - name: FiveGCore\n"
				   "    cidrs: [100.64.50.0/24, 100.64.60.7]\n"
				   "    ports: [\"udp:38412\", \"tcp:7000-7010\"]\n"
				   "rules:\n"
				   "  - {app: FiveGCore, action: drop}\n";
	struct dpi_params dp = {.max_states = 1};
	struct dpi *builtin, *names;
	struct policy *p;
	struct config cfg;
	char text[1024];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "t.yaml", yaml, err, sizeof(err)), 0);
	assert_non_null(cfg.apps);
	assert_int_equal(cfg.apps->n, 2);
	assert_string_equal(cfg.apps->app[0].hosts[0], "portal.lab.example"); /* as nDPI matches */
	assert_int_equal(cfg.apps->app[1].cidrs[1].bits, 32);
	assert_int_equal(cfg.apps->app[1].line, 5);
	assert_true(apps_ndpi_protos(cfg.apps, text, sizeof(text)) > 0);
	assert_string_equal(text, "# flowtag apps: an nDPI protocols file (ndpiReader -p)\n"
				  "host:\"portal.lab.example\"@LabPortal\n"
				  "host:\"intranet.lab\"@LabPortal\n"
				  "ip:100.64.50.0/24@FiveGCore\n"
				  "ip:100.64.60.7/32@FiveGCore\n"
				  "udp:38412@FiveGCore\n"
				  "tcp:7000-7010@FiveGCore\n");
	assert_int_equal(apps_ndpi_protos(cfg.apps, text, 40), -1); /* too small: refused */

	/* nDPI takes them after its own ids, in order, with the category given. */
	builtin = dpi_create(&dp);
	assert_non_null(builtin);
	assert_int_equal(config_check_apps(&cfg, builtin, err, sizeof(err)), 0);
	dp.apps = cfg.apps;
	names = dpi_create(&dp);
	assert_non_null(names);
	assert_int_equal(dpi_proto_id(names, "LabPortal"), (int)dpi_builtin_proto_count());
	assert_int_equal(dpi_proto_id(names, "FiveGCore"), (int)dpi_builtin_proto_count() + 1);
	assert_int_equal(dpi_proto_id(builtin, "LabPortal"), -1);

	/* A reload with the same apps is taken; changed, or gone from a reloaded file: refused. */
	p = config_policy_from_text_apps(yaml, "t.yaml", false, 1, names, cfg.apps, err, sizeof(err));
	assert_non_null(p);
	policy_destroy(p);
	p = config_policy_from_text_apps("rules: [{app: LabPortal, action: drop}]\n", "req", true, 1,
					 names, cfg.apps, err, sizeof(err));
	assert_non_null(p); /* a request without apps: the running ones stay */
	policy_destroy(p);
	assert_null(config_policy_from_text_apps("rules: []\n", "t.yaml", false, 1, names, cfg.apps,
						 err, sizeof(err)));
	assert_string_equal(err, "t.yaml:1:1: apps: the applications are given to nDPI when flowtag "
				 "starts: restart it to change them (the running ones stay, and so "
				 "does the policy)");
	assert_null(config_policy_from_text_apps("apps:\n  - {name: LabPortal, hosts: [x.lab]}\n",
						 "req", true, 1, names, cfg.apps, err, sizeof(err)));
	assert_non_null(strstr(err, "req:2:3: apps: "));
	dpi_destroy(names);

	/* A built-in's name, or a category nDPI does not have, with the app's line:col. */
	config_release(&cfg);
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "t.yaml",
					    "apps:\n  - {name: TLS, ports: [\"tcp:1\"]}\n", err,
					    sizeof(err)),
			 0);
	assert_int_equal(config_check_apps(&cfg, builtin, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yaml:2:12: 'TLS' is one of nDPI's own applications: give the app "
				 "a name of its own");
	config_release(&cfg);
	dpi_destroy(builtin);

	expect_error("apps:\n  - name: X\n    cidrs: [\"2001:db8::/32\"]\n",
		     "t.yaml:3:13: '2001:db8::' is IPv6: nDPI 4.2's custom protocols take IPv4 "
		     "addresses only (match IPv6 ones with a rule's src/dst)");
	expect_error("apps:\n  - name: X\n    hosts: [\"a@b\"]\n",
		     "t.yaml:3:13: a host is a DNS name (letters, digits, '.', '-', '_'; nDPI matches "
		     "it inside SNI, HTTP Host and DNS names, so no wildcards), found 'a@b'");
	expect_error("apps:\n  - name: X\n    ports: [\"udp:9-1\"]\n",
		     "t.yaml:3:13: ports from 1 to 65535 (a range low-high), found 'udp:9-1'");
	expect_error("apps:\n  - name: X\n    ports: [\"tcp:70000\"]\n",
		     "t.yaml:3:13: ports from 1 to 65535 (a range low-high), found 'tcp:70000'");
	expect_error("apps:\n  - name: X\n",
		     "t.yaml:2:5: app 'X' needs what identifies it: 'hosts', 'cidrs' or 'ports'");
	expect_error("apps:\n  - {name: A, ports: [\"tcp:1\"]}\n  - {name: a, ports: [\"tcp:2\"]}\n",
		     "t.yaml:3:12: app 'a' is defined twice (also at line 2)");
	expect_error("apps:\n  - {name: \"1x\", ports: [\"tcp:1\"]}\n",
		     "t.yaml:2:12: an app's name is a letter, then letters, digits, '_', '-' or '.' "
		     "(at most 31), found '1x'");
}

/* The offload section: defaults, a full one, and what it refuses, with line:col. */
static void
offload_section(void **state)
{
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.offload_switch, "");
	assert_int_equal(cfg.offload_priority, 1000);
	assert_int_equal(cfg.timeout_ms[FLOW_TC_OFFLOADED], 86400000);
	assert_int_equal(config_load_string(&cfg, "t.yaml",
					    "offload:\n  switch: unix:/run/ovs/br0.mgmt\n  table: 5\n"
					    "  resubmit_port: 2\n  instance: 3\n  max_flows: 5000\n"
					    "flows: {timeouts: {offloaded: 600}}\n",
					    err, sizeof(err)),
			 0);
	assert_string_equal(cfg.offload_switch, "unix:/run/ovs/br0.mgmt");
	assert_int_equal(cfg.offload_table, 5);
	assert_int_equal(cfg.offload_resubmit_port, 2);
	assert_int_equal(cfg.offload_instance, 3);
	assert_int_equal(cfg.offload_max_flows, 5000);
	assert_int_equal(cfg.timeout_ms[FLOW_TC_OFFLOADED], 600000);
	config_release(&cfg);
	expect_error("offload:\n  switch: br0\n",
		     "t.yaml:2:11: 'switch' must be unix:PATH (a bridge's management socket, e.g. "
		     "unix:/var/run/openvswitch/br0.mgmt) or tcp:HOST:PORT, found 'br0'");
	expect_error("offload: {switch: \"tcp:127.0.0.1:0\"}\n",
		     "t.yaml:1:19: 'switch' must be unix:PATH (a bridge's management socket, e.g. "
		     "unix:/var/run/openvswitch/br0.mgmt) or tcp:HOST:PORT, found 'tcp:127.0.0.1:0'");
	expect_error("offload: {switch: \"unix:/x.mgmt\"}\n",
		     "t.yaml:1:19: offload.switch needs offload.resubmit_port: flowtag's own port on "
		     "the bridge, where offloaded packets re-enter the pipeline");
	expect_error("offload: {switch: \"unix:/x.mgmt\", resubmit_port: 2}\n",
		     "t.yaml:1:19: offload.table 0 is the table packets re-enter (resubmit_table): "
		     "its rules need offload.in_port, or they match flowtag's own packets again (or "
		     "give them a table of their own)");
	expect_error("offload: {table: 255}\n", "t.yaml:1:18: 'table' is 255, expected 0 to 254");
	expect_error("chains: [{name: a, tag: vlan, vid: 5, offload: maybe}]\n",
		     "t.yaml:1:48: 'offload' must be true or false, found 'maybe'");
}

static void
shipped_config_loads(void **state)
{
	struct config cfg;
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/config/flowtag.yaml", SOURCE_ROOT);
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.n_ports, 1);
	config_release(&cfg);
}

static void
errors_name_line_and_column(void **state)
{
	(void)state;
	expect_error("flows:\n  capacty: 5\n",
		     "t.yaml:2:3: unknown key 'capacty' in flows (expected one of: capacity, "
		     "classifying, ipv6, metadata, timeouts, packet_budget, fragments)");
	expect_error("datapath:\n  burst_size: lots\n",
		     "t.yaml:2:15: 'burst_size' must be a whole number from 1 to 256, found 'lots'");
	expect_error("datapath:\n  burst_size: 1000\n",
		     "t.yaml:2:15: 'burst_size' is 1000, expected 1 to 256");
	expect_error("datapath:\n  burst_size: -3\n",
		     "t.yaml:2:15: 'burst_size' must be a whole number from 1 to 256, found '-3'");
	expect_error("datapath:\n  malformed: maybe\n",
		     "t.yaml:2:14: 'malformed' must be pass or drop, found 'maybe'");
	expect_error("eal:\n  hugepages: sometimes\n",
		     "t.yaml:2:14: 'hugepages' must be true or false, found 'sometimes'");
	expect_error("flows: 7\n", "t.yaml:1:8: 'flows' must be a mapping, found a scalar");
	expect_error("ports:\n  - name: a\n",
		     "t.yaml:2:5: port needs 'vdev' (a DPDK virtual device such as "
		     "net_virtio_user0,path=/run/flowtag/vnf0.sock,server=1)");
	expect_error("ports:\n  - vdev: \"0000:00:04.0\"\n",
		     "t.yaml:2:5: 'vdev' must name a DPDK virtual device (net_virtio_user, net_pcap, "
		     "net_null, net_ring, net_tap, net_af_packet), found '0000:00:04.0'");
	expect_error("eal:\n  extra_args: [\"-a\", \"0000:00:04.0\"]\n",
		     "t.yaml:2:16: '-a': PCI devices are never probed (flowtag runs with --no-pci "
		     "and vdevs only)");
	expect_error("eal:\n  extra_args: [\"--allow=0000:00:04.0\"]\n",
		     "t.yaml:2:16: '--allow=0000:00:04.0': PCI devices are never probed (flowtag runs "
		     "with --no-pci and vdevs only)");
	expect_error("eal:\n  extra_args: [\"-a0000:00:04.0\"]\n",
		     "t.yaml:2:16: '-a0000:00:04.0': PCI devices are never probed (flowtag runs with "
		     "--no-pci and vdevs only)");
	expect_error("eal:\n  extra_args: [\"--file-prefix=../../etc\"]\n",
		     "t.yaml:2:16: '--file-prefix=../../etc': set eal.file_prefix instead (a plain "
		     "name)");
	/* The prefix names the directory the exit cleanup empties: never a path. */
	expect_error("eal:\n  file_prefix: \"../../../some/dir\"\n",
		     "t.yaml:2:16: 'file_prefix' must be a plain name (letters, digits, and '.', '_', "
		     "'-' after the first character), found '../../../some/dir'");
	expect_error("eal:\n  file_prefix: .hidden\n",
		     "t.yaml:2:16: 'file_prefix' must be a plain name (letters, digits, and '.', '_', "
		     "'-' after the first character), found '.hidden'");
	expect_error("eal:\n  file_prefix: \"a/b\"\n",
		     "t.yaml:2:16: 'file_prefix' must be a plain name (letters, digits, and '.', '_', "
		     "'-' after the first character), found 'a/b'");
	expect_error("flows:\n  capacity: 100\n  classifying: 200\n",
		     "t.yaml:1:1: flows.classifying (200) cannot exceed flows.capacity (100)");
	expect_error("flows:\n  capacity: 100\n  classifying: 50\n  ipv6: 101\n",
		     "t.yaml:1:1: flows.ipv6 (101) cannot exceed flows.capacity (100)");
	expect_error("flows:\n  metadata: 0\n",
		     "t.yaml:2:13: 'metadata' is 0, expected 1 to 67108864");
	expect_error("flows:\n  timeouts:\n    udp: 0\n",
		     "t.yaml:3:10: 'udp' is 0, expected 1 to 86400");	expect_error("flows:\n  fragments:\n    timeout: 121\n",
		     "t.yaml:3:14: 'timeout' is 121, expected 1 to 120");
	expect_error("datapath:\n  mbufs: 2047\nflows:\n  fragments: {held: 1024}\n",
		     "t.yaml:1:1: flows.fragments.held (1024) cannot exceed half of datapath.mbufs "
		     "(1023): each waiting fragment holds a packet buffer");
}

static void
yaml_syntax_errors(void **state)
{
	(void)state;
	expect_error("flows:\n  capacity: [1, 2\n",
		     "t.yaml:3:1: did not find expected ',' or ']' while parsing a flow sequence");
	expect_error("eal:\n\tlcores: 1\n",
		     "t.yaml:2:1: found character that cannot start any token while scanning for "
		     "the next token");
}

static void
missing_file(void **state)
{
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/flowtag.yaml", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/flowtag.yaml: cannot open: No such file or directory");
}

/* A string of `n` copies of `unit` between `head` and `tail` (malloc'd). */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/*
 * Inputs that stalled libyaml for seconds to minutes (its parser rescans every open flow level
 * per token, its loader searches all anchors per alias) are refused at once, with line:col.
 * Bounded in time: each of these took 8 to 46 s before, and the whole test takes milliseconds.
 */
static void
hostile_yaml_is_refused_quickly(void **state)
{
	struct {
		char *text;
		const char *message;
	} cases[6];
	size_t i, n = 0;
	char *anchors, *p;

	(void)state;
	cases[n].text = repeat("rules: ", "[", 80000, "");
	cases[n++].message = "t.yaml:1:39: nested deeper than 32 levels";
	cases[n].text = repeat("rules: ", "{a: ", 100000, "");
	cases[n++].message = "t.yaml:1:132: nested deeper than 32 levels";
	cases[n].text = repeat("rules: [", "x,", 250000, "x]");
	cases[n++].message = "t.yaml:1:400003: more than 200000 values";
	anchors = malloc(60000 * 16 + 64);
	assert_non_null(anchors);
	p = anchors + sprintf(anchors, "chains:\n");
	for (i = 0; i < 60000; i++)
		p += sprintf(p, " - &a%zu x\n", i);
	cases[n].text = anchors;
	cases[n++].message = "t.yaml:258:4: more than 256 anchors";
	cases[n].text = strdup("policy: {version: 3}\n---\nrules: [{app: Tor, action: drop}]\n");
	cases[n++].message = "t.yaml:2:1: a second YAML document ('---'): the file must hold one";
	cases[n].text = repeat("rules: [", "*a, ", 300, "]");
	cases[n++].message = "t.yaml:1:1033: more than 256 aliases";
	for (i = 0; i < n; i++) {
		expect_error(cases[i].text, cases[i].message);
		free(cases[i].text);
	}
}

/* The same limits hold for a file, which is also refused beyond 4 MiB or when not regular. */
static void
hostile_files(void **state)
{
	char path[] = "/tmp/flowtag-test-config-XXXXXX";
	struct config cfg;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 5 * 1024 * 1024 / 32; i++)
		fprintf(f, "# padding padding padding padd\n");
	fclose(f);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than a config may hold"));
	unlink(path);
	assert_int_equal(config_load(&cfg, "/dev/zero", err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/zero: not a regular file");
	config_release(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(full_file),
		cmocka_unit_test(shipped_config_loads),
		cmocka_unit_test(repeated_keys_override),
		cmocka_unit_test(offload_section),
		cmocka_unit_test(apps_section),
		cmocka_unit_test(errors_name_line_and_column),
		cmocka_unit_test(yaml_syntax_errors),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(hostile_yaml_is_refused_quickly),
		cmocka_unit_test(hostile_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
