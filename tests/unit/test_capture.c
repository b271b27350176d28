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
#include <pcap/pcap.h>

#include "capture.h"

static const uint8_t ipv4_hdr[20] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0,
				     10, 0, 0, 1, 10, 0, 0, 2};

static void
check_eth(const uint8_t *out, int n, uint16_t type, const uint8_t *payload, int plen)
{
	assert_int_equal(n, 14 + plen);
	assert_int_equal(out[12], type >> 8);
	assert_int_equal(out[13], type & 0xff);
	assert_memory_equal(out + 14, payload, (size_t)plen);
}

static void
link_types(void **state)
{
	uint8_t in[64], out[128];
	int n;

	(void)state;
	/* Linux SLL: 16-byte header, protocol in bytes 14-15. */
	memset(in, 0, 16);
	in[14] = 0x08;
	memcpy(in + 16, ipv4_hdr, 20);
	n = capture_to_ethernet(113, in, 36, out, sizeof(out));
	check_eth(out, n, 0x0800, ipv4_hdr, 20);

	/* SLL2: protocol first, 20-byte header. */
	memset(in, 0, 20);
	in[0] = 0x86;
	in[1] = 0xdd;
	memcpy(in + 20, ipv4_hdr, 20);
	check_eth(out, capture_to_ethernet(276, in, 40, out, sizeof(out)), 0x86dd, ipv4_hdr, 20);

	/* BSD null: AF_INET in host (little-endian here) order; loopback: network order. */
	memcpy(in, "\x02\x00\x00\x00", 4);
	memcpy(in + 4, ipv4_hdr, 20);
	check_eth(out, capture_to_ethernet(0, in, 24, out, sizeof(out)), 0x0800, ipv4_hdr, 20);
	memcpy(in, "\x00\x00\x00\x1e", 4); /* AF_INET6 on Darwin */
	check_eth(out, capture_to_ethernet(108, in, 24, out, sizeof(out)), 0x86dd, ipv4_hdr, 20);

	/* Raw IP: the version nibble decides. */
	check_eth(out, capture_to_ethernet(101, ipv4_hdr, 20, out, sizeof(out)), 0x0800, ipv4_hdr,
		  20);

	/* PPP with and without address/control; Cisco HDLC under the PPP link type. */
	memcpy(in, "\xff\x03\x00\x21", 4);
	memcpy(in + 4, ipv4_hdr, 20);
	check_eth(out, capture_to_ethernet(9, in, 24, out, sizeof(out)), 0x0800, ipv4_hdr, 20);
	memcpy(in, "\x00\x57", 2);
	memcpy(in + 2, ipv4_hdr, 20);
	check_eth(out, capture_to_ethernet(9, in, 22, out, sizeof(out)), 0x86dd, ipv4_hdr, 20);
	memcpy(in, "\x0f\x00\x08\x00", 4);
	memcpy(in + 4, ipv4_hdr, 20);
	check_eth(out, capture_to_ethernet(9, in, 24, out, sizeof(out)), 0x0800, ipv4_hdr, 20);
	check_eth(out, capture_to_ethernet(104, in, 24, out, sizeof(out)), 0x0800, ipv4_hdr, 20);

	/* A runt keeps its bytes (the parser counts it), never reads past them. */
	assert_int_equal(capture_to_ethernet(113, in, 3, out, sizeof(out)), 14);

	/* 802.11 is not supported. */
	assert_int_equal(capture_to_ethernet(105, in, 24, out, sizeof(out)), -1);
}

static void
write_capture(const char *path, int linktype, const uint8_t *frame, uint32_t len, int count)
{
	pcap_t *dead = pcap_open_dead(linktype, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	int i;

	assert_non_null(d);
	for (i = 0; i < count; i++) {
		struct pcap_pkthdr h = {.ts = {.tv_sec = 1000 + i, .tv_usec = 5}, .caplen = len,
					.len = len + 100};

		pcap_dump((u_char *)d, &h, frame);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static void
normalize_files(void **state)
{
	char a[] = "/tmp/flowtag-test-a-XXXXXX", b[] = "/tmp/flowtag-test-b-XXXXXX",
	     out[] = "/tmp/flowtag-test-o-XXXXXX", err[512];
	char errbuf[PCAP_ERRBUF_SIZE];
	const char *inputs[2] = {a, b};
	uint8_t sll[36] = {0};
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets;
	pcap_t *p;
	int n = 0;

	(void)state;
	close(mkstemp(a));
	close(mkstemp(b));
	close(mkstemp(out));
	sll[14] = 0x08;
	memcpy(sll + 16, ipv4_hdr, 20);
	write_capture(a, DLT_LINUX_SLL, sll, sizeof(sll), 3);
	write_capture(b, DLT_RAW, ipv4_hdr, sizeof(ipv4_hdr), 2);
	assert_int_equal(capture_normalize(inputs, 2, out, &packets, err, sizeof(err)), 0);
	assert_int_equal(packets, 5);

	p = pcap_open_offline(out, errbuf);
	assert_non_null(p);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	while (pcap_next_ex(p, &h, &data) == 1) {
		assert_int_equal(h->caplen, 34);
		/* The wire length moves with the header: +100 beyond what was captured, kept. */
		assert_int_equal(h->len, 134);
		assert_memory_equal(data + 14, ipv4_hdr, 20);
		n++;
	}
	assert_int_equal(n, 5);
	pcap_close(p);

	/* An unsupported link type is refused with its name. */
	write_capture(b, DLT_IEEE802_11, ipv4_hdr, sizeof(ipv4_hdr), 1);
	assert_int_equal(capture_normalize(inputs + 1, 1, out, &packets, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "link type 105 (IEEE802_11) is not supported"));

	/* So is a file that is not a capture. */
	FILE *f = fopen(b, "w");
	fputs("not a capture\n", f);
	fclose(f);
	assert_int_equal(capture_normalize(inputs + 1, 1, out, &packets, err, sizeof(err)), -1);
	assert_non_null(strstr(err, b));
	unlink(a);
	unlink(b);
	unlink(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(link_types),
		cmocka_unit_test(normalize_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
