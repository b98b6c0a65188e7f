#!/bin/sh
# aex-healthcheck [PATH]: GET http://127.0.0.1:<service port>PATH (default /health); exit 0 on 2xx.
set -eu
port=${AEX_BIND:-}
port=${port##*:}
[ -n "$port" ] || port=$(cat /etc/aex-port)
exec curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${port}${1:-/health}"
