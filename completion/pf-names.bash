# pf: completes run and connection names on top of @oclif/plugin-autocomplete's command and flag completion.
# Loaded by the line `pf autocomplete names` prints; needs the plugin's line (`pf autocomplete bash`) before it.

_pf_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local topic="${COMP_WORDS[1]}" verb="${COMP_WORDS[2]}" kind=""
  if [[ "$cur" != -* ]]; then
    case "$prev" in
      --run|--resume-from) kind=run ;;
      --name|-n)
        case "$topic $verb" in
          "run show"*|"run stream"|"run archive"|"run restore"|"run update"|"run delete") kind=run ;;
          "connection show"|"connection delete"|"connection update") kind=connection ;;
        esac ;;
      *)
        # The positional NAME right after the verb: `pf run show <TAB>`.
        if (( COMP_CWORD == 3 )); then
          case "$topic $verb" in
            "run show"|"run show-details"|"run show-metrics"|"run stream"|"run archive"|"run restore"|"run update"|"run delete") kind=run ;;
            "connection show"|"connection delete"|"connection update") kind=connection ;;
          esac
        fi ;;
    esac
  fi
  if [[ -n "$kind" ]]; then
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" autocomplete values "$kind" 2>/dev/null)" -- "$cur"))
    return
  fi
  if declare -F _pf_autocomplete >/dev/null; then _pf_autocomplete; fi
}

complete -F _pf_complete pf
