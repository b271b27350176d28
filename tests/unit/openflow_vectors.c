/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * flowtag's OpenFlow encodings, each next to what Open vSwitch should make of it, for
 * openflow_ovs.py to check against ovs-ofctl itself:
 *
 *   FLOW <name>\t<ovs-ofctl flow>\t<hex>   an ADD: ovs-ofctl parse-flow of the text must
 *                                          encode exactly these bytes (xid aside)
 *   PRINT <name>\t<ofp-print line>\t<hex>  any message: ovs-ofctl ofp-print of the bytes must
 *                                          print this line
 *
 * The flows are the ones flowtag installs: one per tag kind (and the NSH MD2 with the
 * longest host), on IPv4 TCP, IPv6 UDP, tagged and untagged frames, and the drop rule.
 */
#include <stdio.h>
#include <string.h>

#include "nsh.h"
#include "openflow_golden.h"
#include "openflow.h"
#include "tag.h"

static void
hex(const struct of_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		printf("%02x", b->data[i]);
	printf("\n");
}

static void
ipv4(uint8_t a[16], const char *s)
{
	unsigned int x[4];

	memset(a, 0, 16);
	sscanf(s, "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]);
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)x[i];
}

/* The match of a TCP/IPv4 flow from 10.0.0.1:40000 to 192.0.2.7:443 on in_port 1. */
static struct of_match
tcp4(bool tagged)
{
	struct of_match m = {.in_port = 1, .match_vlan = true, .ip_version = 4, .ip_proto = 6,
			     .tp_src = 40000, .tp_dst = 443, .tcp_flags_clear = 0x007};

	m.vlan_vid = tagged ? OF_VID_PRESENT | 300 : 0;
	ipv4(m.src, "10.0.0.1");
	ipv4(m.dst, "192.0.2.7");
	return m;
}

