/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Network Service Header, RFC 8300 §2: the wire format, nothing else.
 *
 *   0                   1                   2                   3
 *   |Ver|O|U|    TTL    |   Length  |U|U|U|U|MD Type| Next Protocol |   base header (§2.2)
 *   |          Service Path Identifier (SPI)        | Service Index |   service path (§2.3)
 *   |                 context headers (MD type 1: 4 x 32 bits, §2.4; type 2: TLVs, §2.5)
 */
#ifndef FLOWTAG_NSH_H
#define FLOWTAG_NSH_H

#include <stdint.h>

#include "wire.h"

#define NSH_ETHERTYPE ETHERTYPE_NSH
#define NSH_BASE_LEN 8 /* base header + service path header */
#define NSH_MD1_LEN 24 /* base + 4 fixed context headers */
#define NSH_MD1_LEN_WORDS 6
#define NSH_MD_TYPE_1 0x1
#define NSH_MD_TYPE_2 0x2
#define NSH_NP_IPV4 0x1 /* §9.1.5 Next Protocol registry */
#define NSH_NP_IPV6 0x2
#define NSH_NP_ETHERNET 0x3
#define NSH_DEFAULT_TTL 63 /* §2.2: "the default TTL value is 63" */
#define NSH_SI_CLASSIFIER 255 /* the classifier starts a path at its first index */
#define NSH_MAX_SPI 0xffffff

/* MD type 2 TLV (§2.5.1): class(16) type(8) U(1) length(7, bytes), value padded to 4 bytes. */
#define NSH_TLV_HDR_LEN 4
#define NSH_TLV_MAX_VALUE 127
/* flowtag's TLVs use an experimental MD class (IANA "NSH MD Class": 0xfff6-0xfffe). */
#define NSH_MD_CLASS_FLOWTAG 0xfff6
#define NSH_TLV_APP 1 /* 4 bytes: nDPI master << 16 | app, as C1 of MD type 1 */
#define NSH_TLV_CATEGORY 2 /* 4 bytes: nDPI category id, as C2 */
#define NSH_TLV_FLOW_ID 3 /* 4 bytes, as C3 */
#define NSH_TLV_POLICY_VERSION 4 /* 4 bytes, as C4 */
#define NSH_TLV_HOST 5 /* the flow's host name (SNI, HTTP Host, DNS query), unpadded text */

/* The header's total length in 4-byte words is a 6-bit field: at most 252 bytes. */
#define NSH_MAX_LEN (63 * 4)

#endif
