#!/usr/bin/env bash
# Makes a private set of secrets for docker-compose: an Ed25519 key pair for access tokens
# (PKCS#8 private key, SPKI public key, PEM), a service token and one password per database,
# written to deploy/local/ (git-ignored) with an env file that points compose at them:
#
#   bash deploy/gen-dev-keys.sh
#   docker compose --env-file deploy/local/.env up --build
#
# Without this, compose uses the committed DEV-ONLY set in deploy/dev-keys/, which is public.
# Usage: gen-dev-keys.sh [--force] [DIR]. --force replaces an existing set (sessions signed with
# the old key end).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
out="${1:-$root/deploy/local}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [ -e "$out/.env" ] && ! $force; then
    echo "$out/.env exists; pass --force to replace it" >&2
    exit 1
fi
command -v openssl >/dev/null || { echo "openssl is needed (apt-get install -y openssl)" >&2; exit 1; }

umask 077
mkdir -p "$out"
chmod 700 "$out"
openssl genpkey -algorithm ed25519 -out "$out/jwt-private.pem"
openssl pkey -in "$out/jwt-private.pem" -pubout -out "$out/jwt-public.pem"
# Compose bind-mounts secret files as they are (it cannot change owner or mode outside Swarm), and
# the containers run as uid 65532: the files must be world-readable. The 0700 directory keeps
# other users of this machine out.
chmod 644 "$out/jwt-private.pem" "$out/jwt-public.pem"

secret() { openssl rand -hex 32; }
cat > "$out/.env" <<ENV
# Made by deploy/gen-dev-keys.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it out of git.
CAMPUS_SECRETS_DIR=$out
CAMPUS_SERVICE_TOKEN=$(secret)
ACCOUNT_DB_PASSWORD=$(secret)
BOARD_DB_PASSWORD=$(secret)
MESSAGING_DB_PASSWORD=$(secret)
TIMETABLE_DB_PASSWORD=$(secret)
GATEWAY_DB_PASSWORD=$(secret)
POSTGRES_PASSWORD=$(secret)
ENV
echo "wrote $out/{jwt-private.pem,jwt-public.pem,.env}"
echo "use it with: docker compose --env-file ${out#"$root"/}/.env up --build"
echo "(database passwords take effect on a new postgres volume: docker compose down -v first)"
