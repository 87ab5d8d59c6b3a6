# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for switchboard(1): commands, their options, and, when the
# hub is running, the names of keys (get, set, delete, list, watch), queues
# (push, work, peek, kick, purge) and served names (call). The names come
# from the hub's socket only (--socket): completing never starts the hub, and
# without one it offers no names, silently. tests/completion drives it.

_switchboard_commands="publish subscribe get set delete list watch clear-retained status push work
        queues peek kick purge call serve monitor top stdio token help"
_switchboard_global_opts="--help --version --address= --dbus --socket --socket= --tcp= --token-file="

# The options of command $1 (besides the global ones).
_switchboard_options() {
        case $1 in
        publish) echo "--retain -r" ;;
        subscribe) echo "--retained --json -j --format= -f --count= -n" ;;
        get | list | status | queues | peek) echo "--json -j" ;;
        set) echo "--if-revision=" ;;
        watch) echo "--json -j --format= -f --count= -n" ;;
        push) echo "--delay=" ;;
        work) echo "--timeout= -t --visibility= --count= -n --retry-delay=" ;;
        kick) echo "--max=" ;;
        call) echo "--timeout= -t" ;;
        serve) echo "--count= -n" ;;
        monitor) echo "--json -j --count= -n --color=" ;;
        top) echo "--interval= -i --sort= -s --once -1 --json -j" ;;
        esac
}

# Names the running hub knows: keys, queues or services; nothing without a hub.
_switchboard_live() {
        local t=""
        command -v timeout >/dev/null && t="timeout 2"
        case $1 in
        keys) $t switchboard --socket list 2>/dev/null | cut -f1 ;;
        queues) $t switchboard --socket queues --json 2>/dev/null |
                        sed -n 's/^{"name":"\([^"]*\)".*/\1/p' ;;
        services) $t switchboard --socket status --json 2>/dev/null |
                        grep -o '"services":{[^}]*}' | grep -o '"[^"]*":[0-9]' | sed 's/^"\(.*\)":[0-9]$/\1/' ;;
        esac
}

_switchboard() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local cmd="" nargs=0 dashdash=0 i w IFS=$' \t\n'
        COMPREPLY=()

        # bash splits "--socket=PATH" at "=": complete the value of an option.
        if [[ $cur == "=" || $prev == "=" ]]; then
                local opt=${COMP_WORDS[COMP_CWORD - 1]}
                [[ $cur != "=" ]] && opt=${COMP_WORDS[COMP_CWORD - 2]} || cur=""
                case $opt in
                --socket | --token-file) COMPREPLY=($(compgen -f -- "$cur")) ;;
                --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")) ;;
                --sort) COMPREPLY=($(compgen -W "rate total drops name" -- "$cur")) ;;
                --format) COMPREPLY=($(compgen -W "waybar" -- "$cur")) ;;
                esac
                return 0
        fi
        # An option that takes the next word as its value.
        case $prev in
        --address | --socket | --count | -n | --timeout | -t | --delay | --visibility | --retry-delay | \
                --max | --if-revision | --format | -f | --interval | -i | --sort | -s | --color | --tcp | \
                --token-file)
                case $prev in
                --socket | --token-file) COMPREPLY=($(compgen -f -- "$cur")) ;;
                --sort | -s) COMPREPLY=($(compgen -W "rate total drops name" -- "$cur")) ;;
                --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")) ;;
                esac
                return 0 ;;
        esac

        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                if ((dashdash)); then
                        nargs=$((nargs + 1))
                        continue
                fi
                case $w in
                --) [[ -n $cmd ]] && dashdash=1 nargs=0 ;;
                =) i=$((i + 1)) ;;     # "--opt" "=" "value"
                --address | --count | -n | --timeout | -t | --delay | --visibility | --retry-delay | \
                        --max | --if-revision | --format | -f | --interval | -i | --sort | -s | --color | \
                        --tcp | --token-file)
                        i=$((i + 1)) ;;
                -*) ;;
                *) if [[ -z $cmd ]]; then cmd=$w; else nargs=$((nargs + 1)); fi ;;
                esac
        done

        # After "work QUEUE --" or "serve NAME --": a command, then its arguments.
        if ((dashdash)); then
                if ((nargs == 0)); then
                        COMPREPLY=($(compgen -c -- "$cur"))
                else
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return 0
        fi
        if [[ -z $cmd ]]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "$_switchboard_global_opts" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$_switchboard_commands" -- "$cur"))
                fi
        elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(_switchboard_options "$cmd") $_switchboard_global_opts --" -- "$cur"))
        else
                local names=""
                case $cmd:$nargs in
                get:0 | set:0 | delete:0 | list:0 | watch:*) names=keys ;;
                push:0 | work:0 | peek:0 | kick:0 | purge:0) names=queues ;;
                call:0) names=services ;;
                help:0) COMPREPLY=($(compgen -W "$_switchboard_commands" -- "$cur")) ;;
                token:0) COMPREPLY=($(compgen -W "show rotate" -- "$cur")) ;;
                esac
                if [[ -n $names ]]; then
                        # Names may hold spaces: one per line.
                        local live
                        live=$(_switchboard_live $names)
                        local IFS=$'\n'
                        COMPREPLY=($(compgen -W "$live" -- "$cur"))
                fi
        fi
        # An option that ends in "=" takes its value right after it.
        [[ ${COMPREPLY[0]-} == *= ]] && compopt -o nospace 2>/dev/null
        return 0
}

complete -F _switchboard switchboard
