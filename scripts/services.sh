#!/usr/bin/env bash
# A throwaway PostgreSQL and Redis on 127.0.0.1 for the control-plane tests, from Debian's packages
# (postgresql, redis-server; installed when missing). Everything lives in one fresh `mktemp -d`
# outside the work tree, on free ports, so a run never touches a system cluster or another run.
#
#   source scripts/services.sh      # starts both and exports, for the tests:
#     VARIO_TEST_POSTGRES_URL   postgres://postgres@127.0.0.1:PORT/vario_test  (trust auth)
#     VARIO_TEST_REDIS_URL      redis://127.0.0.1:PORT/
#     VARIO_TEST_REDIS_PORT, VARIO_TEST_REDIS_SERVER, VARIO_TEST_REDIS_DIR
#                               so a test can kill Redis and start it again on the same port
#   vario_services_stop             # stops both and removes the temp dir; the caller calls it,
#                                   # or sets VARIO_SERVICES_TRAP=1 before sourcing to have it
#                                   # run on EXIT
#   bash scripts/services.sh --check   # start, show both servers answering, stop
#
# Sourced, this file leaves the caller's shell options alone and never exits the caller: a failure
# prints the server's log, cleans up and makes `source` return non-zero (fatal under set -e). The
# functions below check every step explicitly rather than relying on errexit, because bash turns
# errexit off inside a function called on the left of `||`, which is how this file calls them.
# Helpers are prefixed _vario_svc_ and state lives in unexported _vario_svc_* variables, so a
# child shell that sources the file again gets servers of its own.

_vario_svc_say() { printf 'services: %s\n' "$*" >&2; }

# Print a message and the named logs, stop whatever already started, and return 1.
_vario_svc_fail() {
  local msg=$1 log
  shift
  _vario_svc_say "$msg"
  for log in "$@"; do
    if [ -s "$log" ]; then
      printf -- '--- %s\n' "$log" >&2
      cat -- "$log" >&2
      printf -- '---\n' >&2
    fi
  done
  vario_services_stop
  return 1
}

_vario_svc_is_root() { [ "$(id -u)" -eq 0 ]; }

# Whether the Redis we started is still running. Not `kill -0`: the server is started detached
# (see _vario_svc_start_redis), so once it exits it stays a zombie until init reaps it, which some
# container inits do late or never, and a zombie answers kill -0; the name check keeps a reused pid
# from being taken for it. Reads /proc rather than ps (procps is not in minimal images).
_vario_svc_redis_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  case "$stat" in
    *"(redis-server) "[!Z]*) return 0 ;; # pid (comm) state ...
    *) return 1 ;;
  esac
}

# Highest PostgreSQL under /usr/lib/postgresql/<version>/bin (Debian's layout; several versions can
# be installed side by side). Not PATH: /usr/bin/psql is postgresql-common's version-picking
# wrapper and /usr/local may hold other copies, while initdb and pg_ctl are only here.
_vario_svc_pg_bindir() {
  local d best=''
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && [ -x "$d/psql" ] || continue
    best+="$d"$'\n'
  done
  [ -n "$best" ] || return 1
  printf '%s' "$best" | sort -V | tail -n 1
}

_vario_svc_have_redis() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }

# apt-get install, quietly (output to $log, shown only on failure). The index is refreshed only
# when the install fails without it: on a machine with a recent index that saves the download.
_vario_svc_apt_install() {
  local log=$1
  shift
  local -a sudo=()
  if ! _vario_svc_is_root; then
    command -v sudo >/dev/null || {
      _vario_svc_say "missing Debian packages: $* (not root and no sudo: apt-get install -y $*)"
      return 1
    }
    sudo=(sudo)
  fi
  local -a install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 "$@")
  _vario_svc_say "installing $* (log: $log)"
  "${install[@]}" >>"$log" 2>&1 && return 0
  "${sudo[@]}" apt-get update >>"$log" 2>&1 && "${install[@]}" >>"$log" 2>&1 && return 0
  _vario_svc_say "apt-get install $* failed:"
  cat -- "$log" >&2
  return 1
}

# Two distinct free TCP ports on 127.0.0.1. Both sockets are bound at once so the kernel cannot
# hand out the same port twice; another process can still take one before the server binds it,
# which the server's own start-up then reports. Without a working python3 (pyenv shims can fail),
# random high ports that refuse a connection.
_vario_svc_free_ports() {
  local ports p
  if ports=$(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
' 2>/dev/null) && [ -n "$ports" ]; then
    printf '%s\n' "$ports"
    return 0
  fi
  ports=''
  while [ "$(wc -w <<<"$ports")" -lt 2 ]; do
    p=$((20000 + RANDOM % 40000))
    case " $ports " in *" $p "*) continue ;; esac
    # A refused connection means nothing listens there.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ports+="$p "; fi
  done
  printf '%s\n' "${ports% }"
}

