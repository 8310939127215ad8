#!/usr/bin/env bash
# cbsctl snapshot-fleet over two regions in one run, against `cbsctl
# emulator --regions`, with a listing lag and creates whose answers are lost,
# slow or late. Checked from the emulator's side: every instance of both
# regions has exactly one group of the run (DescribeSnapshotGroups per
# region), and the request log never shows more than 20 creates in any 1 s:
# per region, and for both together under --rate-scope account (the
# emulator's windows shared across regions); --rate-scope region against an
# emulator with --per-region-limits holds each region to 20. Also the dry
# run (nothing created), --group-tag, --json and the bad-input rows.
#
# usage: test_regions_cli.sh CBSCTL
. "$(dirname "$0")/lib.sh" "$1"
cd "$work"
regions=ap-guangzhou,ap-shanghai

# run and expect_err: test/cli/lib.sh.

# start_regions_emulator LOG EXTRA...: two regions of 25 instances, the service's
# conditions on: a 1 s listing lag, creates carried out whose answer is lost
# (10%), slow (10%) or late (30%).
start_regions_emulator() {
  local log=$1; shift
  start_emulator --instances 25 --region ap-guangzhou --regions ap-shanghai --creating-time 200ms --log "$log" \
    --list-lag 1000ms --fault-action CreateSnapshotGroup --fault-reset-after 0.1 --fault-slow 0.1 \
    --slow 500ms-1000ms --fault-latency 0.3 --latency 20ms-200ms --fault-seed 5 "$@"
}

# covered RUN_ID: every instance with disks in both regions has exactly one
# group named for the run (the emulator's DescribeDisks and DescribeSnapshotGroups).
covered() {
  local r
  for r in ap-guangzhou ap-shanghai; do
    "$cbsctl" call DescribeDisks --region "$r" --all-pages >"$work/disks.$r.json" 2>>"$work/err" || return 1
    "$cbsctl" call DescribeSnapshotGroups --region "$r" --all-pages >"$work/groups.$r.json" 2>>"$work/err" || return 1
    python3 - "$work/disks.$r.json" "$work/groups.$r.json" "$1" "$r" <<'PY' || return 1
import json, sys, collections
disks = json.load(open(sys.argv[1]))["DiskSet"]
groups = json.load(open(sys.argv[2]))["SnapshotGroupSet"]
run, region = sys.argv[3], sys.argv[4]
instances = {d["InstanceId"] for d in disks if d.get("InstanceId")}
count = collections.Counter()
for g in groups:
    name = g["SnapshotGroupName"]
    if name.endswith("-" + run):
        count[name[len("fleet-"):-len(run) - 1]] += 1
bad = [i for i in instances if count[i] != 1] + [i for i in count if i not in instances]
if bad or not instances:
    print(f"{region}: {len(instances)} instances, not exactly one group of {run}: {bad[:5]}")
    sys.exit(1)
PY
  done
}

# max_rate LOG REGION|all: most CreateSnapshotGroup requests in any 1 s
# window of the emulator's log (every arrival, refused ones too).
max_rate() {
  python3 - "$1" "$2" <<'PY'
import json, sys
t = sorted(r["time_ms"] for r in map(json.loads, open(sys.argv[1]))
           if r["action"] == "CreateSnapshotGroup" and sys.argv[2] in ("all", r.get("region")))
best, lo = 0, 0
for hi in range(len(t)):
    while t[hi] - t[lo] >= 1000: lo += 1
    best = max(best, hi - lo + 1)
print(best)
PY
}
throttled() { grep -c '"throttled":true' "$1" || true; }

# 1. The dry run: a plan per region, nothing created.
log1=$work/emulator1.jsonl
start_regions_emulator "$log1"
run 0 "dry run" snapshot-fleet --all --regions "$regions" --run-id r1 --dry-run --json
check "dry run: both regions planned" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dry_run"] and [r["region"] for r in d["regions"]] == ["ap-guangzhou", "ap-shanghai"], d
assert all(r["groups_to_create"] > 0 for r in d["regions"]) and d["create_seconds_estimate"] >= 1, d
' "$work/out"
check "dry run: no create in the emulator's log" test "$(grep -c CreateSnapshotGroup "$log1")" -eq 0
check "dry run: no journal" test ! -e "$HOME/.local/state/cbs-async/r1.journal.ap-guangzhou"

# 2. Account scope (the default): both regions in one run, the emulator
# counting one window across regions.
run 0 "two regions, account scope" snapshot-fleet --all --regions "$regions" --run-id r1 --group-tag team=db \
  --consistency-window 2s --json --report "$work/r1.json"
