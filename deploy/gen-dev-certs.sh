#!/usr/bin/env bash
# Makes a development certificate authority and certificates signed by it (ECDSA P-256, PEM):
#
#   ca.pem, ca-key.pem              the CA; trust ca.pem in a client (curl --cacert, buf curl
#                                   --cacert, CAMPUS_TLS_CA_FILE) instead of skipping verification
#   gateway.pem, gateway-key.pem    the gateway (GATEWAY_TLS_CERT_FILE / GATEWAY_TLS_KEY_FILE) for
#                                   localhost, 127.0.0.1, ::1 and the compose host name "gateway"
#   <service>.pem, <service>-key.pem  account, board, messaging, timetable: service TLS
#                                   (<SERVICE>_TLS_CERT_FILE / <SERVICE>_TLS_KEY_FILE), for the
#                                   service's host name and localhost
#   client.pem, client-key.pem      a client certificate for mTLS (CAMPUS_TLS_CLIENT_CERT_FILE /
#                                   CAMPUS_TLS_CLIENT_KEY_FILE)
#
#   bash deploy/gen-dev-certs.sh            # writes deploy/local/certs (git-ignored)
#   CAMPUS_TLS_DIR=deploy/local/certs docker compose -f docker-compose.yml -f docker-compose.tls.yml up --build
#
# Without this, docker-compose.tls.yml uses the committed DEV-ONLY set in deploy/dev-certs/, whose
# keys are public. Usage: gen-dev-certs.sh [--force] [DIR]. Certificates last 825 days.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
out="${1:-$root/deploy/local/certs}"
if [ -e "$out/ca.pem" ] && ! $force; then
    echo "$out/ca.pem exists; pass --force to replace the set" >&2
    exit 1
fi
command -v openssl >/dev/null || { echo "openssl is needed (apt-get install -y openssl)" >&2; exit 1; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
days=825
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key "$out/ca-key.pem"
openssl req -x509 -new -key "$out/ca-key.pem" -sha256 -days "$days" -subj "/CN=campus development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$out/ca.pem"

# issue NAME EXTENDED_KEY_USAGE [SAN...]
issue() {
    local name="$1" usage="$2"
    shift 2
    local sans=""
    local san
    for san in "$@"; do
        if [[ "$san" =~ ^[0-9.:]+$ ]]; then sans+="IP:$san,"; else sans+="DNS:$san,"; fi
    done
    key "$out/$name-key.pem"
    openssl req -new -key "$out/$name-key.pem" -subj "/CN=$name" -out "$work/$name.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$usage"
        [ -n "$sans" ] && echo "subjectAltName=${sans%,}"
    } >"$work/$name.ext"
    openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
        -CAserial "$work/ca.srl" -days "$days" -sha256 -extfile "$work/$name.ext" -out "$out/$name.pem" 2>/dev/null
}

issue gateway serverAuth localhost gateway 127.0.0.1 ::1
for service in account board messaging timetable; do
    # Services are callers too (messaging and timetable call account and board): client auth as well.
    issue "$service" serverAuth,clientAuth "$service" "$service.campus.svc" localhost 127.0.0.1
done
issue client clientAuth
# Compose bind-mounts secret files as they are and the containers run as uid 65532: readable by
# all. Keep a private set in a private folder.
chmod 644 "$out"/*.pem
echo "wrote $out: ca.pem, gateway.pem, account.pem, board.pem, messaging.pem, timetable.pem, client.pem (+ keys)"
