#!/usr/bin/env bash
# Man pages and --help cannot drift from the code:
# - every command (from `mailgate help`) and subcommand answers --help with
#   its usage on stdout, nothing on stderr, exit 0;
# - every long option of the getopt tables and hand parsers in user/*.c is
#   shown by some command's --help, and every option a --help shows and
#   every command and subcommand is named in mailgate(8);
# - every config key of the parser's table (user/config.c) is a key of
#   examples/mailgate.conf (a test checks its values against the defaults),
#   and every key with its default and every section is in mailgate.conf(5),
#   which is generated from that file; both pages render without warnings.
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$IT_DIR/lib.sh"
cd "$ROOT"
[ -x "$MG" ] || { skip test_man "mailgate is not built ($MG)"; exit 0; }
MAN8=$ROOT/${OUTPUT:-.output}/man/mailgate.8
MAN5=$ROOT/${OUTPUT:-.output}/man/mailgate.conf.5
[ -f "$MAN8" ] && [ -f "$MAN5" ] || { skip test_man "man pages not built (make all)"; exit 0; }
TMP=$(mktemp -d /tmp/test_man.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# the man page as text, with troff's \- and font escapes undone
man_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$1"; }
man_text "$MAN8" >"$TMP/man8"
man_text "$MAN5" >"$TMP/man5"

# commands: the lines "  mailgate CMD ..." of the main usage
"$MG" help >"$TMP/help" 2>&1
cmds=$(sed -n 's/^  mailgate \([a-z]*\).*/\1/p' "$TMP/help" | sort -u)
[ "$(echo "$cmds" | wc -w)" -ge 13 ] && pass commands_listed || fail commands_listed "$(echo $cmds)"

bad=
: >"$TMP/helps"
for c in $cmds; do
	# subcommands: the words after "CMD " in its usage line (add|del|list, load, check ...)
	subs=$(grep "^  mailgate $c " "$TMP/help" | grep -o " $c [a-z|]*" | cut -d' ' -f3 | tr '|' '\n' | sort -u)
	for s in "" $subs; do
		out=$("$MG" $c $s --help 2>"$TMP/err")
		rc=$?
		if [ $rc -ne 0 ] || [ -s "$TMP/err" ] || ! grep -q "usage: mailgate $c" <<<"$out"; then
			bad+=" '$c${s:+ $s} --help' (rc=$rc, stderr: $(head -c 80 "$TMP/err"))"
		fi
		echo "$out" >>"$TMP/helps"
	done
done
[ -z "$bad" ] && pass help_every_command || fail help_every_command "$bad"

# every option of every command's table (user/cli.h), from the binary:
# "CMD<TAB>--long<TAB>-s<TAB>ARG" a line
"$MG" --list-options >"$TMP/table"
[ "$(cut -f1 "$TMP/table" | sort -u | wc -l)" -ge 20 ] && pass tables_listed ||
	fail tables_listed "$(cut -f1 "$TMP/table" | sort -u | tr '\n' ' ')"
# each (sub)command's --help: exit 0, stdout only, and every option of its
# table with its short name and value name as the table has them
bad=
while IFS=$'\t' read -r c long short arg; do
	[ "$c" = mailgate ] && c=help
	out=$("$MG" $c --help 2>"$TMP/err")
	rc=$?
	want="$long"
	[ "$arg" != - ] && want+=" $arg"
	[ "$short" != - ] && want="$short, $want"
	if [ $rc -ne 0 ] || [ -s "$TMP/err" ] || ! grep -qF -- "$want" <<<"$out"; then
		bad+=" '$c --help' lacks '$want' (rc=$rc)"
	fi
done <"$TMP/table"
[ -z "$bad" ] && pass help_lists_table_options || fail help_lists_table_options "$bad"
# the top-level help names every option of every command
"$MG" help >"$TMP/tophelp"
missing=
while IFS=$'\t' read -r c long short arg; do
	[ "$long" = --help ] && continue
	grep -q -- "$long\b" "$TMP/tophelp" || missing+=" $c:$long"
done <"$TMP/table"
[ -z "$missing" ] && pass top_help_every_option || fail top_help_every_option "not in 'mailgate help':$missing"
# the options the binary has (the tables), plus any "--name" still written by hand in user/
cut -f2 "$TMP/table" >"$TMP/src_opts"
grep -ho '"--[a-z][a-z0-9-]*' user/*.c | tr -d '"' >>"$TMP/src_opts"
sort -u -o "$TMP/src_opts" "$TMP/src_opts"
[ "$(wc -l <"$TMP/src_opts")" -ge 30 ] && pass options_found || fail options_found "only $(wc -l <"$TMP/src_opts")"
"$MG" help >>"$TMP/helps" 2>&1
grep -o -- '--[a-z][a-z0-9-]*' "$TMP/helps" | sort -u >"$TMP/help_opts"
missing=$(comm -23 "$TMP/src_opts" "$TMP/help_opts" | tr '\n' ' ')
[ -z "$missing" ] && pass help_shows_every_option || fail help_shows_every_option "not in any --help: $missing"
missing=
for o in $(cat "$TMP/src_opts" "$TMP/help_opts" | sort -u); do
	grep -q -- "$o\b" "$TMP/man8" || missing+=" $o"
done
[ -z "$missing" ] && pass man8_every_option || fail man8_every_option "not in mailgate(8):$missing"
# short options (-i, -c, -a, -n, -v, -h) as the --help outputs show them
missing=
for o in $(grep -oE -- '(^|[[ |])-[a-zA-Z]\b' "$TMP/helps" | grep -oE -- '-[a-zA-Z]' | sort -u); do
	grep -qE -- "(^|[ \"(|[])$o\b" "$TMP/man8" || missing+=" $o"
done
[ -z "$missing" ] && pass man8_every_short_option || fail man8_every_short_option "not in mailgate(8):$missing"
missing=
for c in $cmds; do
	grep -q "^\.SS \"$c\b" "$TMP/man8" || missing+=" $c"
	for s in $(grep "^  mailgate $c " "$TMP/help" | grep -o " $c [a-z|]*" | cut -d' ' -f3 | tr '|' ' '); do
		grep -q "^\.SS .*$c [a-z|]*$s" "$TMP/man8" || missing+=" '$c $s'"
	done
done
[ -z "$missing" ] && pass man8_every_command || fail man8_every_command "no section for:$missing"

# config keys
sed -n 's/^[[:space:]]*{ *"\([a-z]*\)", *"\([a-z_0-9]*\)", *set_.*/\1 \2/p' user/config.c | sort -u >"$TMP/src_keys"
awk '/^\[[a-z]+\]$/ { s = substr($0, 2, length($0) - 2) } /^[a-z_0-9]+ *=/ { k = $1; sub(/=.*/, "", k); print s, k }' \
	examples/mailgate.conf | sort -u >"$TMP/conf_keys"
[ "$(wc -l <"$TMP/src_keys")" -ge 20 ] && pass config_keys_found || fail config_keys_found "only $(wc -l <"$TMP/src_keys")"
missing=$(comm -23 "$TMP/src_keys" "$TMP/conf_keys" | tr '\n' ',')
[ -z "$missing" ] && pass example_conf_every_key || fail example_conf_every_key "not in examples/mailgate.conf: $missing"
missing=
sect=
while IFS= read -r line; do
	case $line in
	\[*\]) sect=$line; grep -qF ".SS \"$sect\"" "$TMP/man5" || missing+=" $sect" ;;
	[a-z]*=*)
		k=${line%% =*}
		v=${line#*= }
		[ "$v" = "$line" ] && v= # "key =": empty
		grep -qxF "$k = ${v:-(empty)}" "$TMP/man5" || missing+=" $sect$k"
		;;
	esac
done <examples/mailgate.conf
[ -z "$missing" ] && pass man5_every_key_and_default || fail man5_every_key_and_default "not in mailgate.conf(5):$missing"

# both render cleanly (groff warnings, e.g. a line starting with '.')
for p in "$MAN8" "$MAN5"; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
	[ -z "$w" ] && pass "renders_$(basename "$p")" || fail "renders_$(basename "$p")" "$w"
done
it_summary