static struct of_match
udp6(void)
{
	struct of_match m = {.in_port = 1, .match_vlan = true, .vlan_vid = 0, .ip_version = 6,
			     .ip_proto = 17, .tp_src = 5004, .tp_dst = 5006};

	memcpy(m.src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	memcpy(m.dst, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	return m;
}

#define TCP4 "tcp,in_port=1,vlan_tci=0x0000/0x1fff,nw_src=10.0.0.1,nw_dst=192.0.2.7,tp_src=40000,tp_dst=443,tcp_flags=-fin-syn-rst"
#define TCP4_TAGGED "tcp,in_port=1,dl_vlan=300,nw_src=10.0.0.1,nw_dst=192.0.2.7,tp_src=40000,tp_dst=443,tcp_flags=-fin-syn-rst"
#define UDP6 "udp6,in_port=1,vlan_tci=0x0000/0x1fff,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,tp_src=5004,tp_dst=5006"
#define HEAD "table=5,priority=300,cookie=0xf10a7a9000000007,idle_timeout=120,send_flow_rem,"
#define SAVE_MACS "move:NXM_OF_ETH_SRC[]->NXM_NX_XXREG3[0..47],move:NXM_OF_ETH_DST[]->NXM_NX_XXREG3[64..111],"
#define RESTORE_MACS "encap(ethernet),move:NXM_NX_XXREG3[0..47]->NXM_OF_ETH_SRC[],move:NXM_NX_XXREG3[64..111]->NXM_OF_ETH_DST[],"

static void
flow(const char *name, const char *text, const struct of_match *m, const struct tag_spec *spec,
     const struct tag_meta *meta, bool tagged, bool drop)
{
	struct of_buf acts = {.len = 0}, msg = {.len = 0};
	struct tag_push push;
	struct of_flow_mod fm = {.cookie = 0xf10a7a9000000007ULL, .table_id = 5,
				 .command = OFPFC_ADD, .idle_timeout = 120, .priority = 300,
				 .flags = OFPFF_SEND_FLOW_REM, .match = m};

	if (!drop) {
		if (spec != NULL) {
			tag_push_of(spec, meta, tagged, &push);
			of_put_tag_push(&acts, &push, 3);
		}
		of_put_resubmit(&acts, 2, 0);
		fm.actions = acts.data;
		fm.actions_len = acts.len;
	}
	of_flow_mod(&msg, 1, &fm);
	printf("FLOW %s\t%s\t", name, text);
	hex(&msg);
}

/* An ADD checked through ofp-print: the text OVS prints for our bytes. */
static void
print_flow(const char *name, const char *text, const struct of_match *m,
	   const struct tag_spec *spec, const struct tag_meta *meta)
{
	struct of_buf acts = {.len = 0}, msg = {.len = 0};
	struct tag_push push;
	struct of_flow_mod fm = {.cookie = 0xf10a7a9000000007ULL, .table_id = 5,
				 .command = OFPFC_ADD, .idle_timeout = 120, .priority = 300,
				 .flags = OFPFF_SEND_FLOW_REM, .match = m};

	tag_push_of(spec, meta, false, &push);
	of_put_tag_push(&acts, &push, 3);
	of_put_resubmit(&acts, 2, 0);
	fm.actions = acts.data;
	fm.actions_len = acts.len;
	of_flow_mod(&msg, 1, &fm);
	printf("PRINT %s\t%s\t", name, text);
	hex(&msg);
}

int
main(void)
{
	struct of_match t4 = tcp4(false), t4v = tcp4(true), u6 = udp6();
	struct tag_spec md1 = {.kind = TAG_NSH, .spi = 10, .md_type = 1};
	struct tag_spec md2 = {.kind = TAG_NSH, .spi = 1, .md_type = 2};
	struct tag_spec vlan = {.kind = TAG_VLAN, .vid = 200};
	struct tag_spec mpls = {.kind = TAG_MPLS, .spi = 30};
	struct tag_spec dscp = {.kind = TAG_DSCP, .dscp = 18};
	char longest[NSH_TLV_MAX_VALUE + 1];
	struct tag_meta meta = {.master_proto = 91, .app_proto = 124, .category = 5,
				.si = NSH_SI_CLASSIFIER, .flow_id = 77, .policy_version = 3,
				.host = "www.youtube.com"};
	struct tag_meta no_host = meta, long_host = meta;
	struct of_buf b = {.len = 0};
	struct of_flow_mod del = {.cookie = 0xf10a7a9000000000ULL, .cookie_mask = 0xffffffff00000000ULL,
				  .table_id = OFPTT_ALL, .command = OFPFC_DELETE};
	struct of_flow_mod del_strict = {.cookie = 0xf10a7a9000000007ULL, .cookie_mask = ~0ULL,
					 .table_id = 5, .command = OFPFC_DELETE_STRICT,
					 .priority = 300, .match = &t4};

	no_host.host = "";
	memset(longest, 'h', NSH_TLV_MAX_VALUE);
	longest[NSH_TLV_MAX_VALUE] = '\0';
	long_host.host = longest;

	flow("nsh_md1_tcp4", HEAD TCP4 ",actions=" SAVE_MACS
	     "encap(nsh(md_type=1)),set_field:0xa->nsh_spi,set_field:0x5b007c->nsh_c1,"
	     "set_field:0x5->nsh_c2,set_field:0x4d->nsh_c3,set_field:0x3->nsh_c4," RESTORE_MACS
	     "resubmit(2,0)",
	     &t4, &md1, &meta, false, false);
	flow("nsh_md2_tcp4", HEAD TCP4 ",actions=" SAVE_MACS
	     "encap(nsh(md_type=2,tlv(0xfff6,1,0x005b007c),tlv(0xfff6,2,0x00000005),"
	     "tlv(0xfff6,3,0x0000004d),tlv(0xfff6,4,0x00000003),"
	     "tlv(0xfff6,5,0x7777772e796f75747562652e636f6d))),set_field:0x1->nsh_spi," RESTORE_MACS
	     "resubmit(2,0)",
	     &t4, &md2, &meta, false, false);
	flow("nsh_md2_no_host_udp6", HEAD UDP6 ",actions=" SAVE_MACS
	     "encap(nsh(md_type=2,tlv(0xfff6,1,0x005b007c),tlv(0xfff6,2,0x00000005),"
	     "tlv(0xfff6,3,0x0000004d),tlv(0xfff6,4,0x00000003))),set_field:0x1->nsh_spi,"
	     RESTORE_MACS "resubmit(2,0)",
	     &u6, &md2, &no_host, false, false);
	{
		/*
		 * The longest host a TLV carries is 127 bytes; ovs-ofctl's text parser takes TLV
		 * values of up to 125 bytes, so that one is compared as bytes, and the longest
		 * is checked through OVS's decoder (ofp-print) below.
		 */
		char text[4096], hexhost[2 * NSH_TLV_MAX_VALUE + 1];
		char host125[126];

		memset(host125, 'h', 125);
		host125[125] = '\0';
		long_host.host = host125;
		for (int i = 0; i < 125; i++)
			sprintf(hexhost + 2 * i, "68");
		snprintf(text, sizeof(text),
			 HEAD TCP4 ",actions=" SAVE_MACS
			 "encap(nsh(md_type=2,tlv(0xfff6,1,0x005b007c),tlv(0xfff6,2,0x00000005),"
			 "tlv(0xfff6,3,0x0000004d),tlv(0xfff6,4,0x00000003),tlv(0xfff6,5,0x%s))),"
			 "set_field:0x1->nsh_spi," RESTORE_MACS "resubmit(2,0)",
			 hexhost);
		flow("nsh_md2_host_125", text, &t4, &md2, &long_host, false, false);
		long_host.host = longest;
		for (int i = 0; i < NSH_TLV_MAX_VALUE; i++)
			sprintf(hexhost + 2 * i, "68");
		snprintf(text, sizeof(text),
			 "OFPT_FLOW_MOD (OF1.3) (xid=0x1): ADD table:5 priority=300," TCP4
			 " cookie:0xf10a7a9000000007 idle:120 send_flow_rem actions="
			 SAVE_MACS "encap(nsh(md_type=2,tlv(0xfff6,1,0x5b007c),tlv(0xfff6,2,0x5),"
			 "tlv(0xfff6,3,0x4d),tlv(0xfff6,4,0x3),tlv(0xfff6,5,0x%s))),"
			 "set_field:0x1->nsh_spi," RESTORE_MACS "resubmit(2,0)",
			 hexhost);
		print_flow("nsh_md2_longest_host", text, &t4, &md2, &long_host);
	}
	flow("vlan_push_tcp4", HEAD TCP4 ",actions=push_vlan:0x8100,set_field:4296->vlan_vid,"
	     "resubmit(2,0)", &t4, &vlan, &meta, false, false);
	flow("vlan_rewrite_tagged", HEAD TCP4_TAGGED ",actions=set_field:4296->vlan_vid,"
	     "resubmit(2,0)", &t4v, &vlan, &meta, true, false);
	flow("mpls_udp6", HEAD UDP6 ",actions=push_mpls:0x8847,set_field:7935->mpls_label,"
	     "set_field:0->mpls_tc,set_mpls_ttl(255),resubmit(2,0)", &u6, &mpls, &meta, false,
	     false);
	flow("dscp_tcp4", HEAD TCP4 ",actions=set_field:18->ip_dscp,resubmit(2,0)", &t4, &dscp,
	     &meta, false, false);
	flow("dscp_udp6", HEAD UDP6 ",actions=set_field:18->ip_dscp,resubmit(2,0)", &u6, &dscp,
	     &meta, false, false);
	flow("pass_tcp4", HEAD TCP4 ",actions=resubmit(2,0)", &t4, NULL, &meta, false, false);
	flow("drop_udp6", HEAD UDP6 ",actions=drop", &u6, NULL, &meta, false, true);

	of_hello(&b, 1);
	printf("PRINT hello\tOFPT_HELLO (OF1.3) (xid=0x1):\\n version bitmap: 0x04\t");
	hex(&b);
	b.len = 0;
	of_set_config(&b, 2, 128);
	printf("PRINT set_config\tOFPT_SET_CONFIG (OF1.3) (xid=0x2): frags=normal miss_send_len=128\t");
	hex(&b);
	b.len = 0;
	of_set_async_flow_removed_only(&b, 3);
	printf("PRINT set_async\tOFPT_SET_ASYNC (OF1.3) (xid=0x3):\\n primary:\\n       PACKET_IN: (off)\\n     PORT_STATUS: (off)\\n    FLOW_REMOVED: idle hard delete group_delete\\n     ROLE_STATUS: (off)\\n    TABLE_STATUS: (off)\\n  REQUESTFORWARD: (off)\\n\\n secondary:\\n       PACKET_IN: (off)\\n     PORT_STATUS: (off)\\n    FLOW_REMOVED: (off)\\n     ROLE_STATUS: (off)\\n    TABLE_STATUS: (off)\\n  REQUESTFORWARD: (off)\t");
	hex(&b);
	b.len = 0;
	of_barrier_request(&b, 4);
	printf("PRINT barrier\tOFPT_BARRIER_REQUEST (OF1.3) (xid=0x4):\t");
	hex(&b);
	b.len = 0;
	of_echo_request(&b, 5);
	printf("PRINT echo_request\tOFPT_ECHO_REQUEST (OF1.3) (xid=0x5): 0 bytes of payload\t");
	hex(&b);
	b.len = 0;
	of_flow_mod(&b, 6, &del);
	printf("PRINT delete_by_cookie\tOFPT_FLOW_MOD (OF1.3) (xid=0x6): DEL table:255 priority=0 "
	       "cookie:0xf10a7a9000000000/0xffffffff00000000 actions=drop\t");
	hex(&b);
	b.len = 0;
	of_flow_mod(&b, 7, &del_strict);
	printf("PRINT delete_strict\tOFPT_FLOW_MOD (OF1.3) (xid=0x7): DEL_STRICT table:5 "
	       "priority=300," TCP4 " cookie:0xf10a7a9000000007/0xffffffffffffffff actions=drop\t");
	hex(&b);
	b.len = 0;
	of_aggregate_request(&b, 8, 0xf10a000000000000ULL, 0xffffffff00000000ULL);
	/* (ofp-print leaves the cookie out of stats requests: the OVS tier checks it live.) */
	printf("PRINT aggregate\tOFPST_AGGREGATE request (OF1.3) (xid=0x8):\t");
	hex(&b);
	golden_flow_removed(&b, &t4, OFPRR_IDLE_TIMEOUT, 1234, 567890);
	printf("PRINT flow_removed\tOFPT_FLOW_REMOVED (OF1.3) (xid=0x0): priority=300," TCP4
	       " reason=idle table_id=5 cookie:0xf10a7a9000000007 duration12.500s idle120 "
	       "pkts1234 bytes567890\t");
	hex(&b);
	golden_flow_removed(&b, &u6, OFPRR_DELETE, 1ULL << 40, 1ULL << 50);
	printf("PRINT flow_removed_v6\tOFPT_FLOW_REMOVED (OF1.3) (xid=0x0): priority=300," UDP6
	       " reason=delete table_id=5 cookie:0xf10a7a9000000007 duration12.500s idle120 "
	       "pkts1099511627776 bytes1125899906842624\t");
	hex(&b);
	return 0;
}
