#!/usr/bin/env bash
# The checks below are single-quoted strings run by eval, so variables expand then.
# shellcheck disable=SC2016,SC2034
# End-to-end test of scripts/neo4j-local: runs the real script against a real
# Neo4j, on a scratch data directory and a free port, so it never touches the
# instance in .local/neo4j. Takes about a minute (four starts).
#
#   tools/neo4j-local/script-test.sh
#
# Ends with "N passed, N failed"; exit status 1 if anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
S="$ROOT/scripts/neo4j-local"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SCRATCH="$(mktemp -d /tmp/neo4j-local-test.XXXXXX)"
export NEO4J_LOCAL_DIR="$SCRATCH/data"
NEO4J_LOCAL_PORT="$(free_port)"
export NEO4J_LOCAL_PORT
# Spaces and shell metacharacters: checks that the password survives env/eval.
export NEO4J_LOCAL_PASSWORD='pa ss$word "quoted" & more'
export NEO4J_LOCAL_HEAP=1g NEO4J_LOCAL_PAGECACHE=128m NEO4J_LOCAL_TIMEOUT=240
unset NEO4J_URI NEO4J_USER NEO4J_PASSWORD

PASSED=0
FAILED=0
OUT=""
RC=0

# run CMD...: runs it, keeping stdout+stderr in $OUT and the exit code in $RC.
run() {
  OUT="$("$@" 2>&1)"
  RC=$?
}

check() {
  local what=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "ok     $what"
  else
    FAILED=$((FAILED + 1))
    echo "FAILED $what"
    echo "       exit code: $RC; output:"
    while IFS= read -r line; do echo "       | $line"; done <<<"$OUT"
  fi
}

