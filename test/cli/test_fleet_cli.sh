#!/usr/bin/env bash
# cbsctl snapshot-fleet end to end against `cbsctl emulator`: resume from
# anywhere, one run per run id, journal header checks, the report checked
# before any call, --report -, instance files with comments, the empty fleet,
# Ctrl-C (exit 130), --json numbers, and the secret key in no output, report
# or journal. Creates are counted in the emulator's request log (server side).
#
# usage: test_fleet_cli.sh CBSCTL
. "$(dirname "$0")/lib.sh" "$1"
mkdir -p "$work/d1" "$work/d2" "$work/d3"
state=$HOME/.local/state/cbs-async
all_output=$work/all-output
log=$work/emulator.jsonl

# run EXPECTED_STATUS NAME ARGS...: runs cbsctl in the current directory, keeps stdout/stderr.
run() {
  local want=$1 name=$2; shift 2
  "$cbsctl" "$@" >"$work/out" 2>"$work/err" </dev/null
  local got=$?
  cat "$work/out" "$work/err" >>"$all_output"
  if [ "$got" -ne "$want" ]; then fail "$name: exit $got, want $want; stderr: $(tail -5 "$work/err")"; else pass; fi
}
# expect_err NAME NEEDLE: the last run's stderr contains NEEDLE.
expect_err() {
  if grep -qF -- "$2" "$work/err"; then pass; else fail "$1: stderr lacks '$2': $(tail -5 "$work/err")"; fi
}
creates() { grep -c '"action":"CreateSnapshotGroup"' "$log" 2>/dev/null || true; }
requests() { wc -l <"$log"; }
# groups_of RUN_ID: the group names of a run in the emulator, one per line, sorted.
groups_of() {
  "$cbsctl" call DescribeSnapshotGroups --body '{"Limit":100}' 2>/dev/null |
    grep -o "\"SnapshotGroupName\":\"[^\"]*-$1\"" | sort
}

# The conditions the service shows, on for every run here: a 1 s listing lag,
# and creates carried out whose answer is lost (10%), slow (10%) or late (30%).
start_emulator --instances 10 --creating-time 200ms --log "$log" --list-lag 1000ms \
  --fault-action CreateSnapshotGroup --fault-reset-after 0.1 --fault-slow 0.1 --slow 500ms-1000ms \
  --fault-latency 0.3 --latency 20ms-200ms --fault-seed 3
EMU_SECRET=$TENCENTCLOUD_SECRET_KEY
fast=(--consistency-window 2s)  # longer than the listing lag

# 1. A run; its journal goes to the state directory, named by the run id.
cd "$work/d1"
run 0 "first run" snapshot-fleet --all --run-id a1 --report "$work/a1.json" "${fast[@]}"
check "journal in the state directory" test -f "$state/a1.journal"
check "no journal in the current directory" test -z "$(ls "$work/d1")"
check "a1 report all_ok" grep -q '"all_ok":true' "$work/a1.json"
expect_err "summary names the run" "run a1:"
expect_err "summary counts duplicates" "duplicates: 0 found, 0 deleted"
expect_err "summary counts pending" "0 never started (pending)"
expect_err "summary names the report" "report: $work/a1.json"
check "journal header" grep -q '"type":"header".*"run_id":"a1".*"region":"ap-guangzhou"' "$state/a1.journal"
a1_creates=$(creates)
check "a1 created 10 groups (server log: $a1_creates)" test "$a1_creates" -eq 10
ids=$(grep -o '"instance_id":"ins-[a-z0-9]*"' "$work/a1.json" | cut -d'"' -f4)

