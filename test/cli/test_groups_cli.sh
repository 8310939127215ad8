#!/usr/bin/env bash
# cbsctl groups list|show|delete and call's --all-pages, --output table and
# tccli-style parameters, end to end against `cbsctl emulator`: listing past
# one page (113 groups), every filter, the JSON shape, --limit, show, delete
# with and without --yes (checked on the emulator's side: the groups are gone
# and no second of its request log holds more than 20 DeleteSnapshotGroup),
# --help, and each bad-input row (exit 2 naming the option).
#
# usage: test_groups_cli.sh CBSCTL
. "$(dirname "$0")/lib.sh" "$1"
log=$work/emulator.jsonl
out=$work/out
err=$work/err

# run and expect_err: test/cli/lib.sh.
expect_out() { # expect_out NAME NEEDLE: the last run's stdout contains NEEDLE
  if grep -qF -- "$2" "$out"; then pass; else fail "$1: stdout lacks '$2': $(head -c 300 "$out")"; fi
}
# json EXPR: evaluates the Python expression EXPR on the last stdout parsed as JSON (d).
json() { python3 -c "import json,sys; d=json.load(open('$out')); print($1)" 2>/dev/null; }
expect_json() { # expect_json NAME EXPR WANT
  local got; got=$(json "$2")
  if [ "$got" = "$3" ]; then pass; else fail "$1: $2 is '$got', want '$3'"; fi
}
count_action() { grep -c "\"action\":\"$1\"" "$log" 2>/dev/null || true; }

# Groups stay CREATING 1.5 s (a delete then fails with StateError).
start_emulator --instances 110 --creating-time 1500ms --log "$log"

# 113 groups: 110 of run r1 (prefix fleet), 3 of run r2 (prefix nightly).
run 0 "fleet r1" snapshot-fleet --all --run-id r1 --report "$work/r1.json" --consistency-window 1s
mapfile -t instances < <(grep -o '"instance_id":"ins-[a-z0-9]*"' "$work/r1.json" | cut -d'"' -f4 | sort)
first=${instances[0]}
run 0 "fleet r2" snapshot-fleet --instances "${instances[0]},${instances[1]},${instances[2]}" --name-prefix nightly \
  --run-id r2 --report "$work/r2.json" --consistency-window 1s

# 1. Every page, the JSON shape, --limit.
pages_before=$(count_action DescribeSnapshotGroups)
run 0 "list all" groups list
expect_json "list: count" 'd["count"]' 113
expect_json "list: groups" 'len(d["groups"])' 113
expect_json "list: region" 'd["region"]' ap-guangzhou
expect_json "list: distinct ids" 'len({g["group_id"] for g in d["groups"]})' 113
expect_json "list: integers only" \
  'all(not isinstance(v, float) for g in d["groups"] for v in g.values())' True
expect_json "list: fleet name parts" \
  '[(g["prefix"], g["run_id"], g["instance_id"].startswith("ins-")) for g in d["groups"]][0]' "('fleet', 'r1', True)"
expect_json "list: member snapshots" 'all(g["snapshot_count"] == len(g["snapshot_ids"]) > 0 for g in d["groups"])' True
check "list: two pages (server log)" test $(($(count_action DescribeSnapshotGroups) - pages_before)) -ge 2
run 0 "list --limit 5" groups list --limit 5
expect_json "--limit 5" 'd["count"]' 5
pages_before=$(count_action DescribeSnapshotGroups)
run 0 "list --limit 30" groups list --limit 30 -o text
check "--limit 30: 30 lines" test "$(wc -l <"$out")" -eq 30
check "--limit 30: one page fetched (server log)" test $(($(count_action DescribeSnapshotGroups) - pages_before)) -eq 1