rc_is() { [ "$RC" -eq "$1" ]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
pid_of() { tr -d '[:space:]' <"$NEO4J_LOCAL_DIR/neo4j.pid"; }
alive() {
  local state
  state="$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
  [ -n "$state" ] && [ "$state" != Z ]
}
port_open() { timeout 2 bash -c ': <"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

cleanup() {
  "$S" stop >/dev/null 2>&1
  [ -n "${LISTENER:-}" ] && kill "$LISTENER" 2>/dev/null
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

echo "scratch dir $SCRATCH, port $NEO4J_LOCAL_PORT"

# --- settings and environment errors --------------------------------------------
run "$S" status
check "status before any start: exit 3, not running" eval 'rc_is 3 && out_has "not running"'

run "$S" bogus
check "unknown command: exit 2" rc_is 2

run env NEO4J_LOCAL_PORT=http "$S" start
check "bad port is named" eval 'rc_is 1 && out_has "NEO4J_LOCAL_PORT='"'"'http'"'"' is not a TCP port"'

run env NEO4J_LOCAL_PASSWORD=short "$S" start
check "short password is refused without echoing it" \
  eval 'rc_is 1 && out_has "too short (5 characters)" && ! out_has "=short"'

run env NEO4J_LOCAL_HEAP=lots "$S" start
check "bad heap size is named" eval 'rc_is 1 && out_has "NEO4J_LOCAL_HEAP='"'"'lots'"'"' is not a size"'

run env NEO4J_LOCAL_TLS=yes "$S" start
check "bad TLS switch is named" eval 'rc_is 1 && out_has "NEO4J_LOCAL_TLS='"'"'yes'"'"' must be 1"'

run env JAVA_HOME="$SCRATCH/no-such-jdk" "$S" start
check "JAVA_HOME without bin/java" eval 'rc_is 1 && out_has "has no bin/java"'

mkdir -p "$SCRATCH/old-jdk/bin"
printf '#!/bin/sh\necho "    java.specification.version = 11" >&2\n' >"$SCRATCH/old-jdk/bin/java"
chmod +x "$SCRATCH/old-jdk/bin/java"
run env JAVA_HOME="$SCRATCH/old-jdk" "$S" start
check "Java 11 is refused" eval 'rc_is 1 && out_has "is Java 11, Neo4j 5.26 needs Java 17 or 21"'

python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' \
  "$NEO4J_LOCAL_PORT" &
LISTENER=$!
for _ in $(seq 50); do port_open "$NEO4J_LOCAL_PORT" && break; sleep 0.1; done
run "$S" start
check "port taken by another process" eval 'rc_is 1 && out_has "port $NEO4J_LOCAL_PORT on 127.0.0.1 is already in use"'
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
LISTENER=""

# --- start, idempotent start, status, env ----------------------------------------
run "$S" start
check "start: exit 0 and prints the URI" eval 'rc_is 0 && out_has "uri:      neo4j://127.0.0.1:$NEO4J_LOCAL_PORT"'
check "start: user is neo4j, custom password not printed" \
  eval 'out_has "user:     neo4j" && out_has "(the value of NEO4J_LOCAL_PASSWORD)" && ! out_has "ss\$word"'
PID1="$(pid_of)"
check "start: ready file and live process" eval '[ -f "$NEO4J_LOCAL_DIR/ready" ] && alive "$PID1"'
LISTEN_ADDRS="$(ss -ltnH "sport = :$NEO4J_LOCAL_PORT" | awk '{print $4}')"
check "start: Bolt listens, on 127.0.0.1 only" eval \
  '[ -n "$LISTEN_ADDRS" ] && ! grep -vqE "^(\[::ffff:)?127\.0\.0\.1\]?:" <<<"$LISTEN_ADDRS"'
check "log file has the launcher output, no password" eval \
  'grep -q "neo4j-local: ready on bolt://127.0.0.1:$NEO4J_LOCAL_PORT" "$NEO4J_LOCAL_DIR/neo4j.log" && ! grep -qF "ss\$word" "$NEO4J_LOCAL_DIR/neo4j.log"'

run "$S" status
check "status: exit 0 and Bolt 4.4 handshake OK" eval 'rc_is 0 && out_has "Bolt 4.4 handshake OK"'

SECONDS=0
run "$S" start
check "second start returns at once with the same process" \
  eval 'rc_is 0 && [ "$(pid_of)" = "$PID1" ] && ((SECONDS < 10)) && out_has "is ready (pid $PID1"'

run env NEO4J_LOCAL_PORT=1 "$S" start
check "start with another port while running is refused" eval 'rc_is 1 && out_has "already running on port $NEO4J_LOCAL_PORT"'
run env NEO4J_LOCAL_PASSWORD=another-password "$S" start
check "start with another password while running is refused" eval 'rc_is 1 && out_has "different password"'
run env NEO4J_LOCAL_TLS=0 "$S" start
check "start without TLS while running with it is refused" eval 'rc_is 1 && out_has "running with NEO4J_LOCAL_TLS=1, not 0"'

run "$S" wait
check "wait: exit 0 when ready" rc_is 0

ENV_OUT="$("$S" env 2>/dev/null)"
eval "$ENV_OUT"
check "env: eval gives URI, user and the exact password" eval \
  '[ "${NEO4J_URI:-}" = "neo4j://127.0.0.1:$NEO4J_LOCAL_PORT" ] && [ "${NEO4J_USER:-}" = neo4j ] && [ "${NEO4J_PASSWORD:-}" = "$NEO4J_LOCAL_PASSWORD" ]'
check "env: prints only export lines" eval '! grep -vq "^export NEO4J_" <<<"$ENV_OUT"'
# tls_verifies CA-FILE -verify_hostname NAME | -verify_ip ADDRESS
tls_verifies() {
  OUT="$(timeout 10 openssl s_client -connect "127.0.0.1:$NEO4J_LOCAL_PORT" -CAfile "$1" \
    "$2" "$3" -verify_return_error </dev/null 2>&1)"
  RC=$?
  [ "$RC" -eq 0 ] && out_has "Verify return code: 0 (ok)"
}
check "env: exports the test CA" eval '[ "${NEO4J_LOCAL_CA_CERT:-}" = "$NEO4J_LOCAL_DIR/tls/ca.crt" ]'
check "TLS on the Bolt port, verified by the CA for localhost" tls_verifies "$NEO4J_LOCAL_CA_CERT" -verify_hostname localhost
check "TLS on the Bolt port, verified by the CA for 127.0.0.1" tls_verifies "$NEO4J_LOCAL_CA_CERT" -verify_ip 127.0.0.1
check "TLS: a name the certificate is not for fails" eval '! tls_verifies "$NEO4J_LOCAL_CA_CERT" -verify_hostname graph.example.com'
check "TLS: the keys are readable by the owner only" eval \
  '[ "$(stat -c %a "$NEO4J_LOCAL_DIR/tls/private.key")" = 600 ] && [ "$(stat -c %a "$NEO4J_LOCAL_DIR/tls/ca.key")" = 600 ]'

# --- stop -----------------------------------------------------------------------
# A setting that only start needs (here a too short password) must not block a stop.
run env NEO4J_LOCAL_PASSWORD=short "$S" stop
check "stop: exit 0, even with a bad start setting" rc_is 0
check "stop: process gone, port closed, pid and ready files removed" eval \
  '! alive "$PID1" && ! port_open "$NEO4J_LOCAL_PORT" && [ ! -e "$NEO4J_LOCAL_DIR/neo4j.pid" ] && [ ! -e "$NEO4J_LOCAL_DIR/ready" ]'
check "stop: clean shutdown logged" grep -q "neo4j-local: stopped in" "$NEO4J_LOCAL_DIR/neo4j.log"
check "stop: data directory kept" test -d "$NEO4J_LOCAL_DIR/home/data/databases/neo4j"
run "$S" stop
check "stop when not running: exit 0" eval 'rc_is 0 && out_has "not running"'

# --- stale PID file ---------------------------------------------------------------
sleep 60 &
NOT_NEO4J=$!
echo "$NOT_NEO4J" >"$NEO4J_LOCAL_DIR/neo4j.pid"
run "$S" status
check "status with a PID file of another process: exit 1, stale" eval 'rc_is 1 && out_has "stale PID file"'
run "$S" start
check "start after a stale PID file: removes it and starts" eval \
  'rc_is 0 && out_has "removing stale PID file" && [ "$(pid_of)" != "$NOT_NEO4J" ]'
check "stale PID's process was not touched" alive "$NOT_NEO4J"
kill "$NOT_NEO4J"

# --- SIGKILL fallback, then recovery on the next start --------------------------------
PID2="$(pid_of)"
run env NEO4J_LOCAL_STOP_TIMEOUT=0 "$S" stop
check "stop with no grace period falls back to SIGKILL" eval 'rc_is 0 && out_has "sending SIGKILL" && ! alive "$PID2"'
run env NEO4J_LOCAL_TLS=0 "$S" start
check "start after SIGKILL recovers the store" eval 'rc_is 0 && out_has "is ready"'
check "NEO4J_LOCAL_TLS=0: plain Bolt only, no CA exported" eval \
  '! tls_verifies "$NEO4J_LOCAL_DIR/tls/ca.crt" -verify_hostname localhost && ! NEO4J_LOCAL_TLS=0 "$S" env | grep -q NEO4J_LOCAL_CA_CERT'

# --- reset --------------------------------------------------------------------------
run "$S" reset
check "reset: stops and deletes the data and certificates" eval \
  'rc_is 0 && [ ! -e "$NEO4J_LOCAL_DIR/home" ] && [ ! -e "$NEO4J_LOCAL_DIR/neo4j.log" ] && [ ! -e "$NEO4J_LOCAL_DIR/tls" ]'
run "$S" status
check "status after reset: not running" rc_is 3

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
