#!/usr/bin/env bash
# A throwaway PostgreSQL server for allot's PostgreSQL store (pg/): a fresh
# cluster in a temporary folder, listening on 127.0.0.1 only, on a free port,
# with a random password. Nothing here touches a server someone else runs.
#
#   scripts/pg.sh install             install PostgreSQL from Debian's packages if missing
#   eval "$(scripts/pg.sh start)"     start one; exports ALLOT_PG_URL and ALLOT_PG_DIR
#   scripts/pg.sh stop                stop the one in $ALLOT_PG_DIR and delete its folder
#   scripts/pg.sh restart [MODE]      stop (MODE: fast, the default, or immediate, a crash)
#                                     and start again on the same port with the same data
#   scripts/pg.sh status              is the one in $ALLOT_PG_DIR up?
#   scripts/pg.sh run -- CMD...       start, run CMD with ALLOT_PG_URL/ALLOT_PG_DIR set,
#                                     stop (also on failure or Ctrl-C); exits with CMD's status
#
# stop/restart/status take the folder from ALLOT_PG_DIR, or as a last argument.
# Running as root, the server runs as the unprivileged `postgres` user (created
# with useradd if the Debian package did not create it).
set -euo pipefail


say() { printf '\033[1m[pg]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

pg_bindir() {
  local d
  if [[ -n ${ALLOT_PG_BINDIR:-} ]]; then
    echo "$ALLOT_PG_BINDIR"
    return
  fi
  # The newest server installed from Debian's packages.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
      echo "$d"
      return
    fi
  done
  return 1
}

cmd_install() {
  if pg_bindir >/dev/null; then
    say "PostgreSQL server already installed: $(pg_bindir)"
    return
  fi
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL is missing; install it as root: apt-get install -y postgresql"
  say "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  pg_bindir >/dev/null || die "apt-get installed postgresql but no initdb was found under /usr/lib/postgresql"
}

# As whom the server runs: ourselves, or `postgres` when we are root
# (initdb and postgres refuse to run as root).
server_user() {
  if [[ $(id -u) -ne 0 ]]; then
    id -un
    return
  fi
  if ! id postgres >/dev/null 2>&1; then
    say "creating the unprivileged system user postgres"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  echo postgres
}

as_server() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$(server_user)" -- "$@"
  else
    "$@"
  fi
}

port_free() {
  # Nothing answers on it (bash's /dev/tcp; no extra tool needed).
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if port_free "$p"; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

state_dir() {
  local d=${1:-${ALLOT_PG_DIR:-}}
  [[ -n $d ]] || die "no server folder: set ALLOT_PG_DIR (from 'eval \"\$(scripts/pg.sh start)\"') or pass it"
  [[ -f $d/env ]] || die "$d holds no server started by scripts/pg.sh"
  echo "$d"
}

pg_ctl_() {
  local dir=$1
  shift
  as_server "$(pg_bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"
}

start_server() {
  local dir=$1
  if ! pg_ctl_ "$dir" -w -t 60 start >/dev/null; then
    say "the server did not start; its log:"
    tail -n 30 "$dir/server.log" >&2 || true
    return 1
  fi
}

cmd_start() {
  local bindir user dir port password tries
  bindir=$(pg_bindir) || die "no PostgreSQL server installed: run scripts/pg.sh install (or apt-get install -y postgresql)"
  user=$(server_user)
  # As root the server runs as another user, who must reach the folder:
  # /tmp rather than a TMPDIR that may be private to root.
  local base=${TMPDIR:-/tmp}
  [[ $(id -u) -eq 0 ]] && base=/tmp
  dir=$(mktemp -d "$base/allot-pg.XXXXXX")
  chmod 700 "$dir"
  [[ $(id -u) -eq 0 ]] && chown "$user": "$dir"
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$password" >"$dir/pwfile"
  [[ $(id -u) -eq 0 ]] && chown "$user": "$dir/pwfile"
  as_server "$bindir/initdb" -D "$dir/data" -U allot --pwfile="$dir/pwfile" -A scram-sha-256 \
    -E UTF8 --locale=C --no-instructions >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }
  rm -f "$dir/pwfile"
  for tries in 1 2 3 4 5; do
    port=$(pick_port)
    # Loopback TCP only: no Unix socket, no other interface.
    cat >"$dir/data/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
max_wal_size = 2GB
log_min_messages = warning
log_line_prefix = '%m [%p] %a '
EOF
    if start_server "$dir"; then
      break
    fi
    [[ $tries -eq 5 ]] && { rm -rf "$dir"; die "could not start PostgreSQL"; }
    say "port $port was taken meanwhile; trying another"
  done
  PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U allot -d postgres -qAt \
    -c "CREATE DATABASE allot" >/dev/null
  local url="postgres://allot:$password@127.0.0.1:$port/allot"
  printf 'export ALLOT_PG_URL=%q\nexport ALLOT_PG_DIR=%q\n' "$url" "$dir" >"$dir/env"
  say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') up on 127.0.0.1:$port (folder $dir)"
  cat "$dir/env"
}

cmd_stop() {
  local dir
  dir=$(state_dir "${1:-}")
  pg_ctl_ "$dir" -m fast -w -t 60 stop >/dev/null 2>&1 || pg_ctl_ "$dir" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  say "stopped and removed $dir"
}

cmd_restart() {
  local mode=fast dir=""
  case "${1:-}" in
    fast | immediate) mode=$1; dir=${2:-} ;;
    *) dir=${1:-} ;;
  esac
  dir=$(state_dir "$dir")
  pg_ctl_ "$dir" -m "$mode" -w -t 60 stop >/dev/null
  start_server "$dir"
  say "restarted ($mode) the server in $dir"
}

cmd_status() {
  local dir
  dir=$(state_dir "${1:-}")
  pg_ctl_ "$dir" status
}

cmd_run() {
  [[ ${1:-} == -- ]] && shift
  [[ $# -gt 0 ]] || die "usage: $0 run -- CMD..."
  local env status=0
  env=$(cmd_start)
  eval "$env"
  # Stop it whatever happens to the command.
  trap 'cmd_stop "$ALLOT_PG_DIR" || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  "$@" || status=$?
  exit "$status"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  restart) shift; cmd_restart "$@" ;;
  status) shift; cmd_status "$@" ;;
  run) shift; cmd_run "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