# Run a PostgreSQL server program as the data dir's owner. initdb and postgres refuse to run as
# root, so as root they run as the `postgres` system user the Debian package creates. cd first:
# from root's cwd (e.g. /root, mode 0700) they would warn that they cannot change back to it.
_vario_svc_as_pg() {
  if _vario_svc_is_root; then
    if command -v runuser >/dev/null; then
      (cd "$_vario_svc_dir" && runuser -u postgres -- "$@")
    else
      local cmd
      printf -v cmd '%q ' "$@"
      (cd "$_vario_svc_dir" && su postgres -s /bin/sh -c "$cmd")
    fi
  else
    (cd "$_vario_svc_dir" && "$@")
  fi
}

# Stop both servers and remove the temp dir. Safe to call more than once, after a partial start,
# and after a test restarted Redis on our port (hence the shutdown via the port as well as the
# kill of the pid we started).
vario_services_stop() {
  local dir=${_vario_svc_dir:-} i
  [ -n "$dir" ] || return 0
  if [ -n "${_vario_svc_pg_bin:-}" ] && [ -f "$dir/pg/postmaster.pid" ]; then
    _vario_svc_as_pg "$_vario_svc_pg_bin/pg_ctl" -D "$dir/pg" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || _vario_svc_say "pg_ctl stop failed (data dir $dir/pg)"
  fi
  if [ -n "${_vario_svc_redis_pid:-}" ]; then
    if _vario_svc_redis_alive "$_vario_svc_redis_pid"; then kill "$_vario_svc_redis_pid" 2>/dev/null || true; fi
    for ((i = 0; i < 50; i++)); do
      _vario_svc_redis_alive "$_vario_svc_redis_pid" || break
      sleep 0.1
    done
    if _vario_svc_redis_alive "$_vario_svc_redis_pid"; then kill -KILL "$_vario_svc_redis_pid" 2>/dev/null || true; fi
  fi
  if [ -n "${_vario_svc_redis_port:-}" ] && command -v redis-cli >/dev/null; then
    timeout 5 redis-cli -h 127.0.0.1 -p "$_vario_svc_redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
  rm -rf -- "$dir"
  unset _vario_svc_dir _vario_svc_pg_bin _vario_svc_pg_port _vario_svc_redis_pid _vario_svc_redis_port
  unset VARIO_TEST_POSTGRES_URL VARIO_TEST_REDIS_URL VARIO_TEST_REDIS_PORT VARIO_TEST_REDIS_SERVER \
    VARIO_TEST_REDIS_DIR
  return 0
}

_vario_svc_start_postgres() {
  local dir=$_vario_svc_dir port=$1 bin=$_vario_svc_pg_bin i
  local log=$dir/postgres.log
  mkdir -m 0700 "$dir/pg" && mkdir -m 0755 "$dir/pg-sock" && : >"$log" \
    || { _vario_svc_fail "cannot create the PostgreSQL dirs in $dir"; return 1; }
  if _vario_svc_is_root; then
    getent passwd postgres >/dev/null \
      || { _vario_svc_fail "running as root and there is no postgres user to run PostgreSQL as"; return 1; }
    chown postgres: "$dir/pg" "$dir/pg-sock" "$log" \
      || { _vario_svc_fail "cannot chown the PostgreSQL dirs to postgres"; return 1; }
  fi
  # Superuser `postgres`, trust auth for every local and host connection (a loopback-only test
  # server), no locale so collation does not depend on the machine's, no fsync of the new files.
  _vario_svc_as_pg "$bin/initdb" -D "$dir/pg" -U postgres --auth=trust --no-locale -E UTF8 --no-sync \
    >>"$log" 2>&1 || { _vario_svc_fail "initdb failed" "$log"; return 1; }
  # In postgresql.conf rather than `pg_ctl -o`: no shell quoting of paths, and a `pg_ctl restart`
  # keeps them. Loopback only, our socket dir (not /var/run/postgresql), durability off: the data
  # is thrown away anyway.
  cat >>"$dir/pg/postgresql.conf" <<EOF || { _vario_svc_fail "cannot write postgresql.conf"; return 1; }

# scripts/services.sh: throwaway test server
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/pg-sock'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  # -w -t 30: pg_ctl waits until the server accepts connections, or fails after 30 s.
  _vario_svc_as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$log" -w -t 30 start >/dev/null 2>&1 \
    || { _vario_svc_fail "PostgreSQL did not start on 127.0.0.1:$port" "$log"; return 1; }
  # Ready over TCP as the tests will connect (pg_ctl may have checked the socket only).
  for ((i = 0; ; i++)); do
    PGCONNECT_TIMEOUT=2 "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc 'select 1' \
      >/dev/null 2>&1 && break
    [ "$i" -lt 300 ] || { _vario_svc_fail "PostgreSQL not answering on 127.0.0.1:$port after 30 s" "$log"; return 1; }
    sleep 0.1
  done
  "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c 'create database vario_test' >>"$log" 2>&1 \
    || { _vario_svc_fail "create database vario_test failed" "$log"; return 1; }
  _vario_svc_pg_port=$port
}