# 2. Filters.
list_count() { # list_count NAME WANT ARGS...: groups list ARGS prints WANT groups
  local name=$1 want=$2; shift 2
  run 0 "$name" groups list "$@" -o json
  expect_json "$name: count" 'd["count"]' "$want"
}
list_count "--run-id r2" 3 --run-id r2
list_count "--run-id r1" 110 --run-id r1
list_count "--name-prefix nightly" 3 --name-prefix nightly
list_count "--name-prefix fleet" 110 --name-prefix fleet
list_count "--name-prefix night (a prefix is whole)" 0 --name-prefix night
list_count "--instance" 2 --instance "$first"
list_count "--instance twice" 4 --instance "${instances[1]}" --instance "${instances[2]}"
list_count "--instance, --run-id, --name-prefix (exact name)" 1 --instance "$first" --run-id r2 --name-prefix nightly
list_count "--state NORMAL" 113 --state NORMAL
list_count "--state CREATING" 0 --state CREATING
list_count "--older-than 1h" 0 --older-than 1h
list_count "--older-than 400d" 0 --older-than 400d
list_count "--newer-than 1h" 113 --newer-than 1h
list_count "--newer-than 1h --run-id r2" 3 --newer-than 1h --run-id r2
run 0 "ids of r2" groups list --run-id r2 -o text
mapfile -t r2_ids < <(cut -f1 "$out")
list_count "--group-id" 1 --group-id "${r2_ids[0]}"
list_count "--group-id a,b" 2 --group-id "${r2_ids[0]},${r2_ids[1]}"
run 0 "list table" groups list --run-id r2 -o table
check "table: header" grep -q '^GROUP ID  *NAME  *STATE  *CREATED  *SNAPSHOTS  *INSTANCE$' "$out"
check "table: 3 rows" test "$(wc -l <"$out")" -eq 4
run 0 "list text" groups list --run-id r2 -o text
check "text: 6 tab-separated fields" test "$(awk -F'\t' 'NF == 6' "$out" | wc -l)" -eq 3
check "text: instance column" grep -qP "^csnap-[a-z0-9]{8}\tnightly-$first-r2\tNORMAL\t.*\t$first$" "$out"

# 3. show.
run 0 "show json" groups show "${r2_ids[0]}" -o json
expect_json "show: id" 'd["group"]["group_id"]' "${r2_ids[0]}"
expect_json "show: snapshots with disks" \
  'all(s["listed"] and s["disk_id"].startswith("disk-") for s in d["group"]["snapshots"]) and len(d["group"]["snapshots"]) > 0' True
run 0 "show table" groups show "${r2_ids[0]}" -o table
expect_out "show table: members" "SNAPSHOT ID"
expect_out "show table: instance" "Instance:"
run 1 "show a missing group" groups show csnap-00000000
expect_err "show a missing group" "csnap-00000000 not found"

# 4. call: --all-pages, --output table, tccli parameters.
run 0 "call --all-pages" call DescribeSnapshotGroups --all-pages
expect_json "--all-pages: every item" 'len(d["SnapshotGroupSet"])' 113
expect_json "--all-pages: TotalCount" 'd["TotalCount"]' 113
run 0 "call one page" call DescribeSnapshotGroups
expect_json "one page: 20 (the API's default)" 'len(d["SnapshotGroupSet"])' 20
run 0 "call tccli params" call DescribeDisks --Limit 100 --Filters "[{\"Name\":\"instance-id\",\"Values\":[\"$first\"]}]"
expect_json "tccli params: the instance's disks" "all(x['InstanceId'] == '$first' for x in d['DiskSet']) and d['TotalCount'] > 0" True
disk=$(json 'd["DiskSet"][0]["DiskId"]')
run 0 "call --DiskIds=" call DescribeDisks "--DiskIds=[\"$disk\"]"
expect_json "--DiskIds=: one disk" 'd["TotalCount"]' 1
run 0 "call --output table" call DescribeDisks --all-pages -o table
check "table: DiskId, DiskState, InstanceId columns" grep -q '^DiskId .*DiskState .*InstanceId' "$out"
check "table: a row per disk" test "$(grep -c '^disk-' "$out")" -ge 110
run 0 "call table without a set" call DescribeSnapshotGroups --Limit 1 -o table
expect_out "table: the set's columns" "SnapshotGroupId"