# 2. Resume from another directory (journal found in the state directory),
#    then from a third with the journal deleted: no new create either time.
cd "$work/d2"
run 0 "resume from another directory" snapshot-fleet --all --run-id a1 --report "$work/a1b.json" "${fast[@]}"
check "resume: 0 new creates" test "$(creates)" -eq "$a1_creates"
rm -f "$state/a1.journal"
cd "$work/d3"
run 0 "resume with no journal" snapshot-fleet --all --run-id a1 --report "$work/a1c.json" "${fast[@]}"
check "resume without journal: 0 new creates (server log)" test "$(creates)" -eq "$a1_creates"
check "resume without journal: every instance adopted" grep -q '"adopted":10' "$work/a1c.json"
# A torn last journal line (a crash mid-write): two resumes in a row both work.
printf '{"type":"normal","instance":"ins-torn' >>"$state/a1.journal"
run 0 "resume after a torn journal line" snapshot-fleet --all --run-id a1 --report "$work/a1d.json" "${fast[@]}"
run 0 "second resume after a torn journal line" snapshot-fleet --all --run-id a1 --report "$work/a1d.json" "${fast[@]}"
check "torn line truncated" bash -c "! grep -q 'ins-torn' '$state/a1.journal'"
check "torn line: 0 new creates" test "$(creates)" -eq "$a1_creates"
check "a1: one group per instance in the emulator" test "$(groups_of a1 | uniq | wc -l)" -eq 10 -a "$(groups_of a1 | wc -l)" -eq 10

# 3. The journal's identity: another prefix or region is refused, naming it, before any call.
before=$(requests)
run 2 "other prefix" snapshot-fleet --all --run-id a1 --name-prefix nightly --report "$work/x.json"
expect_err "other prefix" "--name-prefix 'fleet'; this run has 'nightly'"
run 2 "other region" snapshot-fleet --all --run-id a1 --region ap-shanghai --report "$work/x.json"
expect_err "other region" "--region 'ap-guangzhou'; this run has 'ap-shanghai'"
check "mismatches: no request sent" test "$(requests)" -eq "$before"
check "mismatches: no report" test ! -e "$work/x.json"

# 4. The report is checked before any call.
before=$(requests)
run 2 "report in a missing directory" snapshot-fleet --all --run-id r4 --report "$work/missing/r.json"
expect_err "report in a missing directory" "$work/missing"
run 2 "report is a directory" snapshot-fleet --all --run-id r4 --report "$work"
expect_err "report is a directory" "not a regular file"
run 2 "report /dev/stdout" snapshot-fleet --all --run-id r4 --report /dev/stdout
expect_err "report /dev/stdout" "--report '/dev/stdout'"
check "unwritable report: no request, no CreateSnapshotGroup" test "$(requests)" -eq "$before"
check "unwritable report: no temporary left" test -z "$(ls -A "$work/d3")"

# 5. --report - writes the report on stdout; an instances file with comments.
printf '# two instances of the fleet\n\n%s   # the first\n%s,\n  # done\n' \
  "$(echo "$ids" | sed -n 1p)" "$(echo "$ids" | sed -n 2p)" >"$work/ids.txt"
run 0 "--report - with an instances file" snapshot-fleet --instances-file "$work/ids.txt" --run-id r5 --report - "${fast[@]}"
check "--report -: the report on stdout" grep -q '"run_id":"r5"' "$work/out"
check "--report -: no file named -" test ! -e "$work/d3/-"
check "instances file: comments ignored" test "$(grep -o '"instance_id"' "$work/out" | wc -l)" -eq 2
check "instances file: both normal" test "$(grep -o '"outcome":"normal"' "$work/out" | wc -l)" -eq 2
expect_err "--report -" "report: standard output"

# 6. --json: the summary with plain decimal numbers.
run 0 "--json" snapshot-fleet --instances "$(echo "$ids" | sed -n 3p)" --run-id r6 --json --report "$work/r6.json" "${fast[@]}"
check "--json summary" grep -q '"run_id":"r6".*"report":"'"$work"'/r6.json"' "$work/out"
check "--json: no exponent in numbers" bash -c "! grep -qE ':-?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]' '$work/out' '$work/r6.json'"
check "--json: fixed decimals" grep -qE '"total_s":[0-9]+\.[0-9]{3}[,}]' "$work/out"

