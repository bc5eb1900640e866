#!/usr/bin/env bash
# Bash completion (completion/mailgate.bash), driven as bash drives it: a
# bash subshell sources it (alone, and under bash-completion), `complete -p`
# names the function, and each case sets COMP_WORDS/COMP_CWORD (and
# COMP_LINE/COMP_POINT), calls it and reads COMPREPLY. Commands, every long
# option of every command's --help, option values, interface names, and for
# `ban del`/`deny del`/`allow del` the entries of the live lists of a pin dir
# this test filled through a real daemon in a lab.
set -u
. "$(dirname "$0")/lib.sh"
COMP=$ROOT/completion/mailgate.bash
BC=/usr/share/bash-completion/bash_completion
it_setup mgcp

# complete_words WITH_BC WORD...: the completions of the last WORD (may be
# ""), one per line; COMP_LINE is the words joined by spaces, or $LINE
complete_words() {
	local with_bc=$1
	shift
	MG_WORDS=$(printf '%q ' "$@") WITH_BC=$with_bc COMP=$COMP BC=$BC LINE=${LINE:-} bash --norc --noprofile -c '
		[ "$WITH_BC" = 1 ] && . "$BC"
		. "$COMP"
		fn=$(complete -p mailgate | sed -n "s/.*-F \([^ ]*\) mailgate$/\1/p")
		[ -n "$fn" ] || { echo "NO-COMPLETE"; exit 1; }
		eval "COMP_WORDS=($MG_WORDS)"
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=${LINE:-${COMP_WORDS[*]}}
		COMP_POINT=${#COMP_LINE}
		"$fn" mailgate "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"'
}
has() { grep -qxF -- "$2" <<<"$1"; } # LIST WORD

out=$(complete_words 0 "$MG" "")
has "$out" ban && has "$out" zone && has "$out" --pin-dir && pass commands || fail commands "$out"
out=$(complete_words 0 "$MG" st)
[ "$out" = "$(printf 'status\nstats')" ] && pass command_prefix || fail command_prefix "$out"
out=$(complete_words 1 "$MG" ban "")
[ "$out" = "$(printf 'add\ndel\nlist')" ] && pass subcommands || fail subcommands "$out"

# every long option of every command's table (mailgate --list-options:
# "CMD<TAB>--long<TAB>-s<TAB>ARG") is offered after that command
"$MG" --list-options >"$IT_TMP/table" || fail list_options "exit $?"
[ "$(grep -c . "$IT_TMP/table")" -ge 40 ] && pass list_options || fail list_options "$(wc -l <"$IT_TMP/table") lines"
bad=
for c in $(cut -f1 "$IT_TMP/table" | grep -v '^mailgate$' | sort -u | tr ' ' '+'); do
	c=${c//+/ }
	want=$(awk -F'\t' -v c="$c" '$1 == c && $2 != "--help" { print $2 }' "$IT_TMP/table")
	got=$(complete_words 0 "$MG" $c --)
	for o in $want; do has "$got" "$o" || bad+=" '$c $o'"; done
done
[ -z "$bad" ] && pass every_table_option || fail every_table_option "not offered:$bad"
# every option that takes a value (long and short) is one whose next word
# the completion skips as a value
vals=$(sed -n '/^_mailgate_valopts="/,/"$/p' "$COMP" | tr -d '"' | sed 's/^_mailgate_valopts=//' | tr ' ' '\n')
bad=
while IFS=$'\t' read -r c long short arg; do
	[ "$arg" = - ] && continue
	has "$vals" "$long" || bad+=" $long"
	[ "$short" = - ] || has "$vals" "$short" || bad+=" $short"
done <"$IT_TMP/table"
[ -z "$bad" ] && pass value_options_skipped || fail value_options_skipped "not in _mailgate_valopts:$(echo $bad | tr ' ' '\n' | sort -u | tr '\n' ' ')"

out=$(complete_words 0 "$MG" run --mode "")
[ "$out" = "$(printf 'native\ngeneric\nauto')" ] && pass option_values || fail option_values "$out"
out=$(complete_words 0 "$MG" run -i "")
has "$out" lo && has "$out" "$(ls /sys/class/net | head -1)" && pass interfaces || fail interfaces "$out"

# live lists
daemon_start || { fail daemon "did not start: $(tail -3 "$DAEMON_LOG")"; exit 1; }
mg ban add 192.0.2.77 2001:db8::77 >/dev/null && mg deny add 198.51.100.0/24 >/dev/null &&
	mg allow add 203.0.113.9 >/dev/null || fail lists "cannot fill the lists"
out=$(complete_words 0 "$MG" --pin-dir "$PIN" ban del "")
has "$out" 192.0.2.77 && has "$out" 2001:db8::77 && [ "$(wc -l <<<"$out")" = 2 ] &&
	pass ban_del_entries || fail ban_del_entries "$out"
out=$(complete_words 0 "$MG" ban del --pin-dir "$PIN" 192)
[ "$out" = 192.0.2.77 ] && pass ban_del_prefix || fail ban_del_prefix "$out"
out=$(complete_words 0 "$MG" --pin-dir="$PIN" deny del "")
[ "$out" = 198.51.100.0/24 ] && pass deny_del_entries || fail deny_del_entries "$out"
out=$(complete_words 0 "$MG" --pin-dir "$PIN" allow del "")
has "$out" 203.0.113.9/32 && has "$out" 127.0.0.0/8 && pass allow_del_entries || fail allow_del_entries "$out"
# under bash-completion an IPv6 address is split at ':' as bash splits it;
# the reply completes the word after the last ':'
out=$(LINE="$MG --pin-dir $PIN ban del 2001:db8:" complete_words 1 "$MG" --pin-dir "$PIN" ban del 2001 : db8 :)
[ "$out" = ":77" ] && pass ban_del_ipv6_bash_completion || fail ban_del_ipv6_bash_completion "$out"
out=$(complete_words 0 "$MG" --pin-dir /nonexistent ban del "")
[ -z "$out" ] && pass no_pin_dir_no_entries || fail no_pin_dir_no_entries "$out"
it_summary
