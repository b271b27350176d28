/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The worker's own cost per packet, without DPDK: a capture held in memory is fed to one
 * worker in bursts of 32, pass after pass (packet times shifted so flow time moves on, as in a
 * looping replay), and the time per packet is the best of several trials, which a noisy
 * machine cannot make look better than it is. Each burst is first copied into 32 reused
 * buffers, as a receive path leaves packets in recycled, cache-hot mbufs; only the worker's
 * time is counted. For profile-driven work on the classifier:
 * the figures move with the code, not with the vdev's copy or the neighbours' load.
 *
 *   worker_bench FILE.pcap [--passes N] [--trials N]
 *   worker_bench --known-flows N [--packets M] [--trials N]
 *
 * Prints the worker's ns per packet (best and median trial) and, for scale, what parsing and
 * hashing alone cost on the same packets.
 *
 * --known-flows: N concurrent DNS flows (a query and its answer each, all classified), then M
 * more queries of those flows in a random order, timed: the cost of a packet of a known flow
 * when the table holds N flows (at ten million it is far larger than the caches). Prints
 * the ns per packet (best and median trial) and the flows classified. Flow time advances a
 * microsecond a packet, as on a link at 1 Mpps, so the idle sweep does the work it would do
 * there (it covers the table once a second of flow time).
 */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "flow_table.h"
#include "parse.h"
#include "worker.h"

#define BURST 32
#define FRAME_MAX 16384 /* longer frames are cut at load: the worker sees this much */

struct capture {
	uint8_t **data;
	uint32_t *len;
	uint64_t *time_us;
	size_t n;
};

static int
load(const char *path, struct capture *c)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	pcap_t *p = pcap_open_offline(path, err);
	size_t cap = 0;

	if (p == NULL) {
		fprintf(stderr, "worker_bench: %s\n", err);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "worker_bench: %s is not an Ethernet capture\n", path);
		pcap_close(p);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	while (pcap_next_ex(p, &h, &bytes) == 1) {
		if (c->n == cap) {
			cap = cap ? cap * 2 : 4096;
			c->data = realloc(c->data, cap * sizeof(*c->data));
			c->len = realloc(c->len, cap * sizeof(*c->len));
			c->time_us = realloc(c->time_us, cap * sizeof(*c->time_us));
			if (c->data == NULL || c->len == NULL || c->time_us == NULL) {
				fprintf(stderr, "worker_bench: out of memory\n");
				exit(1);
			}
		}
		c->len[c->n] = h->caplen < FRAME_MAX ? h->caplen : FRAME_MAX;
		c->data[c->n] = malloc(c->len[c->n]);
		if (c->data[c->n] == NULL) {
			fprintf(stderr, "worker_bench: out of memory\n");
			exit(1);
		}
		memcpy(c->data[c->n], bytes, c->len[c->n]);
		c->time_us[c->n] = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		c->n++;
	}
	pcap_close(p);
	if (c->n == 0) {
		fprintf(stderr, "worker_bench: %s holds no packets\n", path);
		return -1;
	}
	return 0;
}

static uint64_t packets_out;