check "r1: every instance of both regions covered once" covered r1
check "r1: report has a section per region" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d["regions"]) == {"ap-guangzhou", "ap-shanghai"}, d.keys()
assert d["summary"]["all_ok"] is True and d["summary"]["instances"] == sum(
    r["summary"]["instances"] for r in d["regions"].values()), d["summary"]
' "$work/r1.json"
check "r1: --json names the regions and the report" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["run_id"] == "r1" and set(d["regions"]) == {"ap-guangzhou", "ap-shanghai"} and d["exit_status"] == 0, d
' "$work/out"
check "r1: a journal per region" test -f "$HOME/.local/state/cbs-async/r1.journal.ap-shanghai"
all=$(max_rate "$log1" all)
gz=$(max_rate "$log1" ap-guangzhou)
check "r1: both regions together at most 20 creates in any 1 s (saw $all)" test "$all" -le 20
check "r1: ap-guangzhou at most 20 creates in any 1 s (saw $gz)" test "$gz" -le 20
check "r1: no request throttled" test "$(throttled "$log1")" -eq 0
check "r1: the faults happened" grep -q '"fault":"reset_after"' "$log1"

# A re-run of the same run id creates nothing; its quota pre-flight counts
# the snapshots r1 left (DescribeSnapshots) and warns, per region.
before=$(grep -c '"action":"CreateSnapshotGroup"' "$log1")
run 0 "r1 again" snapshot-fleet --all --regions "$regions" --run-id r1 --consistency-window 2s --report "$work/r1b.json" \
  --snapshot-quota 10
check "r1 again: no create sent" test "$(grep -c '"action":"CreateSnapshotGroup"' "$log1")" -eq "$before"
expect_err "r1 again: quota warning for ap-shanghai" "warning: ap-shanghai holds"
expect_err "r1 again: the warning names the quota" "over the quota of 10"
# The dry run of a finished run: everything exists, nothing to create, and
# the quota compared per region.
run 0 "dry run of r1" snapshot-fleet --all --regions "$regions" --run-id r1 --dry-run --json --snapshot-quota 100000
check "dry run of r1: every group exists, none to create, under the quota" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["regions"]:
    assert r["groups_to_create"] == 0 and r["groups_existing"] > 0 and r["snapshots_held"] > 0, r
    assert r["over_quota"] is False, r
' "$work/out"
run 0 "dry run over the quota" snapshot-fleet --all --regions "$regions" --run-id r9 --dry-run --snapshot-quota 10
check "dry run over the quota: warned in the plan" grep -q "is over the quota of 10" "$work/out"

# 3. Region scope against an emulator with a window per region.
log2=$work/emulator2.jsonl
start_regions_emulator "$log2" --per-region-limits
run 0 "two regions, region scope" snapshot-fleet --all --regions "$regions" --run-id r2 --rate-scope region \
  --consistency-window 2s --report "$work/r2.json"
check "r2: every instance of both regions covered once" covered r2
for r in ap-guangzhou ap-shanghai; do
  m=$(max_rate "$log2" $r)
  check "r2: $r at most 20 creates in any 1 s (saw $m)" test "$m" -le 20
done
check "r2: no request throttled" test "$(throttled "$log2")" -eq 0

# 4. Bad input: exit 2 naming the option, nothing sent.
n=$(wc -l <"$log2")
run 2 "--regions without --all" snapshot-fleet --instances ins-00000001 --regions "$regions"
expect_err "--regions without --all" "--regions with several regions needs --all"
run 2 "--region and --regions" snapshot-fleet --all --region ap-guangzhou --regions "$regions"
expect_err "--region and --regions" "--region and --regions are exclusive"
run 2 "a region twice" snapshot-fleet --all --regions ap-guangzhou,ap-guangzhou
expect_err "a region twice" "lists 'ap-guangzhou' twice"
run 2 "bad --rate-scope" snapshot-fleet --all --rate-scope galaxy
expect_err "bad --rate-scope" "--rate-scope"
run 2 "bad --group-tag" snapshot-fleet --all --group-tag novalue
expect_err "bad --group-tag" "--group-tag expects KEY=VALUE"
run 2 "--dry-run with --report" snapshot-fleet --all --dry-run --report x.json
expect_err "--dry-run with --report" "--dry-run writes no journal and no report"
run 2 "bad --snapshot-quota" snapshot-fleet --all --snapshot-quota -3
expect_err "bad --snapshot-quota" "--snapshot-quota"
check "bad input: nothing sent" test "$(wc -l <"$log2")" -eq "$n"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
