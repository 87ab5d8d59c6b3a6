#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-completion.sh: completion/switchboard.bash offers every command of
# `switchboard --help`, every option of each `switchboard COMMAND --help`,
# and the live names of a running hub (a key, a queue, a served name); with
# no hub it offers no names and says nothing. The function is driven as bash
# drives it: COMP_WORDS, COMP_CWORD, then COMPREPLY. zsh's file must parse.
# Run under tests/with-bus.sh (a private bus, the hub by activation).
set -u
: "${SB_SOURCE_ROOT:?run through meson test}"
PATH="$(dirname "$SWITCHBOARD"):$PATH"
. "$SB_SOURCE_ROOT/completion/switchboard.bash"
fail=0
not_ok() { echo "not ok: $*"; fail=1; }

# complete "switchboard get cfg." -> the words offered, one per line
complete_line() {
        local line=$1
        read -ra COMP_WORDS <<<"$line"
        [[ $line == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        _switchboard
        printf '%s\n' "${COMPREPLY[@]}"
}
offers() {      # offers LINE WORD: the completion of LINE includes WORD
        complete_line "$1" | grep -qxF -- "$2" || not_ok "'$1<TAB>' does not offer '$2' (offers: $(complete_line "$1" | tr '\n' ' '))"
}

# Every command of the help.
commands=$(switchboard --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$commands" ] || not_ok "no commands in switchboard --help"
for c in $commands; do
        offers "switchboard " "$c"
        # Every long option of the command's help (--opt or --opt=).
        for o in $(switchboard "$c" --help | grep -oE '^ +(-[a-z], )?--[a-z-]+(=| |$)' | grep -oE -- '--[a-z-]+=?'); do
                [ "$o" = --help ] && continue
                if complete_line "switchboard $c --" | grep -qxF -- "$o"; then :;
                elif complete_line "switchboard $c --" | grep -qxF -- "$o="; then :;
                else not_ok "'switchboard $c --<TAB>' does not offer $o"; fi
        done
done
offers "switchboard --" "--dbus"
offers "switchboard st" "status"
offers "switchboard st" "stdio"
offers "switchboard help pu" "publish"
offers "switchboard work jobs.mail -- ech" "echo"

# Live names from a running hub.
switchboard set cfg.theme dark || not_ok "switchboard set"
switchboard push jobs.mail x >/dev/null || not_ok "switchboard push"
offers "switchboard get " "cfg.theme"
offers "switchboard get cfg." "cfg.theme"
offers "switchboard delete c" "cfg.theme"
offers "switchboard watch " "cfg.theme"
offers "switchboard peek j" "jobs.mail"
offers "switchboard --dbus work " "jobs.mail"
offers "switchboard set --if-revision 3 c" "cfg.theme"
[ -z "$(complete_line "switchboard publish ")" ] || not_ok "publish offers names it cannot know"

# No hub: no names, no messages.
err=$(SWITCHBOARD_SOCKET=/nonexistent/socket complete_line "switchboard get " 2>&1)
[ -z "$err" ] || not_ok "without a hub, 'switchboard get <TAB>' printed: $err"

if command -v zsh >/dev/null; then
        zsh -n "$SB_SOURCE_ROOT/completion/_switchboard" || not_ok "completion/_switchboard does not parse"
        # zsh's function lists the same commands.
        for c in $commands; do
                grep -q "'$c:" "$SB_SOURCE_ROOT/completion/_switchboard" || not_ok "zsh completion lacks $c"
        done
fi
[ $fail = 0 ] && echo "ok - bash completion of commands, options and live names"
exit $fail
