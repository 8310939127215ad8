#!/usr/bin/env bash
# cbsctl end to end: dry-run bytes, exit codes, connection reuse against a
# TC3-verifying HTTPS server on loopback, and the secret key in no output.
set -uo pipefail
cbsctl=$(realpath "$1")
fake=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null' EXIT
failures=0; passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { passes=$((passes + 1)); }
export HOME=$work/home; mkdir -p "$HOME"
unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_CREDENTIALS_FILE \
      TENCENTCLOUD_REGION CBS_ENDPOINT CBS_CA_FILE CBS_METADATA_ENDPOINT CBS_STS_ENDPOINT \
      https_proxy HTTPS_PROXY no_proxy NO_PROXY TKE_REGION TKE_PROVIDER_ID TKE_WEB_IDENTITY_TOKEN_FILE TKE_ROLE_ARN
SECRET=SECRETEXAMPLE
all_output=$work/all-output

# run EXPECTED_STATUS NAME ARGS... : runs cbsctl, keeps stdout/stderr, checks the status.
run() {
  local want=$1 name=$2; shift 2
  "$cbsctl" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  cat "$work/out" "$work/err" >>"$all_output"
  if [ "$got" -ne "$want" ]; then fail "$name: exit $got, want $want; stderr: $(cat "$work/err")"; else pass; fi
}

export TENCENTCLOUD_SECRET_ID=AKIDEXAMPLE TENCENTCLOUD_SECRET_KEY=$SECRET

# 1. Dry run: byte-identical to what the official SDK signs for these inputs.
run 0 "dry-run" call DescribeDisks --body '{"DiskIds":["disk-11112222"]}' --dry-run --timestamp 1700000000
printf 'POST / HTTP/1.1\r\nHost: cbs.tencentcloudapi.com\r\nAuthorization: TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/cbs/tc3_request, SignedHeaders=content-type;host, Signature=92581aaec414fd01618f34367b7c495303ba35daf900cf36534b281f777e6001\r\nContent-Type: application/json; charset=utf-8\r\nX-TC-Action: DescribeDisks\r\nX-TC-Timestamp: 1700000000\r\nX-TC-Version: 2017-03-12\r\nX-TC-Region: ap-guangzhou\r\nX-TC-RequestClient: cbs-async/0.1.0\r\nContent-Length: 29\r\n\r\n{"DiskIds":["disk-11112222"]}' >"$work/expected"
cmp -s "$work/out" "$work/expected" && pass || fail "dry-run bytes differ: $(diff <(cat -A "$work/expected") <(cat -A "$work/out"))"

# 2. Usage and configuration errors: exit 2 with a message naming the problem.
expect_usage() {
  local needle=$1; shift
  run 2 "usage: $*" "$@"
  grep -q -- "$needle" "$work/err" && pass || fail "usage: $*: stderr lacks '$needle': $(cat "$work/err")"
}
expect_usage "usage" 
expect_usage "unknown command" frobnicate
expect_usage "needs an <Action>" call
expect_usage "unknown option '--nope'" call DescribeDisks --nope
expect_usage "not valid JSON" call DescribeDisks --body '{"DiskIds":'
expect_usage "must be a JSON object" call DescribeDisks --body '[1]'
expect_usage "cannot read --body file" call DescribeDisks --body @/nonexistent/body.json
expect_usage "only allowed with --dry-run" call DescribeDisks --timestamp 5
expect_usage "--timeout expects a duration like 500ms" call DescribeDisks --timeout abc
expect_usage "--timeout expects a duration" call DescribeDisks --timeout 1.5s
expect_usage "--timeout must be positive, got '0'" call DescribeDisks --timeout 0
expect_usage "--timeout must be positive, got '0ms'" call DescribeDisks --timeout 0ms
expect_usage "--timeout must be positive, got '-5'" call DescribeDisks --timeout -5
expect_usage "--deadline must be positive, got '0s'" call DescribeDisks --deadline 0s
expect_usage "--deadline must be positive, got '-1'" call DescribeDisks --deadline=-1
expect_usage "--deadline expects a duration" call DescribeDisks --deadline soon
# Huge durations are clamped, not overflowed: the call is rendered as usual.
run 0 "huge --timeout and --deadline" call DescribeDisks --dry-run --timestamp 1700000000 \
    --timeout 999999999999999999999999999h --deadline 9223372036854775807ms
