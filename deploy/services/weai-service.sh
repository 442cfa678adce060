#!/bin/sh
# Starts one WE-AI service from the image: weai-service <nodes|scheduler|resources|rewards|gateway|security>
set -eu
service="${1:-}"
case "$service" in
  nodes|scheduler|resources|rewards|gateway|security) ;;
  --version) node -p "require('/opt/weai/package.json').version"; exit 0 ;;
  *) echo "usage: weai-service <nodes|scheduler|resources|rewards|gateway|security>, got '${service}'" >&2; exit 64 ;;
esac
# PostgreSQL URLs carry no password: node-postgres reads PGPASSWORD, taken here from a secret file.
if [ -n "${PGPASSWORD_FILE:-}" ]; then
  if [ ! -r "$PGPASSWORD_FILE" ]; then echo "PGPASSWORD_FILE: cannot read $PGPASSWORD_FILE" >&2; exit 78; fi
  PGPASSWORD="$(cat "$PGPASSWORD_FILE")"
  export PGPASSWORD
fi
cd /opt/weai
exec node -r @swc-node/register "services/$service/src/main.ts"
