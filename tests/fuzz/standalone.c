/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Runs a libFuzzer target without libFuzzer (gcc builds, `meson test --suite fuzz`): every
 * seed file given, then FUZZ_RUNS (default 20000) mutations of them with a fixed seed, so a
 * failure reproduces. Coverage-guided fuzzing is the clang build (-Dfuzzer=true).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 64
#define MAX_INPUT 8192

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int
main(int argc, char **argv)
{
	static uint8_t seeds[MAX_SEEDS][MAX_INPUT], buf[MAX_INPUT];
	size_t lens[MAX_SEEDS];
	int nseeds = 0, i;
	long runs = getenv("FUZZ_RUNS") != NULL ? atol(getenv("FUZZ_RUNS")) : 20000;

	for (i = 1; i < argc && nseeds < MAX_SEEDS; i++) {
		FILE *f = fopen(argv[i], "rb");

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		lens[nseeds] = fread(seeds[nseeds], 1, MAX_INPUT, f);
		fclose(f);
		LLVMFuzzerTestOneInput(seeds[nseeds], lens[nseeds]);
		nseeds++;
	}
	if (nseeds == 0) {
		lens[0] = 0;
		nseeds = 1;
	}
	for (long r = 0; r < runs; r++) {
		int s = (int)(next() % (uint64_t)nseeds);
		size_t len = lens[s], k, flips;

		memcpy(buf, seeds[s], len);
		/* Truncate, extend, flip bytes, splice: cheap mutations that find boundary bugs. */
		switch (next() % 4) {
		case 0:
			len = len > 0 ? (size_t)(next() % len) : 0;
			break;
		case 1:
			while (len < MAX_INPUT && next() % 8 != 0)
				buf[len++] = (uint8_t)next();
			break;
		default:
			break;
		}
		flips = 1 + next() % 8;
		for (k = 0; k < flips && len > 0; k++)
			buf[next() % len] = (uint8_t)next();
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("%d seeds, %ld mutations: no crash\n", argc - 1, runs);
	return 0;
}
