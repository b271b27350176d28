/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* Policy: YAML -> spec -> compiled matcher -> decisions; and the errors on the way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "config.h"
#include "dpi.h"
#include "parse.h"
#include "policy.h"

static struct dpi *names;
static char err[CONFIG_ERR_MAX];

static int
setup(void **state)
{
	struct dpi_params p = {.max_states = 1};

	(void)state;
	names = dpi_create(&p);
	return names == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	dpi_destroy(names);
	return 0;
}

static struct policy *
compile_yaml(const char *yaml)
{
	struct config cfg;
	struct policy *p;

	config_defaults(&cfg);
	if (config_load_string(&cfg, "p.yaml", yaml, err, sizeof(err)) != 0) {
		config_release(&cfg);
		return NULL;
	}
	p = policy_compile(config_policy(&cfg), names, "p.yaml", err, sizeof(err));
	config_release(&cfg);
	return p;
}

static void
expect_compile_error(const char *yaml, const char *message)
{
	struct policy *p = compile_yaml(yaml);

	assert_null(p);
	if (strcmp(err, message) != 0)
		fail_msg("policy error\n  got:      %s\n  expected: %s", err, message);
}

/* A flow to decide on: src -> dst (the src sent the first packet). */
struct tflow {
	struct flow_key key;
	struct policy_flow f;
};

static void
make_flow(struct tflow *t, const char *src, uint16_t sport, const char *dst, uint16_t dport,
	  uint8_t l4, const char *master, const char *app, const char *category, const char *host)
{
	uint8_t a[16] = {0}, b[16] = {0};
	int v6 = strchr(src, ':') != NULL;
	size_t n = v6 ? 16 : 4;
	bool src_hi;

	memset(t, 0, sizeof(*t));
	inet_pton(v6 ? AF_INET6 : AF_INET, src, a);
	inet_pton(v6 ? AF_INET6 : AF_INET, dst, b);
	src_hi = memcmp(a, b, n) > 0;
	memcpy(t->key.lo_addr, src_hi ? b : a, n);
	memcpy(t->key.hi_addr, src_hi ? a : b, n);
	t->key.lo_port = src_hi ? dport : sport;
	t->key.hi_port = src_hi ? sport : dport;
	t->key.l4_proto = l4;
	t->key.ip_version = v6 ? 6 : 4;
	t->f.key = &t->key;
	t->f.initiator_hi = src_hi;
	t->f.master_proto = master != NULL ? (uint16_t)dpi_proto_id(names, master) : 0;
	t->f.app_proto = (uint16_t)dpi_proto_id(names, app);
	t->f.category = (uint16_t)dpi_category_id(names, category);
	t->f.host = host != NULL ? host : "";
}

static const char *
decide_name(const struct policy *p, const struct tflow *t)
{
	struct policy_decision d = policy_decide(p, &t->f);

	if (d.action == POLICY_DROP)
		return "drop";
	if (d.action == POLICY_PASS)
		return "pass";
	return policy_chain_at(p, d.chain)->name;
}

static void
sfc_demo(void **state)
{
	char path[512];
	struct config cfg;
	struct policy *p;
	struct tflow t;

	(void)state;
	snprintf(path, sizeof(path), "%s/config/examples/sfc-demo.yaml", SOURCE_ROOT);
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	p = policy_compile(config_policy(&cfg), names, path, err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(policy_chain_count(p), 5);
	assert_int_equal(policy_rule_count(p), 6);

	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 443, IPPROTO_TCP, NULL, "Tor", "VPN", NULL);
	assert_string_equal(decide_name(p, &t), "drop");
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 443, IPPROTO_TCP, "TLS", "YouTube", "Media",
		  "www.youtube.com");
	assert_string_equal(decide_name(p, &t), "video");
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 443, IPPROTO_UDP, "QUIC", "NetFlix", "Video",
		  NULL);
	assert_string_equal(decide_name(p, &t), "video");
	/* Only the host says video here. */
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 443, IPPROTO_TCP, "TLS", "Google", "Web",
		  "rr4---sn-abc.googlevideo.com");
	assert_string_equal(decide_name(p, &t), "video");
	make_flow(&t, "10.0.0.1", 5060, "1.2.3.4", 5060, IPPROTO_UDP, NULL, "SIP", "VoIP", NULL);
	assert_string_equal(decide_name(p, &t), "voip");
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 6881, IPPROTO_TCP, NULL, "BitTorrent",
		  "Download", NULL);
	assert_string_equal(decide_name(p, &t), "p2p");
	/* protocol: HTTP matches HTTP as the app (plain HTTP) and as the master (HTTP.Google). */
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 80, IPPROTO_TCP, NULL, "HTTP", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "web");
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 80, IPPROTO_TCP, "HTTP", "Google", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "web");
	make_flow(&t, "10.0.0.1", 40000, "1.2.3.4", 53, IPPROTO_UDP, NULL, "DNS", "Network", NULL);
	assert_string_equal(decide_name(p, &t), "default");
	assert_int_equal(policy_unclassified_decision(p).action, POLICY_CHAIN);
	assert_string_equal(policy_chain_at(p, policy_unclassified_decision(p).chain)->name,
			    "default");
	/* What the web view shows: each rule as written, with its line; each chain's hops. */
	{
		struct policy_decision d;
		uint32_t line = 0;

		assert_string_equal(policy_rule_text(p, 1, &line, &d),
				    "app: YouTube, NetFlix, YouTubeUpload");
		assert_true(line > 0);
		assert_int_equal(d.action, POLICY_CHAIN);
		assert_string_equal(policy_chain_at(p, d.chain)->name, "video");
		assert_string_equal(policy_rule_text(p, 2, &line, &d), "host: *.googlevideo.com");
		assert_null(policy_rule_text(p, 6, &line, &d));
		assert_int_equal(policy_chain_at(p, 0)->hops, 2);
		assert_int_equal(policy_chain_at(p, 1)->hops, 1);
		assert_int_equal(policy_default_decision(p).action, POLICY_CHAIN);
	}
	policy_destroy(p);
	config_release(&cfg);
}