# 7. The empty fleet: exit 2 unless --allow-empty.
printf '# nothing here\n\n   \n' >"$work/empty.txt"
run 2 "empty instances file" snapshot-fleet --instances-file "$work/empty.txt" --run-id e1 --report "$work/e1.json"
expect_err "empty instances file" "lists no instance"
run 0 "empty instances file, --allow-empty" snapshot-fleet --instances-file "$work/empty.txt" --run-id e2 --allow-empty --report "$work/e2.json"
run 2 "empty region" snapshot-fleet --all --region ap-shanghai --run-id e3 --report "$work/e3.json"
expect_err "empty region" "ap-shanghai"
run 0 "empty region, --allow-empty" snapshot-fleet --all --region ap-shanghai --run-id e4 --allow-empty --report "$work/e4.json"

# 8. Two runs with one run id at once: the second is refused (exit 2) naming
#    the journal; Ctrl-C on the first: exit 130, the report says interrupted;
#    the resume completes it with one group per instance.
"$cbsctl" snapshot-fleet --all --run-id b1 --rate CreateSnapshotGroup=2 --report "$work/b1.json" "${fast[@]}" \
  >"$work/b1.out" 2>"$work/b1.err" </dev/null &
victim=$!
for _ in $(seq 50); do [ -s "$state/b1.journal" ] && break; sleep 0.1; done
sleep 0.5
run 2 "a second run with the same run id" snapshot-fleet --all --run-id b1 --report "$work/b1-second.json"
expect_err "a second run with the same run id" "$state/b1.journal"
expect_err "a second run with the same run id" "in progress"
kill -INT "$victim"
wait "$victim"
st=$?
cat "$work/b1.out" "$work/b1.err" >>"$all_output"
check "Ctrl-C: exit 130 (got $st)" test "$st" -eq 130
check "Ctrl-C: report says interrupted" grep -q '"interrupted":true' "$work/b1.json"
check "Ctrl-C: summary names the never started" grep -q "never started" "$work/b1.err"
check "Ctrl-C: second run wrote no report" test ! -e "$work/b1-second.json"
run 0 "resume after Ctrl-C" snapshot-fleet --all --run-id b1 --report "$work/b1.json" "${fast[@]}"
check "b1: one group per instance" test "$(groups_of b1 | uniq | wc -l)" -eq 10 -a "$(groups_of b1 | wc -l)" -eq 10

# 9. Default run ids differ even within one second.
"$cbsctl" snapshot-fleet --instances "$(echo "$ids" | sed -n 4p)" --no-wait "${fast[@]}" >/dev/null 2>"$work/g1.err" </dev/null &
g1=$!
"$cbsctl" snapshot-fleet --instances "$(echo "$ids" | sed -n 5p)" --no-wait "${fast[@]}" >/dev/null 2>"$work/g2.err" </dev/null
wait "$g1"
cat "$work/g1.err" "$work/g2.err" >>"$all_output"
id1=$(grep -o 'run id [^ ,]*' "$work/g1.err" | head -1)
id2=$(grep -o 'run id [^ ,]*' "$work/g2.err" | head -1)
check "default run ids ($id1, $id2) differ" test -n "$id1" -a -n "$id2" -a "$id1" != "$id2"
rm -f "$work"/d3/cbsctl-*.report.json

# 10. The secret key is in no output, report or journal.
check "secret key in no output" bash -c "! grep -qF -- '$EMU_SECRET' '$all_output'"
check "secret key in no report or journal" bash -c "! grep -rqF -- '$EMU_SECRET' '$work'/*.json '$state'"
check "SecretId not in the journal (only its fingerprint)" bash -c "! grep -rqF -- '$TENCENTCLOUD_SECRET_ID' '$state'"

kill -TERM "$emu_pid" 2>/dev/null
wait "$emu_pid" 2>/dev/null
emu_pid=
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
