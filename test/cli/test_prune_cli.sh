#!/usr/bin/env bash
# cbsctl prune end to end against `cbsctl emulator`: two snapshot-fleet runs
# under slow answers, lost answers and listing lag, then prune --keep-last 1.
# Checked from the emulator's side: every instance keeps exactly its newest
# group (DescribeSnapshotGroups paged to the end), the deletions are paced
# (the JSONL log never shows more than 20 DeleteSnapshotGroup in a 1 s
# window), the plan alone deletes nothing, a re-run with the same run id
# deletes nothing more. Plus the bad-input rows.
#
# usage: test_prune_cli.sh CBSCTL
. "$(dirname "$0")/lib.sh" "$1"
state=$HOME/.local/state/cbs-async
log=$work/emulator.jsonl
cd "$work"

# run and expect_err: test/cli/lib.sh.
deletes() { grep -c '"action":"DeleteSnapshotGroup"' "$log" 2>/dev/null || true; }
# groups_tsv: "id name" of every group in the emulator (call --all-pages).
groups_tsv() {
  "$cbsctl" call DescribeSnapshotGroups --all-pages 2>/dev/null | python3 -c '
import json, sys
for g in json.load(sys.stdin)["SnapshotGroupSet"]: print(g["SnapshotGroupId"], g["SnapshotGroupName"])'
}

# The conditions of test_fleet_cli.sh: a 1 s listing lag, creates whose
# answer is lost (10%), slow (10%) or late (30%).
start_emulator --instances 30 --creating-time 200ms --log "$log" --list-lag 1000ms \
  --fault-action CreateSnapshotGroup --fault-reset-after 0.1 --fault-slow 0.1 --slow 500ms-1000ms \
  --fault-latency 0.3 --latency 20ms-200ms --fault-seed 5

# 1. Two fleet runs: two groups per instance, the r2 ones newer (CreateTime
#    has whole seconds: wait one so the two runs cannot tie). Between them a
#    group that is not a fleet's, which prune never touches (the call may
#    lose its answer, the group is created all the same).
run 0 "fleet run r1" snapshot-fleet --all --run-id r1 --report "$work/r1.json" --consistency-window 2s
disk=$("$cbsctl" call DescribeDisks --body '{"Limit":1}' 2>/dev/null | grep -o '"DiskId":"disk-[a-z0-9]*"' | cut -d'"' -f4)
"$cbsctl" call CreateSnapshotGroup --body "{\"DiskIds\":[\"$disk\"],\"SnapshotGroupName\":\"manual-backup\"}" \
  >/dev/null 2>&1
sleep 1.1
run 0 "fleet run r2" snapshot-fleet --all --run-id r2 --report "$work/r2.json" --consistency-window 2s
groups_tsv >"$work/before.txt"
check "61 groups before pruning ($(wc -l <"$work/before.txt"))" test "$(wc -l <"$work/before.txt")" -eq 61
check "the manual group is listed" grep -q ' manual-backup$' "$work/before.txt"

# 2. The plan alone deletes nothing.
run 0 "plan without --yes" prune --keep-last 1 --output text
expect_err "plan without --yes" "30 groups would be deleted; run again with --yes"
check "plan: 30 lines, all r1 groups" test "$(grep -c -- '-r1$' "$work/out")" -eq 30 -a "$(wc -l <"$work/out")" -eq 30
check "plan: nothing deleted (server log)" test "$(deletes)" -eq 0
run 0 "plan as JSON" prune --keep-last 1 --older-than 1h --json
check "plan --json: integers, nothing planned (all younger than 1h)" grep -q '"planned":0,' "$work/out"

# 3. Prune: every instance keeps exactly its newest group.
run 0 "prune --keep-last 1 --yes" prune --keep-last 1 --yes --run-id p1 --report "$work/p1.json" --output text
check "prune: 30 DeleteSnapshotGroup (server log: $(deletes))" test "$(deletes)" -eq 30
groups_tsv >"$work/after.txt"
check "after: 30 fleet groups and the manual one" test "$(wc -l <"$work/after.txt")" -eq 31
check "after: the manual group is kept" grep -q ' manual-backup$' "$work/after.txt"
check "after: only r2 groups of the fleet" test "$(grep -c -- '-r2$' "$work/after.txt")" -eq 30
check "after: one group per instance" test "$(grep -o 'ins-[a-z0-9]*' "$work/after.txt" | sort | uniq -d | wc -l)" -eq 0
check "report: 30 deletions, each deleted with a RequestId" python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); before = dict(l.split() for l in open(sys.argv[2]))
d = r["deletions"]
assert len(d) == 30 and r["summary"]["deleted"] == 30 and r["summary"]["kept"] == 31, r["summary"]
for x in d:
    assert x["outcome"] == "deleted" and x["request_id"] and x["reason"] == "beyond_keep_last", x
    assert before[x["group_id"]] == x["name"] and x["name"].endswith("-r1") and x["instance_id"] in x["name"], x
