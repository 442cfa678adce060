#!/usr/bin/env bash
# Creates a self-signed development CA and a server certificate for localhost/127.0.0.1, for
# nats-server's `tls {}` block and clients' NATS_TLS_CA. Development and tests only: production
# certificates come from the operator's own CA.
#
#   deploy/tls/gen-dev-certs.sh [out-dir]     (default: deploy/tls/dev, gitignored)
#
# Writes ca.pem, ca-key.pem, server.pem, server-key.pem (keys 0600). Refuses to overwrite an
# existing CA so that certificates already handed out stay valid; delete the folder to start over.
set -euo pipefail
out="${1:-$(dirname "$0")/dev}"
days="${WEAI_DEV_CERT_DAYS:-825}"
command -v openssl >/dev/null || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$out"
if [[ -e "$out/ca.pem" ]]; then
  echo "$out/ca.pem exists; remove $out to create a new CA" >&2
  exit 1
fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -keyout "$out/ca-key.pem" -out "$out/ca.pem" -subj "/CN=WE-AI development CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$out/server-key.pem" -out "$out/server.csr" -subj "/CN=localhost" 2>/dev/null
cat > "$out/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
  -days "$days" -out "$out/server.pem" -extfile "$out/server.ext" 2>/dev/null
rm -f "$out/server.csr" "$out/server.ext" "$out/ca.srl"
chmod 0644 "$out/ca.pem" "$out/server.pem"
chmod 0600 "$out/ca-key.pem" "$out/server-key.pem"
echo "development CA and server certificate written to $out"