expect_usage "not https" call DescribeDisks --endpoint http://127.0.0.1:8080
expect_usage "no host" call DescribeDisks --endpoint https://
expect_usage "region" call DescribeDisks --region 'Bad Region'
expect_usage "cannot load CA file" call DescribeDisks --ca-file /nonexistent/ca.pem
(unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY; expect_usage "no credentials" call DescribeDisks --dry-run)
expect_usage "profile \"nope\" was asked for" call DescribeDisks --dry-run --profile nope

# 2b. --dry-run masks the session token; the signed lines stay byte-identical.
TENCENTCLOUD_SESSION_TOKEN=TOKENVALUE0123456789 run 0 "dry-run with a token" call DescribeDisks \
    --body '{"DiskIds":["disk-11112222"]}' --dry-run --timestamp 1700000000
grep -q "TOKENVALUE0123456789" "$work/out" && fail "dry-run printed the session token" || pass
grep -q $'^X-TC-Token: \\*\\*\\* (20 characters, masked)\r$' "$work/out" && pass || fail "dry-run token line: $(grep -a X-TC-Token "$work/out")"
[ "$(grep -a '^Authorization:' "$work/out")" = "$(grep -a '^Authorization:' "$work/expected")" ] && pass \
  || fail "dry-run with a token: Authorization differs"

# 2c. An explicit --profile beats the environment (as with aws-cli and tccli).
mkdir -p "$HOME/.tencentcloud"
printf '[prod]\nsecret_id = AKIDPROFILE\nsecret_key = %s\n' "$SECRET" >"$HOME/.tencentcloud/credentials"
chmod 600 "$HOME/.tencentcloud/credentials"
run 0 "--profile beats the environment" call DescribeDisks --dry-run --timestamp 1700000000 --profile prod
grep -q "Credential=AKIDPROFILE/" "$work/out" && pass || fail "--profile prod: $(grep -a Authorization "$work/out")"
run 0 "no --profile: the environment" call DescribeDisks --dry-run --timestamp 1700000000
grep -q "Credential=AKIDEXAMPLE/" "$work/out" && pass || fail "no --profile: $(grep -a Authorization "$work/out")"
(unset TENCENTCLOUD_SECRET_KEY; expect_usage "TENCENTCLOUD_SECRET_KEY" call DescribeDisks --dry-run)

# 4. Against a TC3-verifying HTTPS server on loopback: succeeds, reuses its connection.
if [ -x "$fake" ]; then
  "$fake" AKIDEXAMPLE "$SECRET" >"$work/fake.out" 2>&1 </dev/null &
  fake_pid=$!
  for _ in $(seq 100); do [ -s "$work/fake.out" ] && break; sleep 0.1; done
  read -r port ca <"$work/fake.out"
  printf '[server]\nsecret_id = AKIDEXAMPLE\nsecret_key = %s\n' "$SECRET" >>"$HOME/.tencentcloud/credentials"
  run 0 "call over TLS" call CreateSnapshotGroup --body '{"DiskIds":["disk-11112222"]}' \
      --endpoint "https://localhost:$port" --ca-file "$ca" --repeat 3 --verbose
  [ "$(grep -c csnap-fake0001 "$work/out")" -eq 3 ] && pass || fail "call over TLS: stdout $(cat "$work/out")"
  grep -q "call 3: .* connections opened 1, reused 2" "$work/err" && pass || fail "no reuse: $(cat "$work/err")"
  grep -q "credentials from environment" "$work/err" && pass || fail "--verbose source: $(cat "$work/err")"
  # --profile wins over (wrong) environment credentials: the server accepts the profile's signature.
  TENCENTCLOUD_SECRET_ID=AKIDEXAMPLE TENCENTCLOUD_SECRET_KEY=wrong-key run 0 "--profile over a wrong environment" \
      call DescribeDisks --endpoint "https://localhost:$port" --ca-file "$ca" --profile server --verbose
  grep -q "credentials from profile \"server\" in $HOME/.tencentcloud/credentials" "$work/err" && pass \
    || fail "--verbose profile source: $(cat "$work/err")"
  TENCENTCLOUD_SECRET_KEY=wrong-key run 1 "wrong key" call DescribeDisks --endpoint "https://localhost:$port" --ca-file "$ca"
  grep -q "AuthFailure.SignatureFailure: signature mismatch (RequestId " "$work/err" && pass || fail "wrong key: $(cat "$work/err")"
  run 1 "untrusted CA" call DescribeDisks --endpoint "https://localhost:$port"
  grep -q "TLS handshake" "$work/err" && pass || fail "untrusted CA: $(cat "$work/err")"
  kill "$fake_pid" 2>/dev/null
  wait "$fake_pid" 2>/dev/null
  # 3. The call fails (exit 1): nothing listens on that port any more.
  run 1 "unreachable" call DescribeDisks --endpoint "https://127.0.0.1:$port" --timeout 5
  grep -q "connecting to 127.0.0.1:$port" "$work/err" && pass || fail "unreachable: $(cat "$work/err")"
