#!/usr/bin/env bash
# cbsctl snapshot-fleet --shard I/N and cbsctl report merge, end to end
# against `cbsctl emulator` with a listing lag and creates whose answers are
# lost, slow or late: three cbsctl processes of one run id, shards 1/3 2/3
# 3/3, at once on one host (their own default journals and reports); checked
# from the emulator's side (its DescribeSnapshotGroups listing and request
# log) that every instance has exactly one group of the run; then the
# merge: complete, a shard missing,
# an instance in two reports, mixed runs, a shard twice, malformed files,
# --out written whole, and the bad --shard values.
#
# usage: test_shard_cli.sh CBSCTL
. "$(dirname "$0")/lib.sh" "$1"
cd "$work" || exit 1
state=$HOME/.local/state/cbs-async
log=$work/emulator.jsonl

# run and expect_err: test/cli/lib.sh.
expect_out() { # expect_out NAME NEEDLE: the last run's stdout contains NEEDLE
  if grep -qF -- "$2" "$work/out"; then pass; else fail "$1: stdout lacks '$2': $(head -c 300 "$work/out")"; fi
}

start_emulator --instances 30 --creating-time 200ms --log "$log" --list-lag 1000ms \
  --fault-action CreateSnapshotGroup --fault-reset-after 0.15 --fault-slow 0.1 --slow 500ms-1000ms \
  --fault-latency 0.3 --latency 20ms-200ms --fault-seed 11

# The fleet's instances, from the emulator.
"$cbsctl" call DescribeDisks --all-pages >"$work/disks.json" 2>"$work/err" || fail "DescribeDisks: $(cat "$work/err")"
python3 -c '
import json, sys
ids = sorted({d["InstanceId"] for d in json.load(open(sys.argv[1]))["DiskSet"] if d.get("InstanceId")})
print("\n".join(ids))' "$work/disks.json" >"$work/ids.txt"
check "the emulator has instances" test "$(wc -l <"$work/ids.txt")" -ge 20

# covered RUN_ID: every instance has exactly one group of the run (the
# emulator's listing), and no group of the run is for another instance.
covered() {
  "$cbsctl" call DescribeSnapshotGroups --all-pages >"$work/groups.json" 2>>"$work/err" || return 1
  python3 - "$work/ids.txt" "$work/groups.json" "$1" <<'PY'
import json, sys, collections
ids = set(open(sys.argv[1]).read().split())
groups = json.load(open(sys.argv[2]))["SnapshotGroupSet"]
run = sys.argv[3]
count = collections.Counter(g["SnapshotGroupName"][len("fleet-"):-len(run) - 1]
                            for g in groups if g["SnapshotGroupName"].endswith("-" + run))
bad = [i for i in ids if count[i] != 1] + [i for i in count if i not in ids]
if bad:
    print(f"not exactly one group of {run}: {bad[:5]}")
    sys.exit(1)
PY
}

# 1. Three shards of run s1 at once (three hosts' worth on one), each a third
# of the account's create rate; the list from a file.
pids=()
for i in 1 2 3; do
  "$cbsctl" snapshot-fleet --instances-file "$work/ids.txt" --run-id s1 --shard "$i/3" --consistency-window 2s \
    --rate CreateSnapshotGroup=6 --rate DescribeSnapshotGroups=6 --rate DescribeDisks=6 --json \
    >"$work/s1.$i.out" 2>"$work/s1.$i.err" </dev/null &
  pids+=($!)
done
for i in 1 2 3; do
  wait "${pids[$((i - 1))]}"
  st=$?
  check "shard $i/3 exit 0 (got $st: $(tail -3 "$work/s1.$i.err"))" test "$st" -eq 0
  check "shard $i/3: its own journal" test -f "$state/s1.shard-$i-of-3.journal"
  check "shard $i/3: its own report" test -f "$work/cbsctl-s1.shard-$i-of-3.report.json"
  check "shard $i/3: the journal header names the shard" grep -q "\"shard\":\"$i/3\"" "$state/s1.shard-$i-of-3.journal"
  check "shard $i/3: --json and the report state the shard and both counts" python3 -c '
import json, sys
i, n = int(sys.argv[3]), int(sys.argv[4])
out = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
s = rep["shard"]
assert out["shard"] == s and s["index"] == i and s["count"] == 3, (out, s)
assert s["instances_listed"] == n and 0 < s["instances_in_shard"] < n, s
assert s["instances_in_shard"] == rep["summary"]["instances"] == len(rep["instances"]), s
' "$work/s1.$i.out" "$work/cbsctl-s1.shard-$i-of-3.report.json" "$i" "$(wc -l <"$work/ids.txt")"
done
check "s1: no journal without the shard in its name" test ! -e "$state/s1.journal"
check "s1: every instance covered exactly once (emulator)" covered s1
check "s1: the faults happened" grep -q '"fault":"reset_after"' "$log"

# 2. Merge: complete.
r1=$work/cbsctl-s1.shard-1-of-3.report.json
r2=$work/cbsctl-s1.shard-2-of-3.report.json
r3=$work/cbsctl-s1.shard-3-of-3.report.json
run 0 "merge of 3" report merge "$r3" "$r1" "$r2" --out "$work/merged.json"
expect_err "merge of 3: summary" "shards 1, 2, 3 of 3 (every shard)"
check "merge of 3: covers every instance once, all ok" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
ids = open(sys.argv[2]).read().split()
got = [i["instance_id"] for i in m["instances"]]
assert sorted(got) == sorted(ids), (len(got), len(ids))
assert m["shard"] == {"count": 3, "present": [1, 2, 3], "missing": [], "complete": True,
                      "instances_listed": len(ids), "instances_covered": len(ids)}, m["shard"]