static void
count_out(void *ctx, const struct worker_out *out)
{
	(void)ctx;
	(void)out;
	packets_out++;
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * One trial: a fresh worker, `passes` passes over the capture; ns per packet. With one nDPI
 * state instead of thousands, every flow but one is decided on its first packet from
 * addresses and ports alone (as when the states run out): the worker's cost without nDPI's.
 */
static double
trial(const struct capture *c, unsigned int passes, uint32_t dpi_states)
{
	struct worker_params wp = {
		.flow_capacity = 262144,
		.dpi_states = dpi_states,
		.timeout_ms = {300000, 10000, 120000, 60000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.on_packet = count_out,
	};
	struct worker *w = worker_create(&wp);
	uint64_t span = c->time_us[c->n - 1] - c->time_us[0] + 1000000;
	struct worker_pkt burst[BURST];
	static uint8_t hot[BURST][FRAME_MAX];
	double spent = 0;
	unsigned int pass;

	if (w == NULL) {
		perror("worker_bench: worker_create");
		exit(1);
	}
	for (pass = 0; pass < passes; pass++) {
		size_t i = 0;

		while (i < c->n) {
			uint16_t k = 0;
			double t0;

			for (; k < BURST && i < c->n; k++, i++) {
				memcpy(hot[k], c->data[i], c->len[i]);
				burst[k].data = hot[k];
				burst[k].len = c->len[i];
				burst[k].wire_len = c->len[i];
				burst[k].time_us = c->time_us[i] + pass * span;
				burst[k].opaque = NULL;
				burst[k].port = 0;
				burst[k].flags = 0;
			}
			t0 = now_ns();
			worker_process(w, burst, k);
			spent += now_ns() - t0;
		}
	}
	worker_destroy(w);
	return spent / ((double)passes * (double)c->n);
}

/* What parsing, keying and hashing alone cost per packet (the least any classifier does). */
static double
parse_only(const struct capture *c, unsigned int passes)
{
	static uint8_t hot[BURST][FRAME_MAX];
	volatile uint32_t sink = 0;
	double spent = 0;
	unsigned int pass;

	for (pass = 0; pass < passes; pass++) {
		for (size_t i = 0; i < c->n; i += BURST) {
			size_t k, m = c->n - i < BURST ? c->n - i : BURST;
			double t0;

			for (k = 0; k < m; k++)
				memcpy(hot[k], c->data[i + k], c->len[i + k]);
			t0 = now_ns();
			for (k = 0; k < m; k++) {
				struct parse_info pi;
				struct flow_key key;

				if (parse_ethernet(hot[k], c->len[i + k], &pi) == PARSE_OK) {
					flow_key_from_packet(&pi, &key);
					sink += flow_key_hash(&key);
				}
			}
			spent += now_ns() - t0;
		}
	}
	(void)sink;
	return spent / ((double)passes * (double)c->n);
}

/* ---- --known-flows ---- */

/* A DNS query for www.example.com from client `i` (10.x.y.z, port 1024 + i >> 24) to
 * 198.51.100.53, or its answer; returns the frame's length. Checksums stay zero (UDP allows
 * it; the worker does not check IPv4's). */
static uint32_t
dns_frame(uint8_t *f, uint32_t i, bool answer)
{
	static const uint8_t qname[] = "\3www\7example\3com";
	uint8_t client[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	uint8_t server[4] = {198, 51, 100, 53};
	uint16_t cport = (uint16_t)(1024 + (i >> 24)), sport = answer ? 53 : cport,
		 dport = answer ? cport : 53;
	uint8_t *ip = f + 14, *udp = ip + 20, *dns = udp + 8, *q;
	uint32_t dns_len, ip_len;

	memset(f, 0, 14);
	f[0] = 2, f[6] = 2, f[11] = answer ? 1 : 2, f[12] = 0x08, f[13] = 0x00;
	memset(dns, 0, 12);
	dns[0] = 0x12, dns[1] = 0x34, dns[2] = answer ? 0x81 : 0x01, dns[3] = answer ? 0x80 : 0;
	dns[5] = 1; /* one question */
	dns[7] = answer ? 1 : 0;
	q = dns + 12;
	memcpy(q, qname, sizeof(qname));
	q += sizeof(qname);
	*q++ = 0, *q++ = 1, *q++ = 0, *q++ = 1; /* A, IN */
	if (answer) {
		static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4,
					     93, 184, 216, 34};

		memcpy(q, rr, sizeof(rr));
		q += sizeof(rr);
	}
	dns_len = (uint32_t)(q - dns);
	ip_len = 20 + 8 + dns_len;
	memset(ip, 0, 20);
	ip[0] = 0x45, ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len, ip[8] = 64, ip[9] = 17;
	memcpy(ip + 12, answer ? server : client, 4);
	memcpy(ip + 16, answer ? client : server, 4);
	udp[0] = (uint8_t)(sport >> 8), udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8), udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)((8 + dns_len) >> 8), udp[5] = (uint8_t)(8 + dns_len), udp[6] = udp[7] = 0;
	return 14 + ip_len;
}