else
  fail "fake server $fake not built"
fi

# 5. snapshot-fleet against `cbsctl emulator`: report, exit codes, bad input, kill -9 and resume.
emu_out=$work/emulator.out
"$cbsctl" emulator --instances 30 --creating-time 200ms --fault-reset-after 0.1 --fault-action CreateSnapshotGroup \
  >"$emu_out" 2>&1 </dev/null &
emu_pid=$!
for _ in $(seq 100); do grep -q "^export TENCENTCLOUD_SECRET_KEY" "$emu_out" 2>/dev/null && break; sleep 0.1; done
if grep -q "^export CBS_ENDPOINT" "$emu_out"; then
  eval "$(grep '^export ' "$emu_out")"
  EMU_SECRET=$TENCENTCLOUD_SECRET_KEY
  cd "$work"
  run 0 "snapshot-fleet --all" snapshot-fleet --all --run-id r1 --report "$work/r1.json"
  grep -q '"all_ok":true' "$work/r1.json" && pass || fail "r1 report: $(head -c 300 "$work/r1.json")"
  state_dir=${CBS_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/cbs-async}
  [ -f "$state_dir/r1.journal" ] && pass || fail "no default journal $state_dir/r1.journal"
  ids=$(grep -o '"instance_id":"ins-[a-z0-9]*"' "$work/r1.json" | cut -d'"' -f4 | head -5 | paste -sd, -)

  # kill -9 mid-run, then the same command again: every instance exactly once.
  "$cbsctl" snapshot-fleet --all --run-id r2 --journal "$work/r2.journal" --report "$work/r2.json" >/dev/null 2>&1 &
  victim=$!
  sleep 0.8
  kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
  run 0 "resume after kill -9" snapshot-fleet --all --run-id r2 --journal "$work/r2.journal" --report "$work/r2.json"
  want=$(grep -o '"outcome":"normal"' "$work/r2.json" | wc -l)
  run 0 "list groups" call DescribeSnapshotGroups --body '{"Limit":100}'
  names=$(grep -o '"SnapshotGroupName":"[^"]*-r2"' "$work/out" | sort)
  [ "$(printf '%s\n' "$names" | grep -c .)" -eq "$want" ] && [ -z "$(printf '%s\n' "$names" | uniq -d)" ] && pass \
    || fail "after resume: $want instances normal, groups: $(printf '%s\n' "$names" | grep -c .), duplicates: $(printf '%s\n' "$names" | uniq -d)"

  # Ctrl-C mid-run: exit 130, the report is written, a re-run with the same run id completes it.
  "$cbsctl" snapshot-fleet --all --run-id r5 --report "$work/r5.json" >/dev/null 2>"$work/r5.err" &
  victim=$!
  sleep 0.8
  kill -INT "$victim"; wait "$victim"
  st=$?
  [ "$st" -eq 130 ] && grep -q '"pending"' "$work/r5.json" && pass \
    || fail "Ctrl-C: exit $st, report: $(head -c 200 "$work/r5.json" 2>&1), stderr: $(tail -3 "$work/r5.err")"
  run 0 "resume after Ctrl-C" snapshot-fleet --all --run-id r5 --report "$work/r5.json"
  want=$(grep -o '"outcome":"normal"' "$work/r5.json" | wc -l)
  run 0 "list groups" call DescribeSnapshotGroups --body '{"Limit":100,"Filters":[{"Name":"snapshot-group-state","Values":["NORMAL","CREATING"]}]}'
  names=$(grep -o '"SnapshotGroupName":"[^"]*-r5"' "$work/out" | sort)
  [ "$(printf '%s\n' "$names" | grep -c .)" -eq "$want" ] && [ -z "$(printf '%s\n' "$names" | uniq -d)" ] && pass \
    || fail "after Ctrl-C and resume: $want normal, groups $(printf '%s\n' "$names" | grep -c .)"

  # Bad input: usage errors (2) and per-instance failures (1, the others proceed).
  expect_usage "listed twice" snapshot-fleet --instances "ins-aaaaaaaa,ins-aaaaaaaa" --run-id x
  expect_usage "cannot read --instances-file" snapshot-fleet --instances-file /nonexistent/ids --run-id x
  expect_usage "--tag only applies with --all" snapshot-fleet --instances ins-aaaaaaaa --tag env=prod --run-id x
  expect_usage "duration" snapshot-fleet --all --deadline soon --run-id x
  expect_usage "needs --instances" snapshot-fleet --run-id x
  run 1 "unknown instance" snapshot-fleet --instances "$ids,ins-zzzzzzzz" --run-id r3 --report "$work/r3.json"
  grep -q '"instance_id":"ins-zzzzzzzz","outcome":"failed"' "$work/r3.json" && pass || fail "r3: $(head -c 400 "$work/r3.json")"
  [ "$(grep -o '"outcome":"normal"' "$work/r3.json" | wc -l)" -ge 1 ] && pass || fail "r3: the others did not proceed"
  cd - >/dev/null
  kill -TERM "$emu_pid" 2>/dev/null; wait "$emu_pid"
  emu_status=$?
  [ "$emu_status" -eq 0 ] && pass || fail "cbsctl emulator exited $emu_status on SIGTERM, want 0"
  if grep -q -- "$EMU_SECRET" "$all_output"; then fail "the emulator's secret key was printed by cbsctl"; else pass; fi
  # ... nor written into a report or a journal.
  if grep -l -- "$EMU_SECRET" "$work"/*.json "$work"/*.journal "$state_dir"/*.journal 2>/dev/null; then fail "the secret key is in a report or journal"; else pass; fi
else
  fail "cbsctl emulator did not start: $(cat "$emu_out")"
  kill "$emu_pid" 2>/dev/null
fi

# 5b. No keys anywhere: only the emulator's metadata service (a CVM instance
#     role, temporary credentials that expire every 30 s). `call` works on the role.
meta_out=$work/emulator-meta.out
"$cbsctl" emulator --instances 5 --metadata --temp-lifetime 30s >"$meta_out" 2>&1 </dev/null &
meta_pid=$!
for _ in $(seq 100); do grep -q "^export CBS_METADATA_ENDPOINT" "$meta_out" 2>/dev/null && break; sleep 0.1; done
if grep -q "^export CBS_METADATA_ENDPOINT" "$meta_out"; then
  meta_endpoint=$(sed -n "s/^export CBS_METADATA_ENDPOINT=//p" "$meta_out" | tr -d "'\"")
  api_endpoint=$(sed -n "s/^export CBS_ENDPOINT=//p" "$meta_out" | tr -d "'\"")
  api_ca=$(sed -n "s/^export CBS_CA_FILE=//p" "$meta_out" | tr -d "'\"")
  role_run() {  # role_run EXPECTED NAME ARGS...: cbsctl with no keys, only the three variables
    local want=$1 name=$2; shift 2
    mkdir -p "$work/role-home"  # no credentials file either
    env -u TENCENTCLOUD_SECRET_ID -u TENCENTCLOUD_SECRET_KEY -u TENCENTCLOUD_SESSION_TOKEN HOME="$work/role-home" \
      CBS_ENDPOINT="$api_endpoint" CBS_CA_FILE="$api_ca" CBS_METADATA_ENDPOINT="$meta_endpoint" \
      "$cbsctl" "$@" >"$work/out" 2>"$work/err" </dev/null
    local got=$?
    cat "$work/out" "$work/err" >>"$all_output"
    [ "$got" -eq "$want" ] && pass || fail "$name: exit $got, want $want; stderr: $(tail -5 "$work/err")"
  }
  role_run 0 "call with only CBS_METADATA_ENDPOINT (CVM role)" call DescribeDisks --verbose
  grep -q '"TotalCount"' "$work/out" && pass || fail "CVM role call: no DescribeDisks answer: $(head -c 300 "$work/out")"
  grep -qi "role" "$work/err" && pass || fail "CVM role call: --verbose does not name the role source: $(cat "$work/err")"
  grep -q "TmpSecretKey\|X-TC-Token: [^*]" "$work/out" "$work/err" && fail "CVM role call printed a secret" || pass
else
  fail "cbsctl emulator --metadata did not start: $(cat "$meta_out")"
fi
kill -TERM "$meta_pid" 2>/dev/null; wait "$meta_pid" 2>/dev/null

# 6. The secret key appears in no output of any run above.
if grep -q "$SECRET" "$all_output"; then fail "the secret key was printed"; else pass; fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