static void
first_match_wins_and_default(void **state)
{
	struct policy *p;
	struct tflow t;

	(void)state;
	p = compile_yaml("chains:\n"
			 "  - {name: a, tag: vlan, vid: 10}\n"
			 "  - {name: b, tag: vlan, vid: 20}\n"
			 "rules:\n"
			 "  - {l4: udp, chain: a}\n"
			 "  - {dst_port: 53, chain: b}\n"
			 "policy:\n"
			 "  default: pass\n");
	assert_non_null(p);
	make_flow(&t, "10.0.0.1", 40000, "10.0.0.2", 53, IPPROTO_UDP, NULL, "DNS", "Network", NULL);
	assert_string_equal(decide_name(p, &t), "a"); /* both match: the first wins */
	make_flow(&t, "10.0.0.1", 40000, "10.0.0.2", 53, IPPROTO_TCP, NULL, "DNS", "Network", NULL);
	assert_string_equal(decide_name(p, &t), "b");
	assert_int_equal(policy_decide(p, &t.f).rule, 2);
	make_flow(&t, "10.0.0.1", 40000, "10.0.0.2", 80, IPPROTO_TCP, NULL, "HTTP", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "pass");
	assert_int_equal(policy_decide(p, &t.f).rule, 0);
	policy_destroy(p);
}

static void
cidr_edges(void **state)
{
	struct policy *p;
	struct tflow t;

	(void)state;
	p = compile_yaml("chains: [{name: a, tag: dscp, dscp: 10}]\n"
			 "rules:\n"
			 "  - {src: [192.168.1.0/31, 2001:db8:0:1::/64], chain: a}\n"
			 "  - {dst: 0.0.0.0/0, action: drop}\n");
	assert_non_null(p);
	make_flow(&t, "192.168.1.1", 1, "8.8.8.8", 2, IPPROTO_TCP, NULL, "HTTP", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "a"); /* inside /31 */
	make_flow(&t, "192.168.1.2", 1, "8.8.8.8", 2, IPPROTO_TCP, NULL, "HTTP", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "drop"); /* just outside; /0 catches it */
	/* The responder's address does not satisfy src: direction matters. */
	make_flow(&t, "8.8.8.8", 2, "192.168.1.1", 1, IPPROTO_TCP, NULL, "HTTP", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "drop");
	make_flow(&t, "2001:db8:0:1:ffff:ffff:ffff:ffff", 1, "2001:db8::99", 2, IPPROTO_TCP, NULL,
		  "HTTP", "Web", NULL);
	assert_string_equal(decide_name(p, &t), "a");
	make_flow(&t, "2001:db8:0:2::1", 1, "2001:db8::99", 2, IPPROTO_TCP, NULL, "HTTP", "Web",
		  NULL);
	assert_string_equal(decide_name(p, &t), "pass"); /* IPv6 outside, and /0 is IPv4 only */
	policy_destroy(p);
}

