#!/usr/bin/env bash
# Prepares deploy/nats/dev/ (gitignored) for deploy/nats/nats-server.conf: a system-account user
# for the security service's audit, the security service's own key, and the first users file.
# Prints the environment to start the security service with. Run from the repository root.
set -euo pipefail
dev=deploy/nats/dev
mkdir -p "$dev"
[[ -e deploy/tls/dev/ca.pem ]] || { echo "run npm run dev:certs first" >&2; exit 1; }
key() { [[ -e "$dev/$1.nk" ]] || npm run -s security -- keygen --out "$dev/$1.nk" >/dev/null; node -e "console.log(require('@nats-io/nkeys').fromSeed(Buffer.from(require('fs').readFileSync('$dev/$1.nk','utf8').trim())).getPublicKey())"; }
sys=$(key sys)
key security >/dev/null
umask 077
echo "users = [ { nkey: \"$sys\" } ]" > "$dev/sys-users.conf"
# The first users file holds the security service's own key; the service rewrites it at start.
[[ -e "$dev/weai-users.conf" ]] || echo "users = [ { nkey: \"$(key security)\" } ]" > "$dev/weai-users.conf"
cat <<ENV
export NATS_URL=tls://127.0.0.1:4443 NATS_TLS_CA=deploy/tls/dev/ca.pem
export NATS_NKEY_SEED_FILE=$dev/security.nk NATS_INBOX_PREFIX=_INBOX.security
export SECURITY_NATS_USERS_FILE=$dev/weai-users.conf SECURITY_NATS_PID_FILE=$dev/nats.pid
export SECURITY_NATS_LOG_FILE=$dev/nats.log SECURITY_SYS_NKEY_SEED_FILE=$dev/sys.nk
ENV
