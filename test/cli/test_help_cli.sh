#!/usr/bin/env bash
# cbsctl's help, version, usage errors, bash completion and man page, and the
# emulator's duration options (a few seconds, no cloud):
# - `cbsctl --help` and `--version` exit 0; the version line names the
#   commit, Boost and OpenSSL;
# - every command `cbsctl --help` lists, and every subcommand those list
#   (groups list/show/delete), has --help exiting 0 with "Usage";
# - an unknown command, an unknown option and no arguments exit 2, naming
#   what was wrong;
# - tools/cbsctl/completion/cbsctl.bash loads in `bash --norc` and completes
#   commands, groups subcommands, options and option values (its function
#   driven directly with COMP_WORDS/COMP_CWORD);
# - the man page, when built (MAN_PAGE given), renders with `man -l` and has
#   a section per command;
# - `cbsctl emulator --creating-time 200ms --list-lag 1s --latency 20ms-200ms`
#   starts; `--creating-time 0.5s` and the rest of the bad rows exit 2 naming
#   the option; the deprecated `--creating-ms 200` still starts.
#
# usage: test_help_cli.sh CBSCTL [MAN_PAGE]
. "$(dirname "$0")/lib.sh" "$1"
man_page=${2:+$(realpath -m "$2")}
here=$(cd "$(dirname "$0")" && pwd)
completion=$here/../../tools/cbsctl/completion/cbsctl.bash
cd "$work" || exit 1

# run: test/cli/lib.sh.
expect() { # expect NAME FILE TEXT: FILE (out or err) holds TEXT
  if grep -qF -- "$3" "$work/$2"; then pass; else fail "$1: $2 lacks '$3': $(head -c 400 "$work/$2")"; fi
}
# The subcommands listed under "Subcommands:" in a --help on stdin.
subcommands() { awk '/^Subcommands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f && !/^ / { f = 0 }'; }

# --help and --version.
run 0 "--help" --help
expect "--help" out "Usage: cbsctl"
expect "--help" out "Subcommands:"
run 0 "--version" --version
expect "--version" out "cbsctl "
expect "--version names the commit" out "(commit "
expect "--version names Boost" out "Boost 1."
expect "--version names OpenSSL" out "OpenSSL 3"

# Every command and subcommand: --help exits 0 with "Usage".
commands=$("$cbsctl" --help | subcommands)
[ "$(wc -w <<<"$commands")" -ge 7 ] && pass || fail "cbsctl --help lists too few commands: $commands"
for c in call snapshot-fleet demo emulator groups prune restore report; do
  grep -qx "$c" <<<"$commands" && pass || fail "cbsctl --help does not list $c"
done
nested=0
for c in $commands; do
  run 0 "$c --help" "$c" --help
  expect "$c --help" out "Usage: cbsctl $c"
  for s in $(subcommands <"$work/out"); do
    nested=$((nested + 1))
    run 0 "$c $s --help" "$c" "$s" --help
    expect "$c $s --help" out "Usage: cbsctl $c $s"
  done
done
[ "$nested" -ge 3 ] && pass || fail "groups list/show/delete not found under the commands ($nested subcommands)"

# Usage errors: exit 2, naming what was wrong.
run 2 "no arguments"
expect "no arguments" err "usage: cbsctl <command>"
run 2 "unknown command" frobnicate
expect "unknown command" err "unknown command 'frobnicate'"
run 2 "unknown option" snapshot-fleet --frobnicate
expect "unknown option" err "--frobnicate"
run 2 "unknown groups subcommand option" groups list --frobnicate
expect "unknown groups subcommand option" err "--frobnicate"

# The bash completion, in a shell without any startup file.
complete_words() { # complete_words WORD...: what <TAB> on the last word offers
  bash --norc --noprofile -c '
    source "$1" || exit 3
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    _cbsctl
    printf "%s\n" "${COMPREPLY[@]}"' complete "$completion" "$cbsctl" "$@" 2>"$work/comp.err"
}
expect_completion() { # expect_completion NAME WANT WORD...: the completions are exactly WANT
  local name=$1 want=$2; shift 2
  local got
  got=$(complete_words "$@" | paste -sd' ' -)
  [ "$got" = "$want" ] && pass || fail "completion $name: got '$got', want '$want' $(head -3 "$work/comp.err")"
}
if bash --norc --noprofile -c 'source "$1" && complete -p cbsctl >/dev/null' load "$completion"; then pass; else
  fail "the completion script does not load in bash --norc"
fi
expect_completion "cbsctl gr" "groups" gr
expect_completion "cbsctl snapshot-fleet --dr" "--dry-run" snapshot-fleet --dr
expect_completion "cbsctl groups l" "list" groups l
expect_completion "cbsctl groups list --output" "table json text" groups list --output ""
expect_completion "cbsctl groups list -o j" "json" groups list -o j
expect_completion "cbsctl groups list --state" "NORMAL CREATING ROLLBACKING" groups list --state ""
expect_completion "cbsctl snapshot-fleet --rate-scope" "account region" snapshot-fleet --rate-scope ""
expect_completion "cbsctl emulator --creating" "--creating-time" emulator --creating
expect_completion "cbsctl emulator --list-l" "--list-lag" emulator --list-l
touch "$work/fleet-report.json" "$work/fleet-ids.txt"
expect_completion "--report FILE" "$work/fleet-report.json" snapshot-fleet --report "$work/fleet-r"
expect_completion "--instances-file FILE" "$work/fleet-ids.txt" snapshot-fleet --instances-file "$work/fleet-i"
expect_completion "--body @FILE" "@$work/fleet-ids.txt" call DescribeDisks --body "@$work/fleet-i"
expect_completion "cbsctl report m" "merge" report m
expect_completion "report merge REPORT" "$work/fleet-report.json" report merge "$work/fleet-r"
expect_completion "report merge --out FILE" "$work/fleet-report.json" report merge --out "$work/fleet-r"
expect_completion "snapshot-fleet --sha" "--shard" snapshot-fleet --sha
expect_completion "a value is not a command" "--regions --region --regional" snapshot-fleet --region groups --regi
# Options come from --help: every option --help shows is offered.
all=$(complete_words snapshot-fleet --)
for o in --dry-run --regions --rate --rate-scope --journal --report --help --verbose; do
  grep -qx -- "$o" <<<"$all" && pass || fail "completion of snapshot-fleet -- lacks $o"
