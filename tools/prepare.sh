#!/usr/bin/env bash
# Everything a build needs that a fresh Debian bookworm machine lacks: Debian packages
# (tools/setup-host.sh), the static libzmq (tools/build-libzmq.sh) and the static client-only
# Mbed TLS (tools/build-mbedtls.sh), both for the host. Quiet unless it works.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--verbose" ]; then
  tools/setup-host.sh
  tools/build-libzmq.sh
  tools/build-mbedtls.sh
else
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  { tools/setup-host.sh && tools/build-libzmq.sh && tools/build-mbedtls.sh; } >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
