#!/usr/bin/env bash
# Installs the servers the engines' tests start privately (redis-server,
# nats-server) from Debian's packages when a machine lacks them. Quiet and
# quick when they are there. The tests never use a system-wide instance:
# each starts its own on a free port.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "ensure-servers: missing ${missing[*]}; install them with apt-get as root" >&2
		exit 1
	fi
	sudo=(sudo)
fi
echo "ensure-servers: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
