#!/usr/bin/env bash
# Three cbsctl snapshot-fleet processes, --shard 1/3 .. 3/3, one Redis limiter,
# one emulator with slow answers, lost answers and listing lag: measured from
# the emulator's request log and state, never the clients' counters.
#  1. Redis up throughout: at most 20 creates in every sliding second, no
#     RequestLimitExceeded, every instance once, and at least 18 creates a
#     second over the run.
#  2. Redis killed mid-run and restarted (empty): still never over 20 in a
#     second, every process completes, each reports the fall-back.
#  3. Bad --limiter / --shard input is refused before any call.
# Figures are printed (bench/README.md quotes them).
#
# usage: test_shared_limit_cli.sh CBSCTL [INSTANCES]
. "$(dirname "$0")/lib.sh" "$1"
instances=${2:-120}
log=$work/emulator.jsonl
redis_pid=

redis_bin=$(command -v redis-server || true)
if [ -z "$redis_bin" ]; then
  fail "redis-server is not installed (scripts/deps installs it)"
  echo "$passes passed, $failures failed"
  exit 1
fi
# A free loopback port: nothing answers on it.
pick_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo 0
}
redis_port=$(pick_port)
start_redis() {
  "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    >"$work/redis.out" 2>&1 </dev/null &
  redis_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && return 0
    sleep 0.05
  done
  fail "redis-server did not start: $(tail -3 "$work/redis.out")"
}
stop_redis() {
  [ -n "$redis_pid" ] && { kill -9 "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
  redis_pid=
}
trap 'if [ "$BASHPID" = "$main_shell" ]; then stop_redis; [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$work"; fi' EXIT

# create_times: arrival times (ms) of every CreateSnapshotGroup, sorted.
create_times() { grep '"action":"CreateSnapshotGroup"' "$log" | sed 's/.*"time_ms":\([0-9]*\).*/\1/' | sort -n; }
# max_per_second: the most arrivals in any sliding 1 s window (t, t + 1000 ms).
max_per_second() {
  create_times | awk '{t[NR] = $1} END {j = 1; m = 0; for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 1000) j++; if (i - j + 1 > m) m = i - j + 1 } print m}'
}
# rate: creates per second from the first create to the last.
rate() {
  create_times | awk '{t[NR] = $1} END {if (NR < 2 || t[NR] == t[1]) print 0; else printf "%.1f\n", (NR - 1) * 1000 / (t[NR] - t[1])}'
}
throttled() { grep -c '"throttled":true' "$log" || true; }
# groups_of RUN: the run's group names in the emulator, sorted.
groups_of() {
  local page=0 total=0
  : >"$work/groups"
  while :; do
    "$cbsctl" call DescribeSnapshotGroups --body "{\"Limit\":100,\"Offset\":$((page * 100))}" >"$work/page" 2>/dev/null
    grep -o "\"SnapshotGroupName\":\"[^\"]*-$1\"" "$work/page" >>"$work/groups"
    total=$(grep -o '"TotalCount":[0-9]*' "$work/page" | cut -d: -f2)
    page=$((page + 1))
    [ $((page * 100)) -lt "${total:-0}" ] || break
  done
  sort "$work/groups"
}

# run_shards RUN EXTRA...: the three shards at once; waits for all, keeps each one's status.
run_shards() {
  local run=$1; shift
  local pids=()
  for i in 1 2 3; do
    "$cbsctl" snapshot-fleet --all --run-id "$run" --shard "$i/3" --limiter "redis://127.0.0.1:$redis_port/t" \
      --report "$work/$run-$i.json" --consistency-window 2s --verbose "$@" \
      >"$work/$run-$i.out" 2>"$work/$run-$i.err" </dev/null &
    pids+=($!)
  done
  for i in 1 2 3; do
    wait "${pids[$((i - 1))]}"
    echo $? >"$work/$run-$i.status"
  done
}
check_shards() { # check_shards RUN NAME: every shard exited 0
  for i in 1 2 3; do
    local s
    s=$(cat "$work/$1-$i.status")
    if [ "$s" -eq 0 ]; then pass; else fail "$2: shard $i exited $s: $(tail -3 "$work/$1-$i.err")"; fi
  done
}

emulator_flags=(--instances "$instances" --creating-time 200ms --log "$log" --list-lag 1000ms
  --fault-action CreateSnapshotGroup --fault-reset-after 0.1 --fault-slow 0.1 --slow 500ms-1000ms
  --fault-latency 0.3 --latency 20ms-200ms --fault-seed 5)

# 1. Redis up throughout.
start_redis
start_emulator "${emulator_flags[@]}"
run_shards s1
check_shards s1 "shared limit"
m=$(max_per_second)
r=$(rate)
n=$(create_times | wc -l)
echo "figures: 3 processes, $instances instances, Redis up: $n creates, max $m in any second, $r/s, $(throttled) throttled"
check "at most 20 creates in any second (saw $m)" test "$m" -le 20
check "no RequestLimitExceeded (saw $(throttled))" test "$(throttled)" -eq 0
check "aggregate rate >= 18/s (saw $r)" awk -v r="$r" 'BEGIN {exit !(r >= 18)}'
groups_of s1 >"$work/s1.groups"
check "every instance once ($(wc -l <"$work/s1.groups") groups, $(uniq "$work/s1.groups" | wc -l) distinct)" \
  test "$(wc -l <"$work/s1.groups")" -eq "$instances" -a "$(uniq "$work/s1.groups" | wc -l)" -eq "$instances"
"$cbsctl" report merge "$work/s1-1.json" "$work/s1-2.json" "$work/s1-3.json" --out "$work/s1.json" >/dev/null 2>&1
check "merged report: exit 0" test $? -eq 0
check "no fall-back with Redis up" bash -c "! grep -q 'unavailable' '$work'/s1-*.err"

# 2. Redis killed mid-run, restarted empty a second later (a new emulator
#    and log: the figures are this run's).
rm -f "$log"
start_emulator "${emulator_flags[@]}"
(
  sleep 2.5
  kill -9 "$redis_pid" 2>/dev/null
  sleep 1
  exec "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    >"$work/redis2.out" 2>&1 </dev/null
) &
killer=$!  # the subshell, then (exec) the restarted redis-server
run_shards s2 2>/dev/null  # not the shell's "Killed" notice of the first redis-server
{ kill -9 "$killer"; wait "$killer"; wait "$redis_pid"; } 2>/dev/null  # the first, killed mid-run
redis_pid=
check_shards s2 "Redis killed mid-run"
m=$(max_per_second)
r=$(rate)
echo "figures: 3 processes, $instances instances, Redis killed at 2.5 s and back at 3.5 s: max $m in any second, $r/s, $(throttled) throttled"
check "Redis killed: at most 20 creates in any second (saw $m)" test "$m" -le 20
check "Redis killed: no RequestLimitExceeded (saw $(throttled))" test "$(throttled)" -eq 0
groups_of s2 >"$work/s2.groups"
check "Redis killed: every instance once" \
  test "$(wc -l <"$work/s2.groups")" -eq "$instances" -a "$(uniq "$work/s2.groups" | wc -l)" -eq "$instances"
for i in 1 2 3; do
  check "shard $i reported the fall-back" grep -q "unavailable" "$work/s2-$i.err"
  check "shard $i reported the return" grep -q "answers again" "$work/s2-$i.err"
done

# 3. Bad input, refused before any call.
before=$(wc -l <"$log")
run 2 "rediss refused" snapshot-fleet --all --run-id bad --limiter rediss://127.0.0.1:6380
expect_err "rediss refused, naming TLS" "TLS"
run 2 "bad port refused" snapshot-fleet --all --run-id bad --limiter redis://127.0.0.1:99999
expect_err "bad port named" "port \"99999\""
CBS_LIMITER=redis://u:hunter2@h:0 run 2 "bad \$CBS_LIMITER refused" snapshot-fleet --all --run-id bad
check "the password is never printed" bash -c "! grep -q hunter2 '$work/err' '$work/out'"
check "nothing sent for bad input" test "$(wc -l <"$log")" -eq "$before"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
