#!/usr/bin/env bash
# Everything a build needs that a fresh Debian bookworm machine lacks: Debian packages
# (tools/setup-host.sh) and the static libzmq (tools/build-libzmq.sh). Quiet unless it works.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--verbose" ]; then
  tools/setup-host.sh
  tools/build-libzmq.sh
else
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  { tools/setup-host.sh && tools/build-libzmq.sh; } >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
