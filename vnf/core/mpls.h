/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* MPLS label stack entry, RFC 3032 §2.1: Label(20) | TC(3) | S(1) | TTL(8). */
#ifndef FLOWTAG_MPLS_H
#define FLOWTAG_MPLS_H

#include "wire.h"

#define MPLS_ETHERTYPE ETHERTYPE_MPLS
#define MPLS_LSE_LEN 4
#define MPLS_MAX_LABEL 0xfffff
#define MPLS_BOS 0x100 /* bottom-of-stack bit within the low 12 bits */

/*
 * Service chaining over MPLS as OpenStack networking-sfc encodes it: the label carries the
 * path and the index, label = SPI << 8 | SI, so SPI < 4096; the TTL mirrors the SI.
 */
#define MPLS_SFC_MAX_SPI 0xfff

#endif
