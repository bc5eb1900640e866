#!/bin/sh
# Function lengths in C files (default user/*.c): "LINES FILE:LINE NAME",
# longest first. A function starts at a line beginning with a letter and
# holding "(" and ends at the next line that is exactly "}". Options:
# -m N  only functions of at least N lines (default 1)
min=1
if [ "$1" = "-m" ]; then min=$2; shift 2; fi
[ $# -gt 0 ] || set -- user/*.c
awk -v min="$min" '
FNR == 1 { name = "" }
/^[a-z_][a-zA-Z0-9_ *]*[ *]?[a-z_][a-zA-Z0-9_]*\(/ && !/;[ \t]*$/ && name == "" {
	s = $0; sub(/\(.*/, "", s); n = split(s, w, /[ *]+/); name = w[n]; start = FNR; next
}
/^}/ && name != "" {
	len = FNR - start + 1
	if (len >= min) printf "%5d %s:%d %s\n", len, FILENAME, start, name
	name = ""
}
' "$@" | sort -rn