done

# The man page (built when help2man was found).
if [ -n "$man_page" ]; then
  if [ ! -f "$man_page" ]; then
    echo "SKIP: man page $man_page not built (cmake --build --target cbsctl_man)"
  else
    for c in $commands; do
      c_upper=$(tr '[:lower:]' '[:upper:]' <<<"$c")
      grep -q "^\.SH \"CBSCTL $c_upper\"" "$man_page" && pass || fail "man page has no .SH section for $c"
    done
    grep -q '^\.SH "CBSCTL GROUPS LIST"' "$man_page" && pass || fail "man page has no .SH section for groups list"
    if command -v man >/dev/null; then
      if MANWIDTH=80 man -l "$man_page" >"$work/man.txt" 2>"$work/man.err"; then pass; else
        fail "man -l $man_page: $(head -3 "$work/man.err")"
      fi
      grep -q "CBSCTL SNAPSHOT-FLEET" "$work/man.txt" && grep -q -- "--dry-run" "$work/man.txt" && grep -q "CBSCTL PRUNE" "$work/man.txt" &&
        pass || fail "man -l output lacks the snapshot-fleet or prune section"
    fi
  fi
fi

# The emulator's durations.
start_emulator() { # start_emulator ARGS...: true once it printed its exports
  "$cbsctl" emulator --instances 2 "$@" >"$work/emu.out" 2>&1 </dev/null &
  emu_pid=$!
  for _ in $(seq 100); do
    grep -q "^export CBS_ENDPOINT" "$work/emu.out" 2>/dev/null && return 0
    kill -0 "$emu_pid" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}
stop_emulator() {
  kill -TERM "$emu_pid" 2>/dev/null
  wait "$emu_pid" 2>/dev/null
  emu_pid=
}
if start_emulator --creating-time 200ms --list-lag 1s --latency 20ms-200ms --slow 500ms-1s --rollback-time 2s \
  --rate CreateSnapshotGroup=1200/m --rate DescribeDisks=0; then pass; else
  fail "emulator with --creating-time 200ms --list-lag 1s did not start: $(head -5 "$work/emu.out")"
fi
stop_emulator
if start_emulator --list-lag 0 --creating-time 0; then pass; else
  fail "emulator with --list-lag 0 did not start: $(head -5 "$work/emu.out")"
fi
stop_emulator
if start_emulator --creating-ms 200 --list-lag-ms 1000 --latency-ms 20-200 --slow-ms 500-1000; then pass; else
  fail "emulator with the deprecated -ms options did not start: $(head -5 "$work/emu.out")"
fi
# (the warning goes to stderr and the exports to stdout, both into emu.out:
# the warning may land after the exports, so it is waited for too)
warned=
for _ in $(seq 50); do
  if grep -qF -- "--creating-ms is deprecated, use --creating-time 200ms" "$work/emu.out"; then warned=1; break; fi
  sleep 0.1
done
[ -n "$warned" ] && pass || fail "no deprecation warning for --creating-ms: $(head -5 "$work/emu.out")"
stop_emulator
run 0 "emulator --help" emulator --help
for o in --creating-time --list-lag "--latency DURATION|MIN-MAX" "--slow DURATION|MIN-MAX" "--rate ACTION=RATE"; do
  expect "emulator --help shows $o" out "$o"
done
for o in --creating-ms --list-lag-ms --latency-ms --slow-ms; do
  grep -qF -- "$o" "$work/out" && fail "emulator --help shows the deprecated $o" || pass
done
bad() { # bad NAME TEXT ARGS...: exit 2, TEXT on stderr
  local name=$1 text=$2; shift 2
  run 2 "$name" emulator "$@"
  expect "$name" err "$text"
}
bad "--creating-time 0.5s" "--creating-time" --creating-time 0.5s
bad "--creating-time 2d" "--creating-time must be at most 1d" --creating-time 2d
bad "--list-lag 5x" "--list-lag" --list-lag 5x
bad "--latency MIN > MAX" "--latency expects MIN-MAX with MIN <= MAX" --latency 200ms-20ms
bad "--slow -1s" "--slow" --slow -1s
bad "--rate 30/m" "--rate CreateSnapshotGroup must be a whole number of requests per second" \
  --rate CreateSnapshotGroup=30/m
bad "--rate 2.5" "--rate DescribeDisks must be a whole number" --rate DescribeDisks=2.5
bad "--rate abc" "--rate DescribeDisks expects a rate" --rate DescribeDisks=abc
bad "--rate without =" "--rate expects ACTION=RATE" --rate DescribeDisks
bad "both spellings" "--creating-ms is the deprecated spelling of --creating-time" --creating-ms 200 --creating-time 1s

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