# 5. delete: a group still CREATING fails (exit 1), not confirmed (exit 2), then with --yes.
run 0 "create a group" call CreateSnapshotGroup --DiskIds "[\"$disk\"]" --SnapshotGroupName manual-one
creating=$(json 'd["SnapshotGroupId"]')
run 1 "delete a CREATING group" groups delete "$creating" --yes
expect_err "delete a CREATING group" "UnsupportedOperation.StateError"
expect_err "delete summary" "0 of 1 snapshot groups"
deletes_before=$(count_action DeleteSnapshotGroup)
run 2 "delete without --yes" groups delete --run-id r2
expect_err "delete without --yes" "refusing to delete 3 snapshot groups without --yes"
expect_out "delete without --yes: the plan" "nightly-$first-r2"
check "delete without --yes: nothing sent" test "$(count_action DeleteSnapshotGroup)" -eq "$deletes_before"
start=$(date +%s%N)
run 0 "delete r1 --yes" groups delete --run-id r1 --yes
ms=$((($(date +%s%N) - start) / 1000000))
check "delete r1: 110 lines" test "$(grep -c '^deleted csnap-' "$out")" -eq 110
expect_err "delete r1: summary" "deleted 110 of 110 snapshot groups"
check "delete r1: at most 20/s, so >= 5 s ($ms ms)" test "$ms" -ge 5000
run 0 "after delete" call DescribeSnapshotGroups --all-pages
expect_json "after delete: r1 gone (emulator)" \
  'sorted(g["SnapshotGroupName"].split("-")[0] for g in d["SnapshotGroupSet"])' "['manual', 'nightly', 'nightly', 'nightly']"
check "DeleteSnapshotGroup <= 20 in any 1 s window (emulator log)" python3 - "$log" <<'EOF'
import json, sys
t = sorted(r["time_ms"] for r in map(json.loads, open(sys.argv[1])) if r["action"] == "DeleteSnapshotGroup")
worst = max((sum(1 for u in t[i:] if u - s < 1000) for i, s in enumerate(t)), default=0)
print(f"  {len(t)} deletes, at most {worst} in a second")
sys.exit(0 if len(t) >= 110 and worst <= 20 else 1)
EOF
run 0 "delete by id, one twice" groups delete "${r2_ids[0]}" "${r2_ids[0]}" --yes --delete-bind-images
check "delete by id: once" test "$(grep -c '^deleted ' "$out")" -eq 1
run 0 "delete a deleted id" groups delete "${r2_ids[0]}" --yes
expect_out "delete a deleted id" "already deleted ${r2_ids[0]}"
run 0 "delete nothing" groups delete --run-id nosuchrun --yes
expect_out "delete nothing" "nothing to delete"

# 6. --help exits 0.
for c in "groups" "groups list" "groups show" "groups delete" "call"; do
  # shellcheck disable=SC2086
  run 0 "$c --help" $c --help
done
expect_out "call --help: tccli parameters" "--DiskIds"

# 7. Bad input: exit 2, naming the option.
bad() { # bad NAME NEEDLE ARGS...
  local name=$1 needle=$2; shift 2
  run 2 "$name" "$@"
  expect_err "$name" "$needle"
}
bad "unknown state" "--state 'FOO'" groups list --state FOO
bad "bad duration" "--older-than" groups list --older-than 5x
bad "bad --newer-than" "--newer-than" groups list --newer-than -1h
bad "bad instance" "--instance 'ins-1'" groups list --instance ins-1
bad "bad group id" "--group-id 'x'" groups list --group-id x
bad "bad run id" "--run-id" groups list --run-id 'a b'
bad "--limit 0" "--limit" groups list --limit 0
bad "bad output" "--output" groups list -o xml
bad "delete without a filter" "needs group IDs or a filter" groups delete --yes
bad "delete a bad id" "'csnap-1' is not a snapshot group id" groups delete csnap-1 --yes
bad "show without an id" "ID is required" groups show
bad "groups without a subcommand" "subcommand" groups
bad "--all-pages on a create" "--all-pages is only for Describe* actions" call CreateSnapshotGroup --all-pages
bad "tccli param in --body too" "--Limit conflicts with \"Limit\" in --body" call DescribeDisks --Limit 5 --body '{"Limit":5}'
bad "tccli param twice" "--Limit is given twice" call DescribeDisks --Limit 5 --Limit 6
bad "tccli param without value" "--Limit needs a value" call DescribeDisks --Limit
bad "malformed JSON parameter" "--Filters is not valid JSON" call DescribeDisks --Filters '[{"Name":'
bad "malformed --body" "--body is not valid JSON" call DescribeDisks --body '{"Limit":'
bad "unknown lower-case option" "unknown option '--limit'" call DescribeDisks --limit 5
bad "call output text" "--output expects json or table" call DescribeDisks -o text

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
