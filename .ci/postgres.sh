# shellcheck shell=bash
# PostgreSQL for the @mobilepay-auth/sql tests. Meant to be sourced (`. .ci/postgres.sh`)
# so that it can export MOBILEPAY_TEST_PG_URL into the caller's shell; running it as a
# script also works (it then prints the export line). Idempotent: installs Debian's
# postgresql only when missing, creates/starts the cluster only when needed, creates the
# database only when absent. Listens on loopback only, trust authentication for loopback.
#
# Knobs: MOBILEPAY_PG_PORT (default 5432), MOBILEPAY_PG_DB (default mobilepay_test).

_mobilepay_pg_setup() {
  port="${MOBILEPAY_PG_PORT:-5432}"
  db="${MOBILEPAY_PG_DB:-mobilepay_test}"
  sudo_=""
  if [ "$(id -u)" != "0" ]; then sudo_="sudo"; fi
  log() { echo "[postgres.sh] $*" >&2; }

  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing postgresql from Debian packages"
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi

  version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  cluster="main"
  conf_dir="/etc/postgresql/${version}/${cluster}"
  if [ ! -f "${conf_dir}/postgresql.conf" ]; then
    log "creating cluster ${version}/${cluster}"
    $sudo_ pg_createcluster --port "${port}" "${version}" "${cluster}" >/dev/null
  fi

  # Loopback only, on the expected port (a conf.d file overrides postgresql.conf); trust
  # for loopback TCP: a disposable test cluster.
  changed=0
  conf_file="${conf_dir}/conf.d/mobilepay-test.conf"
  wanted="$(printf "listen_addresses = '127.0.0.1'\nport = %s\n" "${port}")"
  if [ "$($sudo_ cat "${conf_file}" 2>/dev/null || true)" != "${wanted}" ]; then
    $sudo_ mkdir -p "${conf_dir}/conf.d"
    printf '%s\n' "${wanted}" | $sudo_ tee "${conf_file}" >/dev/null
    if ! $sudo_ grep -qE "^include_dir *= *'conf.d'" "${conf_dir}/postgresql.conf"; then
      echo "include_dir = 'conf.d'" | $sudo_ tee -a "${conf_dir}/postgresql.conf" >/dev/null
    fi
    changed=1
  fi
  hba="${conf_dir}/pg_hba.conf"
  marker="# mobilepay-auth test: trust loopback"
  if ! $sudo_ grep -qF "${marker}" "${hba}"; then
    tmp="$(mktemp)"
    {
      echo "${marker}"
      echo "host    all    all    127.0.0.1/32    trust"
      echo "host    all    all    ::1/128         trust"
      $sudo_ cat "${hba}"
    } >"${tmp}"
    $sudo_ cp "${tmp}" "${hba}"
    rm -f "${tmp}"
    changed=1
  fi

  status="$(pg_lsclusters -h "${version}" "${cluster}" | awk '{print $4}')"
  if [ "${status}" = "online" ]; then
    if [ "${changed}" = "1" ]; then
      log "restarting cluster ${version}/${cluster} (configuration changed)"
      $sudo_ pg_ctlcluster "${version}" "${cluster}" restart
    fi
  else
    log "starting cluster ${version}/${cluster} on 127.0.0.1:${port}"
    # A stale pid file from a killed container would stop the start; pg_ctlcluster copes
    # with it when the process is gone.
    $sudo_ pg_ctlcluster "${version}" "${cluster}" start
  fi

  for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "${port}"; then break; fi
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p "${port}" || {
    log "PostgreSQL did not become ready on 127.0.0.1:${port}"
    exit 1
  }

  exists="$(psql -h 127.0.0.1 -p "${port}" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '${db}'")"
  if [ "${exists}" != "1" ]; then
    log "creating database ${db}"
    psql -h 127.0.0.1 -p "${port}" -U postgres -d postgres -qc "CREATE DATABASE \"${db}\"" >/dev/null
  fi
  psql -h 127.0.0.1 -p "${port}" -U postgres -d "${db}" -tAc "SELECT 1" >/dev/null
  log "ready: postgres://postgres@127.0.0.1:${port}/${db}"
}

# A fresh bash runs the setup so that `set -e` really applies (it is ignored inside an
# `if` condition) and the caller's shell options stay untouched.
if bash -c "set -euo pipefail; $(declare -f _mobilepay_pg_setup); _mobilepay_pg_setup"; then
  export MOBILEPAY_TEST_PG_URL="postgres://postgres@127.0.0.1:${MOBILEPAY_PG_PORT:-5432}/${MOBILEPAY_PG_DB:-mobilepay_test}"
  if [ "${BASH_SOURCE[0]}" = "${0}" ]; then echo "export MOBILEPAY_TEST_PG_URL=${MOBILEPAY_TEST_PG_URL}"; fi
  unset -f _mobilepay_pg_setup
else
  unset -f _mobilepay_pg_setup
  echo "[postgres.sh] PostgreSQL setup failed" >&2
  # `return` when sourced, `exit` when run.
  return 1 2>/dev/null || exit 1
fi