static void
count_record(void *ctx, const struct flow_record *rec)
{
	(void)ctx;
	(void)rec;
}

/* The table holds them all, with a little room. */
static uint32_t
known_flows_capacity(uint32_t nflows)
{
	return nflows + nflows / 64 + 64;
}

/* One trial: N flows set up, then `packets` known-flow packets timed; ns per packet. */
static double
known_flows_trial(uint32_t nflows, uint64_t packets, uint64_t *classified)
{
	struct worker_params wp = {
		.flow_capacity = known_flows_capacity(nflows),
		.ipv6_capacity = 64,
		.meta_capacity = 1024,
		.dpi_states = 65536,
		.timeout_ms = {300000, 3600000, 3600000, 3600000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.on_packet = count_out,
		.on_record = count_record,
	};
	struct worker *w = worker_create(&wp);
	static uint8_t hot[BURST][FRAME_MAX];
	struct worker_pkt burst[BURST];
	uint64_t t_us = 1700000000ull * 1000000, rng = 88172645463325252ull, done;
	struct worker_stats st;
	double spent = 0;
	uint32_t i, k;

	if (w == NULL) {
		perror("worker_bench: worker_create");
		exit(1);
	}
	for (i = 0; i < nflows;) { /* setup: query, answer */
		for (k = 0; k < BURST && i < nflows; k += 2, i++) {
			burst[k].len = burst[k].wire_len = dns_frame(hot[k], i, false);
			burst[k + 1].len = burst[k + 1].wire_len = dns_frame(hot[k + 1], i, true);
			burst[k].data = hot[k], burst[k + 1].data = hot[k + 1];
			burst[k].time_us = burst[k + 1].time_us = t_us + i / 100;
			burst[k].opaque = burst[k + 1].opaque = NULL;
			burst[k].port = burst[k + 1].port = 0;
			burst[k].flags = burst[k + 1].flags = 0;
		}
		worker_process(w, burst, (uint16_t)k);
	}
	t_us += nflows / 100 + 1000;
	for (done = 0; done < packets; done += k) {
		double t0;

		for (k = 0; k < BURST && done + k < packets; k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
			burst[k].len = burst[k].wire_len = dns_frame(hot[k], (uint32_t)(rng % nflows), false);
			burst[k].data = hot[k];
			burst[k].time_us = t_us + done + k;
			burst[k].opaque = NULL;
			burst[k].port = 0;
			burst[k].flags = 0;
		}
		t0 = now_ns();
		worker_process(w, burst, (uint16_t)k);
		spent += now_ns() - t0;
	}
	worker_get_stats(w, &st);
	*classified = st.flows_detected;
	worker_destroy(w);
	return spent / (double)packets;
}

/*
 * The least any flow classifier pays for a packet of a known flow: one read and one write of
 * the flow's 64-byte line, at a random place in memory as large as the flow table's entries
 * (allocated as flow_table.c does: 2 MiB-aligned, transparent huge pages advised), the same
 * random flows as the trial, 32 at a time, all 32 prefetched before the first is touched.
 * No hashing, no index, no packet: what the machine's memory costs alone. ns per packet.
 */
static double
memory_floor_trial(uint32_t nflows, uint32_t capacity, uint64_t packets)
{
	size_t huge = 2u << 20, size = ((size_t)capacity * 64 + huge - 1) & ~(huge - 1);
	uint64_t rng = 88172645463325252ull, done, sum = 0;
	uint64_t *lines = aligned_alloc(huge, size);
	double spent = 0;
	uint32_t k, idx[BURST];

	if (lines == NULL) {
		perror("worker_bench: memory floor");
		exit(1);
	}
	(void)madvise(lines, size, MADV_HUGEPAGE);
	memset(lines, 0, size);
	for (done = 0; done < packets; done += k) {
		double t0;

		for (k = 0; k < BURST && done + k < packets; k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			idx[k] = (uint32_t)(rng % nflows);
		}
		t0 = now_ns();
		for (uint32_t j = 0; j < k; j++)
			__builtin_prefetch(&lines[(size_t)idx[j] * 8]);
		for (uint32_t j = 0; j < k; j++)
			sum += ++lines[(size_t)idx[j] * 8];
		spent += now_ns() - t0;
	}
	free(lines);
	if (sum == 0)
		abort(); /* keeps the loads: every line was counted at least once */
	return spent / (double)packets;
}

static int
known_flows(uint32_t nflows, uint64_t packets, unsigned int trials)
{
	double *t = calloc(trials, sizeof(*t)), floor = 0;
	uint64_t classified = 0;
	unsigned int i;

	if (t == NULL)
		return 1;
	for (i = 0; i < trials; i++) {
		double f;

		t[i] = known_flows_trial(nflows, packets, &classified);
		f = memory_floor_trial(nflows, known_flows_capacity(nflows), packets);
		floor = i == 0 || f < floor ? f : floor;
	}
	qsort(t, trials, sizeof(*t), cmp_double);
	printf("worker_bench: %u known flows, %llu packets of them: worker %.1f ns/packet (best of "
	       "%u; median %.1f), one random line alone %.1f ns/packet; %llu flows classified\n",
	       nflows, (unsigned long long)packets, t[0], trials, t[trials / 2], floor,
	       (unsigned long long)classified);
	free(t);
	return classified == nflows ? 0 : 1;
}

int
main(int argc, char **argv)
{
	unsigned int passes = 20, trials = 5, i;
	unsigned long long nflows = 0, packets = 4000000;
	const char *path = NULL;
	struct capture c;
	double *t, p, no_dpi;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (strcmp(argv[i], "--passes") == 0 && i + 1 < (unsigned int)argc)
			passes = (unsigned int)atoi(argv[++i]);
		else if (strcmp(argv[i], "--trials") == 0 && i + 1 < (unsigned int)argc)
			trials = (unsigned int)atoi(argv[++i]);
		else if (strcmp(argv[i], "--known-flows") == 0 && i + 1 < (unsigned int)argc)
			nflows = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--packets") == 0 && i + 1 < (unsigned int)argc)
			packets = strtoull(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			path = NULL, i = (unsigned int)argc;
	}
	if (nflows > 0 && path == NULL && trials > 0 && packets > 0 && nflows <= 1u << 26)
		return known_flows((uint32_t)nflows, packets, trials);
	if (path == NULL || passes == 0 || trials == 0) {
		fprintf(stderr, "usage: worker_bench FILE.pcap [--passes N] [--trials N]\n"
				"       worker_bench --known-flows N [--packets M] [--trials N]\n");
		return 2;
	}
	if (load(path, &c) != 0)
		return 1;
	t = calloc(trials, sizeof(*t));
	if (t == NULL)
		return 1;
	/* The three measures alternate, so a machine whose speed drifts moves them alike. */
	p = no_dpi = 1e300;
	for (i = 0; i < trials; i++) {
		double q, r;

		t[i] = trial(&c, passes, 32768);
		q = parse_only(&c, passes);
		p = q < p ? q : p;
		r = trial(&c, passes, 1);
		no_dpi = r < no_dpi ? r : no_dpi;
	}
	qsort(t, trials, sizeof(*t), cmp_double);
	printf("worker_bench: %zu packets x %u passes: worker %.1f ns/packet (best of %u; median "
	       "%.1f), parse+key+hash alone %.1f ns/packet, worker without nDPI %.1f ns/packet; "
	       "%llu packets out\n",
	       c.n, passes, t[0], trials, t[trials / 2], p, no_dpi,
	       (unsigned long long)packets_out);
	for (i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.len);
	free(c.time_us);
	free(t);
	return 0;
}
