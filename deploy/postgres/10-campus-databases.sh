#!/usr/bin/env bash
# Creates one role and one database per campus service (and one for the gateway's idempotency
# records), each database owned by its role, so a service can reach only its own tables
# (DESIGN §1: a service owns its tables).
#
# The postgres image runs this once, on an empty data directory, from /docker-entrypoint-initdb.d.
# Passwords come from the environment: <SERVICE>_DB_PASSWORD (e.g. BOARD_DB_PASSWORD).
# CAMPUS_DATABASES overrides the list (tests use it to create throwaway names).
set -euo pipefail

databases="${CAMPUS_DATABASES:-account board messaging timetable gateway}"

for name in $databases; do
    var="$(printf '%s' "$name" | tr '[:lower:]-' '[:upper:]_')_DB_PASSWORD"
    password="${!var:-}"
    if [ -z "$password" ]; then
        echo "10-campus-databases: $var is not set" >&2
        exit 1
    fi
    # psql's :'var' and :"var" quote the values, so a password with quotes cannot break out.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
        --dbname "${POSTGRES_DB:-postgres}" \
        -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'name', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
    echo "10-campus-databases: database and role \"$name\" ready"
done
