/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* IEEE 802.1Q tag: TPID 0x8100, then PCP(3) | DEI(1) | VID(12). */
#ifndef FLOWTAG_VLAN_H
#define FLOWTAG_VLAN_H

#define VLAN_TPID 0x8100
#define VLAN_TPID_QINQ 0x88a8 /* 802.1ad */
#define VLAN_TAG_LEN 4
#define VLAN_MAX_VID 4094
#define ETH_HDR_LEN 14
#define ETH_ADDRS_LEN 12

#endif
