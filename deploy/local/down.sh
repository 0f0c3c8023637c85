#!/usr/bin/env bash
# Stops what deploy/local/up.sh started (the PostgreSQL cluster keeps its data).
set -uo pipefail
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
cd "$(dirname "$0")/../.."
for svc in voc-notify webhook-sink voc-track voc-outreach voc-aggregate voc-ingest voc-bus; do
  [ -f run/$svc.pid ] || continue
  pid=$(cat run/$svc.pid)
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [ "${1:-}" = --quiet ] || echo "stopped $svc"
  fi
  rm -f run/$svc.pid
done
if [ "${1:-}" != --quiet ]; then
  pg_ctlcluster 15 vocloop stop 2>/dev/null && echo "stopped postgres 15/vocloop"
fi
exit 0