assert r["run_id"] == "p1" and r["region"] == "ap-guangzhou" and r["options"]["keep_last"] == 1
assert r["summary"]["kept_by_reason"] == {"newest_n": 30, "not_fleet_name": 1}, r["summary"]' "$work/p1.json" "$work/before.txt"
check "journal in the state directory" grep -q '"type":"header".*"run_id":"p1"' "$state/prune-p1.journal"

# 4. Paced: never more than 20 DeleteSnapshotGroup in any 1 s window.
max_window=$(grep '"action":"DeleteSnapshotGroup"' "$log" | grep -o '"time_ms":[0-9]*' | cut -d: -f2 | sort -n |
  awk '{ t[NR] = $1 } END { m = 0; j = 1; for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 1000) j++; if (i - j + 1 > m) m = i - j + 1 } print m }')
echo "most DeleteSnapshotGroup in a 1 s window: $max_window"
check "at most 20 deletions in any 1 s window (saw $max_window)" test "$max_window" -le 20 -a "$max_window" -gt 0

# 5. A re-run with the same run id deletes nothing more and reports the earlier deletions.
run 0 "resume p1" prune --keep-last 1 --yes --run-id p1 --report "$work/p1b.json" --json
check "resume: no new DeleteSnapshotGroup" test "$(deletes)" -eq 30
check "resume: 30 deleted earlier, 0 planned" grep -q '"planned":0,.*"deleted_earlier":30,' "$work/out"
check "resume: --json names the report" grep -q "\"report\":\"$work/p1b.json\"" "$work/out"
run 0 "another run id finds nothing to delete" prune --keep-last 1 --yes --run-id p2 --json
check "p2: nothing planned" grep -q '"planned":0,' "$work/out"
check "p2: report in the current directory" test -f "$work/cbsctl-prune-p2.report.json"

# 6. Bad input: exit 2 naming the option, nothing sent.
before=$(wc -l <"$log")
run 0 "--help" prune --help
run 2 "neither --keep-last nor --older-than" prune --yes
expect_err "neither option" "--keep-last N or --older-than"
run 2 "--keep-last -1" prune --keep-last -1
expect_err "--keep-last -1" "--keep-last"
run 2 "--keep-last x" prune --keep-last x
expect_err "--keep-last x" "--keep-last expects a whole number >= 0, got 'x'"
run 2 "--keep-last 0" prune --keep-last 0 --yes
expect_err "--keep-last 0" "--allow-delete-newest"
run 2 "bad --older-than" prune --older-than 5x
expect_err "bad --older-than" "--older-than"
run 2 "--older-than 0" prune --older-than 0
expect_err "--older-than 0" "--older-than must be positive"
run 2 "bad --instance" prune --keep-last 1 --instance i-123
expect_err "bad --instance" "--instance 'i-123'"
run 2 "bad --run-id" prune --keep-last 1 --run-id 'a/b'
expect_err "bad --run-id" "--run-id 'a/b'"
run 2 "--json with --report -" prune --keep-last 1 --json --report -
run 2 "report in a missing directory" prune --keep-last 1 --yes --report "$work/missing/r.json"
expect_err "report in a missing directory" "$work/missing"
run 2 "bad --output" prune --keep-last 1 --output yaml
expect_err "bad --output" "--output"
check "bad input: no request sent" test "$(wc -l <"$log")" -eq "$before"

# Another prune with this run id in progress (its journal locked): exit 2,
# naming the lock, nothing deleted.
mkdir -p "$state"
deletes=$(grep -c '"action":"DeleteSnapshotGroup"' "$log")
flock "$state/prune-busy.journal" "$cbsctl" prune --keep-last 1 --yes --run-id busy >"$work/out" 2>"$work/err" </dev/null
got=$?
check "a run in progress: exit 2 (got $got)" test "$got" -eq 2
expect_err "a run in progress: the lock is named" "is locked by a run in progress"
check "a run in progress: nothing deleted" test "$(grep -c '"action":"DeleteSnapshotGroup"' "$log")" -eq "$deletes"

kill -TERM "$emu_pid" 2>/dev/null
wait "$emu_pid" 2>/dev/null
emu_pid=
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
