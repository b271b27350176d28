#!/bin/bash
# flowtag's container entrypoint.
#
#   run                 flowtag run on $FLOWTAG_CONFIG, with the overrides below
#   health              exit 0 when the API answers /v1/health (the image's HEALTHCHECK)
#   check | replay | sf | version | help ...   the flowtag command of that name, as given
#
# Overrides (environment), applied over the config file:
#   FLOWTAG_SOCKET       vhost-user socket path: one virtio-user port in server mode there
#   FLOWTAG_LCORES       EAL lcores ("0,1": the control lcore, then the worker)
#   FLOWTAG_MEMORY_MB    DPDK memory
#   FLOWTAG_FILE_PREFIX  unique per instance on a host (default: the container's hostname)
#   FLOWTAG_API          API listen address ("" = none; default 127.0.0.1:8080)
#   FLOWTAG_RECORDS      flow records file (e.g. /var/log/flowtag/flows.jsonl)
#   FLOWTAG_TOKEN_FILE   the API's bearer token (default /run/flowtag/api.token: made at start,
#                        0600, when missing; mount a secret there to provide your own)
set -euo pipefail

cfg=${FLOWTAG_CONFIG:-/etc/flowtag/flowtag.yaml}

health() {
	local hostport=${FLOWTAG_API:-127.0.0.1:8080} host port reply
	host=${hostport%:*}
	port=${hostport##*:}
	exec 3<>"/dev/tcp/$host/$port" || return 1
	printf 'GET /v1/health HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
	IFS= read -r -t 3 reply <&3 || return 1
	[[ "$reply" == *" 200 "* ]]
}

effective_config() {
	# The config loader reads sections in order and a later one overrides what it names,
	# so the overrides are appended as sections of their own.
	local out=/tmp/flowtag-effective.yaml
	cat "$cfg" > "$out"
	{
		echo
		echo "# -- container overrides --"
		echo "eal:"
		echo "  file_prefix: \"${FLOWTAG_FILE_PREFIX:-flowtag-$(hostname)}\""
		[ -n "${FLOWTAG_LCORES:-}" ] && echo "  lcores: \"$FLOWTAG_LCORES\""
		[ -n "${FLOWTAG_MEMORY_MB:-}" ] && echo "  memory_mb: $FLOWTAG_MEMORY_MB"
		if [ -n "${FLOWTAG_SOCKET:-}" ]; then
			echo "ports:"
			echo "  - name: vnf0"
			echo "    vdev: \"net_virtio_user0,path=$FLOWTAG_SOCKET,server=1,queues=1,queue_size=1024\""
		fi
		echo "api:"
		echo "  listen: \"${FLOWTAG_API-127.0.0.1:8080}\""
		echo "  token_file: \"${FLOWTAG_TOKEN_FILE:-/run/flowtag/api.token}\""
		[ -n "${FLOWTAG_RECORDS:-}" ] && { echo "records:"; echo "  path: \"$FLOWTAG_RECORDS\""; }
	} >> "$out"
	echo "$out"
}

cmd=${1:-run}
case "$cmd" in
run)
	shift || true
	conf=$(effective_config)
	flowtag check -c "$conf" >&2
	exec flowtag run -c "$conf" "$@"
	;;
health)
	health
	;;
*)
	exec flowtag "$@"
	;;
esac
