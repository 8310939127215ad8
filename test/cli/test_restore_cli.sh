#!/usr/bin/env bash
# cbsctl restore end to end against `cbsctl emulator` (instances RUNNING,
# rollbacks lasting 5 s): without --yes nothing is sent (the emulator's log
# has no ApplySnapshotGroup); a running instance without --auto-stop gets the
# message saying what to do (exit 1); with --auto-stop the group goes
# ROLLBACKING then NORMAL and the disks show the rollback done, seen through
# the emulator's own Describe answers; --no-wait returns at once; bad input.
#
# usage: test_restore_cli.sh CBSCTL
. "$(dirname "$0")/lib.sh" "$1"
log=$work/emulator.jsonl
cd "$work"

# run and expect_err: test/cli/lib.sh.
applies() { grep -c '"action":"ApplySnapshotGroup"' "$log" 2>/dev/null || true; }
# group_state ID: the group's SnapshotGroupState in the emulator.
group_state() {
  "$cbsctl" call DescribeSnapshotGroups \
    --body "{\"Filters\":[{\"Name\":\"snapshot-group-id\",\"Values\":[\"$1\"]}]}" 2>/dev/null |
    grep -o '"SnapshotGroupState":"[A-Z]*"' | cut -d'"' -f4
}
# rollbacking_disks INSTANCE: how many of its disks DescribeDisks shows Rollbacking.
rollbacking_disks() {
  "$cbsctl" call DescribeDisks \
    --body "{\"Filters\":[{\"Name\":\"instance-id\",\"Values\":[\"$1\"]}],\"Limit\":100}" 2>/dev/null |
    grep -o '"Rollbacking":true' | wc -l
}

start_emulator --instances 3 --creating-time 200ms --log "$log"

run 0 "fleet run" snapshot-fleet --all --run-id r1 --report "$work/r1.json" --consistency-window 1s
"$cbsctl" call DescribeSnapshotGroups --body '{"Limit":100}' 2>/dev/null |
  grep -o '"SnapshotGroupId":"csnap-[a-z0-9]*"' | cut -d'"' -f4 >"$work/groups.txt"
check "three groups" test "$(wc -l <"$work/groups.txt")" -eq 3
g1=$(sed -n 1p "$work/groups.txt")
g2=$(sed -n 2p "$work/groups.txt")
ins1=$("$cbsctl" call DescribeSnapshotGroups --body "{\"Filters\":[{\"Name\":\"snapshot-group-id\",\"Values\":[\"$g1\"]}]}" \
  2>/dev/null | grep -o 'ins-[a-z0-9]\{8\}' | head -1)

# 1. Without --yes (no terminal to ask on): exit 2, the plan shown, nothing sent.
run 2 "no --yes" restore --group "$g1"
expect_err "no --yes" "refusing to roll back $ins1 without --yes"
check "no --yes: the plan names the instance and each disk" grep -q "Roll back $ins1 to snapshot group $g1" "$work/out"
check "no --yes: disk <- snapshot lines" grep -qE '^  disk-[a-z0-9]{8} \((SYSTEM|DATA)_DISK\) <- snap-[a-z0-9]{8}$' "$work/out"
check "no --yes: no ApplySnapshotGroup sent (server log)" test "$(applies)" -eq 0

# 2. The instance is running and no --auto-stop: the service refuses; we say what to do.
run 1 "running instance without --auto-stop" restore --group "$g1" --yes
expect_err "running instance" "instance $ins1 is running: stop it first, or pass --auto-stop (the instance is stopped, rolled back, and started again with --auto-start)"
check "running instance: group still NORMAL" test "$(group_state "$g1")" = NORMAL

# 3. --auto-stop --auto-start: ROLLBACKING, then NORMAL; the wait prints progress.
"$cbsctl" restore --group "$g1" --yes --auto-stop --auto-start --poll-interval 200ms >"$work/r.out" \
  2>"$work/r.err" </dev/null &
restore_pid=$!
seen=
for _ in $(seq 30); do
  [ "$(group_state "$g1")" = ROLLBACKING ] && [ "$(rollbacking_disks "$ins1")" -gt 0 ] && { seen=1; break; }
  sleep 0.2
done
check "the group went ROLLBACKING with its disks Rollbacking (emulator)" test -n "$seen"
wait "$restore_pid"
st=$?
check "restore --auto-stop: exit 0 (got $st; $(tail -2 "$work/r.err"))" test "$st" -eq 0
check "after: group NORMAL (emulator)" test "$(group_state "$g1")" = NORMAL
check "after: no disk Rollbacking (emulator)" test "$(rollbacking_disks "$ins1")" -eq 0
check "progress while waiting" grep -qE "group ROLLBACKING, [1-9][0-9]* of [1-9][0-9]* disks rolling back" "$work/r.err"
check "says it is done" grep -q "$ins1 rolled back to $g1" "$work/r.err"
check "one ApplySnapshotGroup accepted" test "$(grep '"action":"ApplySnapshotGroup"' "$log" | grep -c '"outcome":"ok"')" -eq 1

# 4. --no-wait returns while the rollback goes on; a group being rolled back is refused.
run 0 "--no-wait" restore --group "$g2" --yes --auto-stop --no-wait --json
check "--json: one object, outcome accepted" grep -q "^{\"group_id\":\"$g2\",\"instance_id\":\"ins-[a-z0-9]*\",.*\"outcome\":\"accepted\"" "$work/out"
check "--json: integers, one line" test "$(wc -l <"$work/out")" -eq 1 -a -n "$(grep -E '"disks":[0-9]+,' "$work/out")"
check "--no-wait: returned while ROLLBACKING" test "$(group_state "$g2")" = ROLLBACKING
run 1 "a group that is ROLLBACKING" restore --group "$g2" --yes --auto-stop
expect_err "a group that is ROLLBACKING" "is ROLLBACKING; only a NORMAL group can be rolled back"

# 5. Bad input.
before=$(wc -l <"$log")
run 0 "--help" restore --help
run 2 "no --group" restore --yes
expect_err "no --group" "--group"
run 2 "malformed --group" restore --group x --yes
expect_err "malformed --group" "--group 'x'"
run 2 "malformed --disk" restore --group "$g1" --disk d1 --yes
expect_err "malformed --disk" "--disk 'd1'"
run 2 "bad --wait-timeout" restore --group "$g1" --wait-timeout 5x
expect_err "bad --wait-timeout" "--wait-timeout"
check "bad input: no request sent" test "$(wc -l <"$log")" -eq "$before"
run 1 "unknown group" restore --group csnap-00000000 --yes
expect_err "unknown group" "snapshot group csnap-00000000 not found in region ap-guangzhou"
run 2 "--disk not of the group" restore --group "$g1" --disk disk-00000000 --yes
expect_err "--disk not of the group" "--disk disk-00000000 is not a disk of snapshot group $g1"
check "no ApplySnapshotGroup for bad input" test "$(applies)" -eq 3

kill -TERM "$emu_pid" 2>/dev/null
wait "$emu_pid" 2>/dev/null
emu_pid=
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
