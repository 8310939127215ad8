# bash completion for cbsctl (installed as share/bash-completion/completions/cbsctl).
#
# Completes the commands, the `groups` subcommands and each command's long
# options, read from `cbsctl <command> --help` at completion time (once per
# command and cbsctl binary in a shell session), so it never lags behind the
# options of the cbsctl it completes for. Values: --output, --rate-scope,
# --state and the choices CLI11 lists ({a,b}); file names for FILE options,
# --report, --journal, --log, --out, --body @FILE and the reports of
# `report merge`; directories for --state-dir.

declare -gA _cbsctl_help_cache

# The options and subcommands of `$1 <words...>` as lines "opt --name TYPE"
# (TYPE empty for a flag), "short -o --output" and "sub NAME", from its
# --help (cached).
_cbsctl_describe() {
  local key="$*"
  if [[ -z ${_cbsctl_help_cache[$key]+set} ]]; then
    # CLI11 prints each item ("  --name TYPE" or a subcommand) padded to
    # column 30 with its description after it, or alone on its line when
    # longer (the description then on the next line, indented by 30).
    _cbsctl_help_cache[$key]=$("$@" --help 2>/dev/null | awk '
      function item(line,   term, n, n2, i, names, parts, long) {
        term = line
        if (length(line) > 30 && !whole) term = substr(line, 1, 30)
        sub(/^ +/, "", term); sub(/ +$/, "", term)
        n = split(term, parts, " ")
        if (insub) { print "sub " parts[1]; return }
        if (parts[1] !~ /^-/) return
        n2 = split(parts[1], names, ",")
        long = names[n2]
        for (i = 1; i <= n2; i++)
          if (names[i] ~ /^--/) print "opt " names[i] " " (n > 1 ? parts[2] : "")
          else if (long ~ /^--/) print "short " names[i] " " long
      }
      {
        if (have) { whole = ($0 ~ /^                              [^ ]/); item(prev); have = 0 }
        if ($0 ~ /^[A-Z][A-Za-z ]*:$/) { insub = ($0 == "Subcommands:"); next }
        if ($0 ~ /^  [^ ]/) { prev = $0; have = 1 }
      }
      END { if (have) { whole = 0; item(prev) } }')
  fi
  printf '%s\n' "${_cbsctl_help_cache[$key]}"
}

_cbsctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  # --opt=value: '=' is a word of its own in COMP_WORDS.
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  fi
  COMPREPLY=()

  local exe=${COMP_WORDS[0]}
  exe=${exe/#\~/$HOME}
  if [[ $exe != */* ]]; then
    exe=$(type -P -- "$exe") || return 0
  fi
  [[ -x $exe ]] || return 0

  # The command path: the words naming subcommands, each checked against
  # its parent's --help (an option's value is never taken for a command).
  local -a path=()
  local desc i w
  desc=$(_cbsctl_describe "$exe")
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    if grep -qxF "sub $w" <<<"$desc"; then
      path+=("$w")
      desc=$(_cbsctl_describe "$exe" "${path[@]}")
    fi
  done

  # The value of the option before the cursor (-o: its long name).
  if [[ $prev == -[a-zA-Z] ]]; then
    prev=$(awk -v o="$prev" '$1 == "short" && $2 == o { print $3; exit }' <<<"$desc")
  fi
  if [[ $prev == --* ]]; then
    local type
    type=$(awk -v o="$prev" '$1 == "opt" && $2 == o { print $3; exit }' <<<"$desc")
    if [[ -n $type ]]; then
      local values=""
      case $prev in
        --output) [[ ${path[0]} == call ]] && values="json table" || values="table json text" ;;
        --rate-scope) [[ ${path[0]} == emulator ]] && values="key account" || values="account region" ;;
        --state) values="NORMAL CREATING ROLLBACKING" ;;
        --state-dir | --*-dir)
          compopt -o filenames 2>/dev/null
          mapfile -t COMPREPLY < <(compgen -d -- "$cur")
          return 0
          ;;
        --body)
          if [[ $cur == @* ]]; then
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "${cur#@}" | sed 's/^/@/')
          fi
          return 0
          ;;
        --*-file | --report | --journal | --log | --out)
          compopt -o filenames 2>/dev/null
          mapfile -t COMPREPLY < <(compgen -f -- "$cur")
          return 0
          ;;
      esac
      # CLI11's own choice lists: TEXT:{a,b}=a, or a|b type names.
      if [[ -z $values && $type =~ \{([^}]*)\} ]]; then
        values=${BASH_REMATCH[1]//,/ }
      elif [[ -z $values && $type == *"|"* && $type != *[A-Z]* ]]; then
        values=${type//|/ }
      elif [[ -z $values && $type == FILE* ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
      fi
      [[ -n $values ]] && mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
      return 0
    fi
  fi

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(awk '$1 == "opt" { print $2 }' <<<"$desc")" -- "$cur")
  elif [[ ${path[*]} == "report merge" ]]; then
    # Its arguments are the shards' report files.
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  else
    # The subcommands here, if any (cbsctl <TAB>, cbsctl groups <TAB>).
    mapfile -t COMPREPLY < <(compgen -W "$(awk '$1 == "sub" { print $2 }' <<<"$desc")" -- "$cur")
  fi
  return 0
}

complete -F _cbsctl cbsctl
