#!/bin/sh
# Container entrypoint: listen on every interface on the service's port unless AEX_BIND says
# otherwise, then become the service (exec, so SIGTERM reaches it for a graceful shutdown).
set -eu
: "${AEX_BIND:=0.0.0.0:$(cat /etc/aex-port)}"
export AEX_BIND
exec /usr/local/bin/aex-service "$@"