static void
hosts_ports_vlans_risks(void **state)
{
	struct policy *p;
	struct tflow t;

	(void)state;
	p = compile_yaml("chains: [{name: a, tag: nsh, spi: 5}]\n"
			 "rules:\n"
			 "  - {host: .example.com, chain: a}\n"
			 "  - {host: \"cdn?.*.net\", chain: a}\n"
			 "  - {dst_port: 1000-2000, l4: sctp, chain: a}\n"
			 "  - {vlan: 100-199, action: drop}\n"
			 "  - {risk: Known Protocol on Non Standard Port, action: drop}\n"
			 "policy: {default: pass}\n");
	if (p == NULL)
		fail_msg("%s", err);
	make_flow(&t, "10.0.0.1", 1, "10.0.0.2", 443, IPPROTO_TCP, "TLS", "TLS", "Web", "EXAMPLE.com");
	assert_string_equal(decide_name(p, &t), "a"); /* the domain itself, any case */
	t.f.host = "a.b.example.com";
	assert_string_equal(decide_name(p, &t), "a");
	t.f.host = "badexample.com";
	assert_string_equal(decide_name(p, &t), "pass");
	t.f.host = "cdn7.edge.net";
	assert_string_equal(decide_name(p, &t), "a");
	t.f.host = "cdn77.edge.net";
	assert_string_equal(decide_name(p, &t), "pass");

	make_flow(&t, "10.0.0.1", 1, "10.0.0.2", 999, IPPROTO_SCTP, NULL, "Unknown", "Unspecified",
		  NULL);
	assert_string_equal(decide_name(p, &t), "pass");
	make_flow(&t, "10.0.0.1", 1, "10.0.0.2", 1000, IPPROTO_SCTP, NULL, "Unknown", "Unspecified",
		  NULL);
	assert_string_equal(decide_name(p, &t), "a");
	make_flow(&t, "10.0.0.1", 1, "10.0.0.2", 2000, IPPROTO_SCTP, NULL, "Unknown", "Unspecified",
		  NULL);
	assert_string_equal(decide_name(p, &t), "a");
	make_flow(&t, "10.0.0.1", 1, "10.0.0.2", 2001, IPPROTO_SCTP, NULL, "Unknown", "Unspecified",
		  NULL);
	assert_string_equal(decide_name(p, &t), "pass");
	t.key.vlan = 199;
	assert_string_equal(decide_name(p, &t), "drop");

	t.key.vlan = 200;
	assert_string_equal(decide_name(p, &t), "pass");
	{
		unsigned int bit;

		for (bit = 1; bit < 64; bit++)
			if (dpi_risk_name(bit) != NULL &&
			    strcmp(dpi_risk_name(bit), "Known Protocol on Non Standard Port") == 0)
				break;
		assert_true(bit < 64);
		t.f.risk = 1ULL << (bit == 1 ? 2 : 1); /* another risk: no match */
		assert_string_equal(decide_name(p, &t), "pass");
		t.f.risk |= 1ULL << bit;
		assert_string_equal(decide_name(p, &t), "drop");
	}
	policy_destroy(p);

	/* Tunnels: teid matches GTP-U flows by their TEID, vni VXLAN and Geneve flows by VNI. */
	p = compile_yaml("chains: [{name: a, tag: nsh, spi: 5}, {name: b, tag: nsh, spi: 6}]\n"
			 "rules:\n"
			 "  - {teid: [305419896, 1000-2000], chain: a}\n"
			 "  - {vni: 5001, chain: b}\n"
			 "policy: {default: pass}\n");
	if (p == NULL)
		fail_msg("%s", err);
	make_flow(&t, "10.0.0.1", 1, "10.0.0.2", 80, IPPROTO_TCP, NULL, "HTTP", "Web", NULL);
	t.key.tunnel_id = 305419896;
	assert_string_equal(decide_name(p, &t), "pass"); /* no tunnel: no TEID */
	t.key.tunnel = PARSE_TUNNEL_GTPU;
	assert_string_equal(decide_name(p, &t), "a");
	t.key.tunnel_id = 1500;
	assert_string_equal(decide_name(p, &t), "a");
	t.key.tunnel_id = 5001;
	assert_string_equal(decide_name(p, &t), "pass"); /* a TEID of 5001 is not a VNI */
	t.key.tunnel = PARSE_TUNNEL_VXLAN;
	assert_string_equal(decide_name(p, &t), "b");
	t.key.tunnel = PARSE_TUNNEL_GENEVE;
	assert_string_equal(decide_name(p, &t), "b");
	t.key.tunnel = PARSE_TUNNEL_CAPWAP;
	assert_string_equal(decide_name(p, &t), "pass");
	policy_destroy(p);
}