assert m["summary"]["instances"] == len(ids) and m["summary"]["all_ok"] is True, m["summary"]
assert m["exit_status"] == 0 and "incomplete" not in m and m["run_id"] == "s1"
' "$work/merged.json" "$work/ids.txt"
check "merge of 3: no temporary left" test -z "$(ls -a "$work" | grep '^\.merged')"
run 0 "merge --json" report merge "$r1" "$r2" "$r3" --out "$work/merged2.json" --json
check "merge --json: one summary object" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit_status"] == 0 and d["shard"]["complete"] and d["report"].endswith("merged2.json"), d' "$work/out"
run 0 "merge to standard output" report merge "$r1" "$r2" "$r3"
check "merge to standard output: the report" python3 -c '
import json, sys; assert json.load(open(sys.argv[1]))["shard"]["complete"]' "$work/out"

# 3. A shard missing: exit 1, said plainly, never full coverage.
run 1 "merge with shard 2 missing" report merge "$r1" "$r3" --out "$work/partial.json"
expect_err "shard 2 missing" "INCOMPLETE: no report of shard 2 of 3"
expect_err "shard 2 missing: how to finish" "--run-id s1 --shard 2/3"
check "shard 2 missing: the merged report says so" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["shard"]["complete"] is False and m["shard"]["missing"] == [2], m["shard"]
assert m["summary"]["all_ok"] is False and m["exit_status"] == 1 and m["incomplete"].startswith("INCOMPLETE"), m
' "$work/partial.json"

# 4. Bad input: exit 2 naming the file and what is wrong; --out untouched.
cp "$work/merged.json" "$work/keep.json"
python3 - "$r1" "$r2" "$work" <<'PY'
import json, sys
a, b, work = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
dup = dict(a, instances=a["instances"] + [b["instances"][0]])
json.dump(dup, open(work + "/dup.json", "w"))
open(work + "/dup.id", "w").write(b["instances"][0]["instance_id"])
json.dump(dict(b, run_id="other"), open(work + "/other-run.json", "w"))
json.dump(dict(b, shard=dict(b["shard"], count=4)), open(work + "/other-n.json", "w"))
json.dump({"hello": 1}, open(work + "/not-report.json", "w"))
PY
dup_id=$(cat "$work/dup.id")
run 2 "an instance in two reports" report merge "$work/dup.json" "$r2" "$r3" --out "$work/keep.json"
expect_err "an instance in two reports" "instance $dup_id is in two reports: '$work/dup.json' and '$r2'"
run 2 "mixed run ids" report merge "$r1" "$work/other-run.json"
expect_err "mixed run ids" "mixed runs: '$r1' is of run 's1', '$work/other-run.json' of run 'other'"
run 2 "another N" report merge "$r1" "$work/other-n.json"
expect_err "another N" "one run's shards all have the same N"
run 2 "a shard twice" report merge "$r1" "$r2" "$r1"
expect_err "a shard twice" "'$r1' and '$r1' are both shard 1/3 of run 's1'"
head -c 100 "$r1" >"$work/cut.json"
run 2 "a report cut short" report merge "$r1" "$work/cut.json"
expect_err "a report cut short" "'$work/cut.json' is not JSON"
run 2 "not a fleet report" report merge "$work/not-report.json"
expect_err "not a fleet report" "'$work/not-report.json': not a snapshot-fleet report"
run 2 "an unreadable file" report merge "$r1" "$work/nope.json"
expect_err "an unreadable file" "cannot read '$work/nope.json'"
run 2 "no report" report merge
check "bad input: --out untouched" cmp -s "$work/merged.json" "$work/keep.json"
run 2 "--json with --out -" report merge "$r1" --json --out -
expect_err "--json with --out -" "both write to standard output"

# 5. --shard: bad values are usage errors before any call; a shard never
# resumes another's journal.
n=$(wc -l <"$log")
for bad in 0/3 4/3 1/0 x/3 3 2/ 1/-3; do
  run 2 "--shard $bad" snapshot-fleet --instances-file "$work/ids.txt" --run-id s2 --shard "$bad"
  expect_err "--shard $bad" "--shard '$bad'"
done
run 2 "--shard without --run-id" snapshot-fleet --instances-file "$work/ids.txt" --shard 1/2
expect_err "--shard without --run-id" "--shard needs --run-id"
run 2 "--group-tag cbs-fleet-shard" snapshot-fleet --all --run-id s2 --group-tag cbs-fleet-shard=1/2
expect_err "--group-tag cbs-fleet-shard" "the tag cbs-fleet-shard is the run's own"
run 2 "shard 2 with shard 1's journal" snapshot-fleet --instances-file "$work/ids.txt" --run-id s1 --shard 2/3 \
  --journal "$state/s1.shard-1-of-3.journal" --report "$work/x.json"
expect_err "shard 2 with shard 1's journal" "was written for --shard '1/3'; this run has '2/3'"
check "bad --shard: nothing sent" test "$(wc -l <"$log")" -eq "$n"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
