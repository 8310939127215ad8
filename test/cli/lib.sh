# Shared set-up of the cbsctl CLI tests, sourced as
#   . "$(dirname "$0")/lib.sh" CBSCTL
# It sets `cbsctl` (absolute path), `work` (a temporary directory removed on
# exit, with the emulator in `emu_pid` killed), HOME inside it, a clean
# environment (no credentials, endpoint, region or proxy from the caller),
# and the counters with fail / pass / check. Each script ends with
#   echo "$passes passed, $failures failed"; [ "$failures" -eq 0 ]
# shellcheck shell=bash
set -uo pipefail
cbsctl=$(realpath "$1")
work=$(mktemp -d)
emu_pid=
# Only the script's own shell cleans up: `bash -x` showed this trap run in a
# subshell (between stopping one emulator and starting the next), removing
# $work under the rest of the script.
main_shell=$BASHPID
trap 'if [ "$BASHPID" = "$main_shell" ]; then rm -rf "$work"; [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; fi' EXIT
failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { passes=$((passes + 1)); }
check() { # check NAME COMMAND...: passes if the command succeeds
  local name=$1; shift
  if "$@"; then pass; else fail "$name"; fi
}
export HOME=$work/home
mkdir -p "$HOME"
unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY TENCENTCLOUD_SESSION_TOKEN TENCENTCLOUD_CREDENTIALS_FILE \
      TENCENTCLOUD_REGION CBS_REGION CBS_ENDPOINT CBS_CA_FILE CBS_STATE_DIR XDG_STATE_HOME CBS_METADATA_ENDPOINT \
      CBS_STS_ENDPOINT https_proxy HTTPS_PROXY no_proxy NO_PROXY TKE_REGION TKE_PROVIDER_ID \
      TKE_WEB_IDENTITY_TOKEN_FILE TKE_ROLE_ARN

# start_emulator ARGS...: starts `cbsctl emulator ARGS` (stopping one this
# script started before), waits for its export lines and evaluates them
# (endpoint, CA file, keys); a failure to start ends the script.
start_emulator() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; fi
  rm -f "$work/emulator.out"
  "$cbsctl" emulator "$@" >"$work/emulator.out" 2>&1 </dev/null &
  emu_pid=$!
  for _ in $(seq 100); do grep -q "^export TENCENTCLOUD_SECRET_KEY" "$work/emulator.out" 2>/dev/null && break; sleep 0.1; done
  if ! grep -q "^export CBS_ENDPOINT" "$work/emulator.out"; then
    fail "cbsctl emulator did not start: $(cat "$work/emulator.out")"
    echo "$passes passed, $failures failed"
    exit 1
  fi
  eval "$(grep '^export ' "$work/emulator.out")"
}

# run EXPECTED_STATUS NAME ARGS...: runs cbsctl with no terminal, keeps its
# stdout in $work/out and stderr in $work/err; passes when the exit status is
# the one expected.
run() {
  local want=$1 name=$2; shift 2
  "$cbsctl" "$@" >"$work/out" 2>"$work/err" </dev/null
  local got=$?
  if [ "$got" -ne "$want" ]; then fail "$name: exit $got, want $want; stderr: $(tail -5 "$work/err")"; else pass; fi
}
# expect_err NAME NEEDLE: the last run's stderr contains NEEDLE.
expect_err() {
  if grep -qF -- "$2" "$work/err"; then pass; else fail "$1: stderr lacks '$2': $(tail -5 "$work/err")"; fi
}