static void
errors(void **state)
{
	(void)state;
	expect_compile_error("chains: [{name: a, tag: nsh, spi: 5}]\n"
			     "rules:\n"
			     "  - {app: YuoTube, chain: a}\n",
			     "p.yaml:3:11: unknown protocol 'YuoTube' (nDPI's names, as ndpiReader -H "
			     "lists them, e.g. YouTube, TLS, BitTorrent)");
	expect_compile_error("chains: [{name: a, tag: nsh, spi: 5}]\n"
			     "rules:\n"
			     "  - category: [Media, Movies]\n"
			     "    chain: a\n",
			     "p.yaml:3:23: unknown category 'Movies' (nDPI's names, e.g. VoIP, Media, "
			     "Download, Web)");
	expect_compile_error("chains: [{name: a, tag: nsh, spi: 5}]\n"
			     "rules:\n"
			     "  - {app: HTTP, chain: b}\n",
			     "p.yaml:3:24: unknown chain 'b' (define it under 'chains')");
	expect_compile_error("chains: [{name: a, tag: nsh, spi: 5}]\n"
			     "policy: {default: {chain: nowhere}}\n",
			     "p.yaml:2:27: unknown chain 'nowhere' (define it under 'chains')");
	expect_compile_error("chains:\n"
			     "  - {name: a, tag: nsh, spi: 5}\n"
			     "  - {name: b, tag: mpls, spi: 5}\n",
			     "p.yaml:3:5: chain 'b' has SPI 5, which chain 'a' already uses");
	expect_compile_error("chains:\n"
			     "  - {name: a, tag: mpls, spi: 4096}\n",
			     "p.yaml:2:31: 'spi' is 4096, expected 1 to 4095 for mpls chains (label = "
			     "SPI << 8 | SI has 20 bits)");
	expect_compile_error("chains:\n"
			     "  - {name: a, tag: vlan, spi: 7}\n",
			     "p.yaml:2:26: 'spi' applies to nsh and mpls chains only");
	expect_compile_error("chains:\n"
			     "  - {name: a, tag: nsh}\n",
			     "p.yaml:2:5: chain 'a' (nsh) needs 'spi' (1 to 16777215)");
	{
		/* A spec built in code goes by the same rules as one read from YAML. */
		struct policy_chain_spec chain = {.name = "x", .tag = {.kind = TAG_VLAN, .vid = 5000},
						  .mark = {7, 3}};
		struct policy_spec spec;

		policy_spec_defaults(&spec);
		spec.chains = &chain;
		spec.n_chains = 1;
		assert_null(policy_compile(&spec, names, "code", err, sizeof(err)));
		assert_string_equal(err, "code:7:3: chain 'x': vlan 'vid' must be 1 to 4094 (802.1Q; 0 "
					 "and 4095 are reserved)");
	}
	expect_compile_error("chains: [{name: a, tag: vlan, vid: 5}]\n"
			     "rules:\n"
			     "  - {src: 10.0.0.0/33, chain: a}\n",
			     "p.yaml:3:11: '10.0.0.0/33': prefix length must be 0 to 32");
	expect_compile_error("chains: [{name: a, tag: vlan, vid: 5}]\n"
			     "rules:\n"
			     "  - {dst_port: 2000-1000, chain: a}\n",
			     "p.yaml:3:16: '2000-1000' is not a port or range (expected N or N-M, 0 to "
			     "65535)");
	expect_compile_error("rules:\n"
			     "  - {app: HTTP}\n",
			     "p.yaml:2:5: rule needs an action: 'chain: NAME' or 'action: drop|pass'");
	expect_compile_error("rules:\n"
			     "  - {app: HTTP, colour: red, action: drop}\n",
			     "p.yaml:2:17: unknown key 'colour' in rule (expected one of: app, master, "
			     "protocol, category, host, src, dst, l4, src_port, dst_port, vlan, risk, "
			     "teid, vni, chain, action)");
	expect_compile_error("rules:\n  - {vni: 16777216, action: drop}\n",
			     "p.yaml:2:11: '16777216' is not a VNI or range (expected N or N-M, 0 to "
			     "16777215)");
	expect_compile_error("rules:\n  - {teid: 4294967296, action: drop}\n",
			     "p.yaml:2:12: '4294967296' is not a TEID or range (expected N or N-M, 0 "
			     "to 4294967295)");
	expect_compile_error("chains: [{name: a, tag: vxlan, spi: 5}]\n",
			     "p.yaml:1:25: 'tag' must be nsh, vlan, mpls or dscp, found 'vxlan'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sfc_demo),
		cmocka_unit_test(first_match_wins_and_default),
		cmocka_unit_test(cidr_edges),
		cmocka_unit_test(hosts_ports_vlans_risks),
		cmocka_unit_test(errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
