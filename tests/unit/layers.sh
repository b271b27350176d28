#!/bin/sh
# The layers of vnf/ (see vnf/meson.build): the pure ones (core, policy, config) include no
# DPDK, libevent or OpenFlow-client header; the data path (dp) no libevent; only ctl/ and
# main.c talk to libevent. A violation names the file and the line.
set -u
src=${1:?source root}
bad=0
check() { # dir, pattern, what
	hits=$(grep -nE "^#include [<\"]($2)" "$src/vnf/$1"/*.[ch] 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "FAIL vnf/$1 must not include $3:"; echo "$hits"; bad=1
	else
		echo "ok   vnf/$1 includes no $3"
	fi
}
for d in lib core policy config; do check "$d" 'rte_|event2/|datapath\.h|api\.h|control\.h' 'DPDK, libevent or shell headers'; done
# lib/ is generic: nothing of flowtag's own above it.
check lib 'worker\.h|flow_table\.h|parse\.h|policy\.h|tag\.h|config\.h|dpi\.h' 'flowtag module headers'
# core/ does not know the policy compiler's YAML or the config.
check core 'config\.h|policy_yaml\.h' 'config headers'
check policy 'config\.h' 'config headers'
check dp 'event2/|api\.h|control\.h' 'libevent or control-thread headers'
exit $bad