_vario_svc_start_redis() {
  local dir=$_vario_svc_dir port=$1 server i
  local log=$dir/redis.log
  server=$(command -v redis-server) || { _vario_svc_fail "redis-server not found"; return 1; }
  # Started from a subshell, so the server is not a job of the caller's shell: a bare `wait` in
  # the caller does not block on it, and killing it prints no job notice. Its output goes to the
  # log so the command substitution returns at once. No RDB, no AOF: nothing to recover but what
  # a test wrote since the last start.
  _vario_svc_redis_pid=$(
    cd "$dir" || exit 1
    "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      --dir "$dir" --logfile "$log" </dev/null >>"$log" 2>&1 &
    echo $!
  ) || { _vario_svc_fail "cannot start redis-server"; return 1; }
  _vario_svc_redis_port=$port
  for ((i = 0; ; i++)); do
    # timeout: redis-cli (7.0) has no connect timeout and would wait forever on a port that
    # something else took and accepts on without answering.
    [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
    _vario_svc_redis_alive "$_vario_svc_redis_pid" \
      || { _vario_svc_fail "redis-server exited on start (port $port)" "$log"; return 1; }
    [ "$i" -lt 300 ] || { _vario_svc_fail "Redis not answering PING on 127.0.0.1:$port after 30 s" "$log"; return 1; }
    sleep 0.1
  done
  export VARIO_TEST_REDIS_URL="redis://127.0.0.1:$port/"
  export VARIO_TEST_REDIS_PORT=$port
  export VARIO_TEST_REDIS_SERVER=$server
  export VARIO_TEST_REDIS_DIR=$dir
}

vario_services_start() {
  if [ -n "${_vario_svc_dir:-}" ] && [ -d "$_vario_svc_dir" ]; then
    return 0 # already running in this shell (the file was sourced twice)
  fi
  local -a pkgs=() ports
  _vario_svc_dir=$(mktemp -d "${TMPDIR:-/tmp}/vario-services.XXXXXX") \
    || { _vario_svc_say "mktemp -d failed"; return 1; }
  # Traversable by the postgres user when we are root (it owns only its own subdirs).
  chmod 0755 "$_vario_svc_dir" || { _vario_svc_fail "chmod $_vario_svc_dir failed"; return 1; }

  _vario_svc_pg_bindir >/dev/null || pkgs+=(postgresql)
  _vario_svc_have_redis || pkgs+=(redis-server)
  if [ "${#pkgs[@]}" -gt 0 ]; then
    _vario_svc_apt_install "$_vario_svc_dir/apt.log" "${pkgs[@]}" || { vario_services_stop; return 1; }
  fi
  _vario_svc_pg_bin=$(_vario_svc_pg_bindir) \
    || { _vario_svc_fail "no PostgreSQL under /usr/lib/postgresql/*/bin after installing postgresql"; return 1; }
  _vario_svc_have_redis || { _vario_svc_fail "no redis-server/redis-cli after installing redis-server"; return 1; }

  read -r -a ports <<<"$(_vario_svc_free_ports)"
  [ "${#ports[@]}" -eq 2 ] || { _vario_svc_fail "could not find two free ports"; return 1; }
  _vario_svc_start_postgres "${ports[0]}" || return 1
  _vario_svc_start_redis "${ports[1]}" || return 1
  export VARIO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:${ports[0]}/vario_test"

  if [ "${VARIO_SERVICES_TRAP:-0}" = 1 ]; then
    # Keep an EXIT trap the caller already had: run ours first, then theirs.
    local prev
    prev=$(trap -p EXIT)
    if [ -n "$prev" ]; then
      eval "local -a prev_words=($prev)" # trap -- 'command' EXIT
      trap "vario_services_stop; ${prev_words[2]}" EXIT
    else
      trap vario_services_stop EXIT
    fi
  fi
}

# Executed rather than sourced: only --check (a self-test of this file and of the machine).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    --check) ;;
    *)
      echo "usage: bash $0 --check   (or: source $0 to start the servers for tests)" >&2
      exit 2
      ;;
  esac
  # INT/TERM end the script through exit, so the EXIT trap stops the servers.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  VARIO_SERVICES_TRAP=1 vario_services_start || exit 1
  echo "VARIO_TEST_POSTGRES_URL=$VARIO_TEST_POSTGRES_URL"
  echo "VARIO_TEST_REDIS_URL=$VARIO_TEST_REDIS_URL"
  echo "VARIO_TEST_REDIS_PORT=$VARIO_TEST_REDIS_PORT"
  echo "VARIO_TEST_REDIS_SERVER=$VARIO_TEST_REDIS_SERVER"
  echo "VARIO_TEST_REDIS_DIR=$VARIO_TEST_REDIS_DIR"
  "$_vario_svc_pg_bin/psql" -X "$VARIO_TEST_POSTGRES_URL" -tA -v ON_ERROR_STOP=1 -c 'select version()'
  # Captured first: `redis-cli | head` could die of SIGPIPE, which pipefail would report.
  info=$(timeout 10 redis-cli -h 127.0.0.1 -p "$VARIO_TEST_REDIS_PORT" info server)
  printf '%s\n' "${info//$'\r'/}" | head -n 3
  vario_services_stop
  trap - EXIT
  echo "services: ok (both stopped, temp dir removed)"
  exit 0
fi

vario_services_start || return
