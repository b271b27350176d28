/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "sf.h"

#include "mpls.h"
#include "nsh.h"
#include "wire.h"

static void
count_spi(struct sf_counters *c, uint32_t spi)
{
	uint32_t i;

	for (i = 0; i < c->n_spi; i++) {
		if (c->spi[i] == spi) {
			c->spi_packets[i]++;
			return;
		}
	}
	if (c->n_spi < SF_MAX_SPIS) {
		c->spi[c->n_spi] = spi;
		c->spi_packets[c->n_spi++] = 1;
	}
}

bool
sf_handle(uint8_t *f, uint32_t len, struct sf_counters *c)
{
	struct wire_l2 l2;
	uint32_t off;
	uint16_t type;

	c->packets++;
	if (wire_walk_l2(f, len, &l2) != WIRE_OK) {
		c->other++;
		return true;
	}
	type = l2.ethertype;
	off = l2.payload_off;
	if (type == NSH_ETHERTYPE && off + NSH_BASE_LEN <= len) {
		uint8_t *si = f + off + 7;

		c->nsh++;
		count_spi(c, (uint32_t)f[off + 4] << 16 | (uint32_t)f[off + 5] << 8 | f[off + 6]);
		if (*si <= 1) {
			c->si_expired++;
			return false;
		}
		(*si)--;
		return true;
	}
	if (type == MPLS_ETHERTYPE && off + MPLS_LSE_LEN <= len) {
		uint8_t *lse = f + off;
		uint32_t v = (uint32_t)lse[0] << 24 | (uint32_t)lse[1] << 16 | (uint32_t)lse[2] << 8 | lse[3];
		uint32_t label = v >> 12, si = label & 0xff, ttl = v & 0xff;

		c->mpls++;
		count_spi(c, label >> 8);
		if (si <= 1 || ttl <= 1) {
			c->si_expired++;
			return false;
		}
		label = (label & ~0xffu) | (si - 1);
		v = label << 12 | (v & 0xf00) | (ttl - 1);
		lse[0] = (uint8_t)(v >> 24);
		lse[1] = (uint8_t)(v >> 16);
		lse[2] = (uint8_t)(v >> 8);
		lse[3] = (uint8_t)v;
		return true;
	}
	c->other++;
	return true;
}
