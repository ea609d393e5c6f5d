#!/usr/bin/env bash
# Local dev stack without docker: Kafka (KRaft), FerretDB (MongoDB wire) on PostgreSQL, and Redis on loopback.
#   scripts/stack.sh up | down [--purge] | stop kafka|ferretdb|postgres|redis | status
# VDET_FERRETDB_HANDLER=sqlite runs FerretDB on SQLite instead (no PostgreSQL; every query then reads its whole
# collection: see docs/benchmarks-store.md).
# Runtime data, logs and pid files live in <repo>/.stack/ (or VDET_STACK_DIR); downloaded and built artifacts are
# cached in ${VDET_CACHE:-~/.cache/vdet} so other clones on the same machine reuse them.
# VDET_STACK_ADDRESS=ADDR serves Kafka, FerretDB and Redis on ADDR instead of 127.0.0.1 (the cluster suite's data host,
# tests/helpers/netns.ts, on its own network namespace's address); PostgreSQL and Kafka's controller stay on loopback.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACK="${VDET_STACK_DIR:-$ROOT/.stack}"
ADDR="${VDET_STACK_ADDRESS:-127.0.0.1}"
[[ $ADDR =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { echo "VDET_STACK_ADDRESS must be an IPv4 address" >&2; exit 2; }
CACHE="${VDET_CACHE:-$HOME/.cache/vdet}"
KAFKA_VERSION=3.9.1
FERRETDB_VERSION=1.24.2
KAFKA_PORT="${VDET_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${VDET_KAFKA_CONTROLLER_PORT:-9093}"
# Two more listeners for the Kafka-security tests: SASL (PLAIN, SCRAM-SHA-512) in plaintext, and SASL over TLS with the
# stack's own CA (.stack/kafka/tls/ca.pem). Their users and passwords are the loopback stack's, for tests only
# (tests/helpers/stack.ts has the same): "vdet" (a role) and "camera" (a producer of frames).
KAFKA_SASL_PORT="${VDET_KAFKA_SASL_PORT:-9094}"
KAFKA_SASL_TLS_PORT="${VDET_KAFKA_SASL_TLS_PORT:-9095}"
KAFKA_USERS=(vdet:vdet-stack-role-password camera:vdet-stack-camera-password)
KAFKA_TLS_STORE_PASSWORD=vdet-stack-keystore
MONGO_PORT="${VDET_MONGO_PORT:-27017}"
FERRETDB_DEBUG_PORT="${VDET_FERRETDB_DEBUG_PORT:-28088}"
REDIS_PORT="${VDET_REDIS_PORT:-6379}"
PG_PORT="${VDET_PG_PORT:-54320}" # not 5432: Debian's own cluster of the postgresql package may hold that one
HANDLER="${VDET_FERRETDB_HANDLER:-postgresql}"
[[ $HANDLER =~ ^(postgresql|sqlite)$ ]] || { echo "VDET_FERRETDB_HANDLER must be postgresql or sqlite" >&2; exit 2; }
LIBS="$CACHE/kafka-libs"
FERRETDB="$CACHE/bin/ferretdb"
# Per service: a string its command line must contain (guards against stale pid files / pid reuse), its port.
declare -A MATCH=([kafka]=kafka.Kafka [ferretdb]=bin/ferretdb [postgres]=bin/postgres [redis]=redis-server)
declare -A PORT=([kafka]=$KAFKA_PORT [ferretdb]=$MONGO_PORT [postgres]=$PG_PORT [redis]=$REDIS_PORT)
# ... and the address it listens on (PostgreSQL only for FerretDB, on loopback).
declare -A HOST=([kafka]=$ADDR [ferretdb]=$ADDR [postgres]=127.0.0.1 [redis]=$ADDR)
# Stop signal per service (PostgreSQL: fast shutdown; TERM would wait for every client to leave).
declare -A STOPSIG=([postgres]=INT)
SERVICES=(kafka ferretdb redis)
[[ $HANDLER != postgresql ]] || SERVICES=(kafka ferretdb postgres redis) # stopped in this order, started in reverse

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }
# port_open PORT [ADDRESS]: something accepts connections there (ADDRESS: the stack's, by default).
port_open() { (exec 3<>"/dev/tcp/${2:-$ADDR}/$1") 2>/dev/null; }

# pid_of NAME: prints the pid in .stack/NAME/NAME.pid if that process is alive and really is NAME.
pid_of() {
  local f="$STACK/$1/$1.pid" pid
  [[ -s $f ]] && pid="$(tr -dc '0-9' <"$f")" && [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "${MATCH[$1]}" || return 1
  echo "$pid"
}

# apt_need CMD PKG: installs PKG with apt when CMD is missing (only as root).
apt_need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [[ $(id -u) -eq 0 ]] || die "'$1' not found; install it (e.g. 'sudo apt-get install -y $2') and retry"
  log "installing $2 via apt ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; } \
    || die "apt-get install $2 failed"
}

# wait_for WHAT SECONDS LOGFILE CMD...: polls CMD until it succeeds (status 2 = gave up, e.g. the
# process died); on failure shows the end of LOGFILE.
wait_for() {
  local what=$1 secs=$2 logf=$3 rc; shift 3
  local deadline=$((SECONDS + secs))
  while :; do
    rc=0; "$@" || rc=$?
    ((rc == 0)) && return 0
    ((rc != 2 && SECONDS < deadline)) || break
    sleep 0.5
  done
  local why="not ready after ${secs}s"; ((rc != 2)) || why="exited during startup"
  log "$what $why; end of $logf:"
  tail -n 30 "$logf" >&2 2>/dev/null || true
  return 1
}

# alive_and NAME CMD...: status 2 when NAME's process is gone, else CMD's status (for wait_for). Only checks
# liveness: right after '&' the child may not have exec'd yet, so its command line can still be ours.
alive_and() { kill -0 "$(cat "$STACK/$1/$1.pid")" 2>/dev/null || return 2; shift; "$@"; }

# guard_port NAME PORT [ADDRESS]: fails when PORT (on ADDRESS, the stack's by default) is taken by something this script does not manage.
guard_port() { ! port_open "$2" "${3:-$ADDR}" || die "$1: port $2 is in use by another process (stop it or set VDET_*_PORT)"; }

# running NAME CMD...: true when NAME is already running (after waiting for CMD to succeed).
running() {
  local pid; pid="$(pid_of "$1")" || return 1
  log "$1 already running (pid $pid)"
  wait_for "$1" 90 "$STACK/$1/$1.log" "${@:2}" || die "$1 runs but does not answer; try 'down' then 'up'"
}

# ---------------------------------------------------------------- Kafka
kafka_install() {
  [[ -f $LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] && return 0
  apt_need mvn maven
  log "downloading Kafka $KAFKA_VERSION jars from Maven Central into $LIBS ..."
  mkdir -p "$CACHE/kafka-pom"
  cat >"$CACHE/kafka-pom/pom.xml" <<EOF
<project><modelVersion>4.0.0</modelVersion>
  <groupId>vdet.local</groupId><artifactId>kafka-libs</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies></project>
EOF
  mvn -B -f "$CACHE/kafka-pom/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS" >"$CACHE/kafka-pom/mvn.log" 2>&1 \
    || { tail -n 30 "$CACHE/kafka-pom/mvn.log" >&2; die "maven could not fetch the Kafka jars (log: $CACHE/kafka-pom/mvn.log)"; }
}

kafka_up() {
  local dir="$STACK/kafka"
  running kafka port_open "$KAFKA_PORT" && return 0
  guard_port kafka "$KAFKA_PORT" && guard_port kafka-controller "$KAFKA_CONTROLLER_PORT" 127.0.0.1
  guard_port kafka-sasl "$KAFKA_SASL_PORT" && guard_port kafka-sasl-tls "$KAFKA_SASL_TLS_PORT"
  apt_need java openjdk-17-jre-headless && kafka_install
  mkdir -p "$dir/data"
  kafka_tls_material "$dir/tls"
  local plain_users="" user
  for user in "${KAFKA_USERS[@]}"; do plain_users+=" user_${user%%:*}=\"${user#*:}\""; done
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$ADDR:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_PLAINTEXT://$ADDR:$KAFKA_SASL_PORT,SASL_SSL://$ADDR:$KAFKA_SASL_TLS_PORT
advertised.listeners=PLAINTEXT://$ADDR:$KAFKA_PORT,SASL_PLAINTEXT://$ADDR:$KAFKA_SASL_PORT,SASL_SSL://$ADDR:$KAFKA_SASL_TLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/server.p12
ssl.keystore.password=$KAFKA_TLS_STORE_PASSWORD
ssl.key.password=$KAFKA_TLS_STORE_PASSWORD
# ACLs apply to the SASL users; the loopback PLAINTEXT listener (ANONYMOUS) may do anything, as before.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
log.dirs=$dir/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=4
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
log.retention.hours=24
log.segment.bytes=134217728
EOF
  local java=(java -cp "$LIBS/*" "-Dlog4j.configuration=file:$dir/log4j.properties")
  if [[ ! -f $dir/data/meta.properties ]]; then
    local id out; id="$("${java[@]}" kafka.tools.StorageTool random-uuid)" || die "java cannot run Kafka's StorageTool"
    log "formatting Kafka storage in $dir/data (cluster id $id)"
    out="$("${java[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" 2>&1)" \
      || die "kafka storage format failed: $out"
  fi
  local offset; offset=$(stat -c %s "$dir/kafka.log" 2>/dev/null || echo 0) # readiness: only newer lines count
  log "starting kafka on $ADDR:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -cp "$LIBS/*" "-Dlog4j.configuration=file:$dir/log4j.properties" \
    kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/kafka.pid"
  # "Kafka Server started" is logged once the broker is unfenced, i.e. able to serve clients.
  kafka_ready() {
    port_open "$KAFKA_PORT" && tail -c +$((offset + 1)) "$dir/kafka.log" 2>/dev/null | grep -q 'Kafka Server started'
  }
  wait_for kafka 90 "$dir/kafka.log" alive_and kafka kafka_ready || die "kafka failed to start (log: $dir/kafka.log)"
  kafka_scram_users "$dir"
}

# kafka_tls_material DIR: the stack's CA and the broker's certificate for 127.0.0.1 and the stack's address (PKCS#12), made once.
kafka_tls_material() {
  local d=$1
  [[ -f $d/server.p12 ]] && return 0
  apt_need openssl openssl
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 3650 -subj "/CN=vdet stack CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 || die "openssl could not make the stack's CA"
  openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1" >/dev/null 2>&1 \
    && openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -out "$d/server.pem" -days 3650 \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$ADDR") >/dev/null 2>&1 \
    && openssl pkcs12 -export -in "$d/server.pem" -inkey "$d/server.key" -certfile "$d/ca.pem" -out "$d/server.p12.tmp" \
      -passout "pass:$KAFKA_TLS_STORE_PASSWORD" >/dev/null 2>&1 || die "openssl could not make the broker's certificate"
  mv "$d/server.p12.tmp" "$d/server.p12"
}

# kafka_scram_users DIR: the SCRAM credentials of the stack's users (kept in the cluster's metadata), set once a storage.
kafka_scram_users() {
  local dir=$1 user configs=()
  [[ -f $dir/data/.scram-users ]] && return 0
  for user in "${KAFKA_USERS[@]}"; do
    java -cp "$LIBS/*" "-Dlog4j.configuration=file:$dir/log4j.properties" kafka.admin.ConfigCommand --bootstrap-server "$ADDR:$KAFKA_PORT" \
      --alter --entity-type users --entity-name "${user%%:*}" \
      --add-config "SCRAM-SHA-512=[password=${user#*:}]" >>"$dir/kafka.log" 2>&1 \
      || die "kafka: could not set the SCRAM credentials of ${user%%:*} (log: $dir/kafka.log)"
  done
  touch "$dir/data/.scram-users"
}

# ---------------------------------------------------------------- FerretDB
ferretdb_install() {
  "$FERRETDB" --version >/dev/null 2>&1 && return 0
  command -v go >/dev/null 2>&1 \
    || die "go (>= 1.24) is needed to build FerretDB $FERRETDB_VERSION; install it or put a binary at $FERRETDB"
  log "building FerretDB $FERRETDB_VERSION into $FERRETDB (one-off, a few minutes on a cold Go cache) ..."
  local src tmp; tmp="$(mktemp -d)"
  # 'go install ...@v' trips the proxy's deprecation check; download the module, then build a writable copy
  # of it, because the module zip lacks build/version/version.txt and the binary panics at startup without it.
  src="$(cd "$tmp" && go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || src=""
  [[ -d $src ]] || die "could not download the FerretDB module"
  cp -r "$src" "$tmp/src" && chmod -R u+w "$tmp/src"
  echo "v$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  mkdir -p "$(dirname "$FERRETDB")"
  (cd "$tmp/src" && GOFLAGS=-buildvcs=false go build -o "$FERRETDB.tmp" ./cmd/ferretdb) \
    || die "FerretDB build failed (work dir kept: $tmp)"
  mv -f "$FERRETDB.tmp" "$FERRETDB"
  rm -rf "$tmp"
}

ferretdb_up() {
  local dir="$STACK/ferretdb" backend
  if running ferretdb port_open "$MONGO_PORT"; then
    [[ $(cat "$dir/handler" 2>/dev/null || echo sqlite) == "$HANDLER" ]] \
      || log "ferretdb runs on $(cat "$dir/handler" 2>/dev/null || echo sqlite), not $HANDLER: 'stop ferretdb' then 'up' switches (data is not copied)"
    return 0
  fi
  guard_port ferretdb "$MONGO_PORT" && ferretdb_install
  mkdir -p "$dir/data" "$dir/state"
  if [[ $HANDLER == postgresql ]]; then backend=(--handler=postgresql "--postgresql-url=postgres://vdet@127.0.0.1:$PG_PORT/ferretdb")
  else backend=(--handler=sqlite --sqlite-url="file:$dir/data/"); fi
  log "starting ferretdb ($HANDLER) on $ADDR:$MONGO_PORT"
  nohup "$FERRETDB" "${backend[@]}" --listen-addr="$ADDR:$MONGO_PORT" \
    --state-dir="$dir/state" --telemetry=disable --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" \
    --log-level=warn >>"$dir/ferretdb.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/ferretdb.pid"
  echo "$HANDLER" >"$dir/handler"
  wait_for ferretdb 30 "$dir/ferretdb.log" alive_and ferretdb port_open "$MONGO_PORT" \
    || die "ferretdb failed to start (log: $dir/ferretdb.log)"
}

# ---------------------------------------------------------------- PostgreSQL (FerretDB's backend)
# Debian's postgresql package; the server runs as a non-root user (it refuses root): the invoking user, or as root
# the package's 'postgres' user. Data in .stack/postgres/data, socket there too, TCP on loopback only, trust auth.
pg_bindir() {
  local d; d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -x $d/postgres ]] && echo "$d"
}
pg_user() { if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_psql() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U vdet -X -q -v ON_ERROR_STOP=1 "$@"; }
pg_ready() { as_pg "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U vdet; }

# PG_FALLBACK: where PostgreSQL's files go when its user cannot reach .stack/postgres (a checkout under a private
# home folder, as root): a folder of its own under /var/tmp, named after this stack's folder.
PG_FALLBACK="/var/tmp/vdet-postgres-$(printf '%s' "$STACK" | md5sum | cut -c1-12)"
pg_dir() {
  local dir="$STACK/postgres"
  mkdir -p "$dir" && chown "$(pg_user)" "$dir"
  if as_pg test -w "$dir" 2>/dev/null; then echo "$dir"; return 0; fi
  mkdir -p "$PG_FALLBACK" && chown "$(pg_user)" "$PG_FALLBACK" && chmod 700 "$PG_FALLBACK"
  as_pg test -w "$PG_FALLBACK" || die "postgres: user $(pg_user) can write neither $dir nor $PG_FALLBACK"
  echo "$PG_FALLBACK"
}

postgres_up() {
  local dir pid
  PGBIN="$(pg_bindir)" || { apt_need pg_ctlcluster postgresql; PGBIN="$(pg_bindir)" || die "postgresql installed, but no server binary under /usr/lib/postgresql"; }
  if ! running postgres pg_ready; then
    guard_port postgres "$PG_PORT" 127.0.0.1
    dir="$(pg_dir)"
    if [[ ! -s $dir/data/PG_VERSION ]]; then
      log "initialising PostgreSQL data in $dir/data"
      as_pg "$PGBIN/initdb" -D "$dir/data" -U vdet -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed (log: $dir/initdb.log)"; }
    fi
    log "starting postgres on 127.0.0.1:$PG_PORT"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
      -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_connections=200 -c fsync=on" \
      >/dev/null 9>&- || { tail -n 30 "$dir/postgres.log" >&2; die "postgres failed to start (log: $dir/postgres.log)"; }
    pid="$(head -n 1 "$dir/data/postmaster.pid")" && echo "$pid" >"$STACK/postgres/postgres.pid"
    wait_for postgres 30 "$dir/postgres.log" pg_ready || die "postgres does not answer (log: $dir/postgres.log)"
  fi
  [[ -n $(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'") ]] \
    || pg_psql -d postgres -c 'CREATE DATABASE ferretdb'
  local out; out="$(pg_psql -d ferretdb -f "$ROOT/scripts/stack-postgres.sql" 2>&1)" \
    || { printf '%s\n' "$out" >&2; die "scripts/stack-postgres.sql failed on postgres"; }
}

# ---------------------------------------------------------------- Redis
redis_ping() { [[ $(redis-cli -h "$ADDR" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
redis_up() {
  local dir="$STACK/redis"
  running redis redis_ping && return 0
  guard_port redis "$REDIS_PORT" && apt_need redis-server redis-server
  mkdir -p "$dir"
  log "starting redis on $ADDR:$REDIS_PORT"
  # Off loopback, protected mode would refuse every client: the address is a test network's, reachable only there.
  local protected=yes; [[ $ADDR == 127.0.0.1 ]] || protected=no
  redis-server --port "$REDIS_PORT" --bind "$ADDR" --protected-mode "$protected" --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" 9>&-
  wait_for redis 15 "$dir/redis.log" redis_ping || die "redis failed to start (log: $dir/redis.log)"
}

# ---------------------------------------------------------------- commands
stop_one() { # NAME
  local pid i
  pid="$(pid_of "$1")" || { rm -f "$STACK/$1/$1.pid"; log "$1 not running"; return 0; }
  log "stopping $1 (pid $pid)"
  kill "-${STOPSIG[$1]:-TERM}" "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "$1 still up after 20s; SIGKILL"; kill -KILL "$pid" || true; sleep 0.5; fi
  rm -f "$STACK/$1/$1.pid"
}

status_one() { # NAME
  local pid="" port=${PORT[$1]} addr=${HOST[$1]} note=""
  if pid="$(pid_of "$1")" && port_open "$port" "$addr"; then
    printf '%-9s up    pid %-7s %s:%s\n' "$1" "$pid" "$addr" "$port"; return 0
  fi
  if [[ -n $pid ]]; then note=" (process alive, port not answering yet)"
  elif port_open "$port" "$addr"; then note=" (port used by a process not managed here)"; fi
  printf '%-9s down  pid %-7s %s:%s%s\n' "$1" "${pid:--}" "$addr" "$port" "$note"
  return 1
}

# Serialise concurrent up/down; services are started with fd 9 closed so they do not inherit the lock.
lock() {
  mkdir -p "$STACK" && exec 9>"$STACK/.lock"
  flock -w 900 9 || die "another stack.sh still holds $STACK/.lock after 15 min"
}

cmd_up() {
  mkdir -p "$CACHE" && lock
  apt_need ffmpeg ffmpeg && apt_need ffprobe ffmpeg
  redis_up
  [[ $HANDLER != postgresql ]] || postgres_up
  ferretdb_up
  kafka_up
  cmd_status
}

cmd_down() {
  local s; lock
  for s in "${SERVICES[@]}"; do stop_one "$s"; done
  [[ ${1:-} != --purge ]] || { log "purging $STACK"; rm -rf "$STACK" "$PG_FALLBACK"; }
}

cmd_status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do status_one "$s" || rc=1; done
  return "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  stop) [[ ${2:-} =~ ^(kafka|ferretdb|postgres|redis)$ ]] || { echo "usage: $0 stop kafka|ferretdb|postgres|redis" >&2; exit 2; }
        lock; stop_one "$2" ;;
  status) cmd_status ;;
  *) echo "usage: $0 up | down [--purge] | stop SERVICE | status" >&2; exit 2 ;;
esac
