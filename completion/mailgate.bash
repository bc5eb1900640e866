# bash completion for mailgate(8): commands, their options, option values,
# interface names, and for `ban del`, `deny del`, `allow del` the entries in
# the live lists (`mailgate ... list` on the pin dir given on the line).
# selftests/integration/test_completion.sh checks that every long option of
# every command's option table (`mailgate --list-options`) is offered here,
# and that every option taking a value is in _mailgate_valopts.

# the options that take a value (the next word)
_mailgate_valopts="--pin-dir -i --interface -c --config --mode --ttl --watch --count -n --interval
--port --sites --resolvers --timeout --threshold --allowlist-threshold --type --name --family --dst
--dport --src --src-list --rate --duration --threads --dst-mac --method --batch --origin -w -t -p"
_mailgate_valopts=${_mailgate_valopts//$'\n'/ }

_mailgate_ifaces()
{
	local d
	for d in /sys/class/net/*; do
		[ -e "$d" ] && printf '%s\n' "${d##*/}"
	done
}

# the entries of one live list (allow, deny or ban): the first column of the
# rows of `mailgate LIST list`, on the --pin-dir given on the command line
_mailgate_entries()
{
	local list=$1 i w mg=${COMP_WORDS[0]}
	local -a pin=()

	for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--pin-dir) pin=(--pin-dir "${COMP_WORDS[i + 1]}") ;;
		--pin-dir=*) pin=("$w") ;;
		esac
	done
	"$mg" "${pin[@]}" "$list" list 2>/dev/null |
		awk '$1 ~ /^[0-9a-fA-F.:]+(\/[0-9]+)?$/ && $1 ~ /[.:]/ { print $1 }'
}

_mailgate()
{
	local cur prev cmd= sub= i w opts=
	local cmds="run detach status stats top allow deny ban lookup dnsbl zone synflood config help version"
	local global="--pin-dir --json --verbose --help"

	if declare -F _get_comp_words_by_ref >/dev/null; then
		# bash-completion: keep IPv6 addresses (with ':') one word
		local words cword
		_get_comp_words_by_ref -n : cur prev words cword
	else
		local -a words=("${COMP_WORDS[@]}")
		local cword=$COMP_CWORD
		cur=${words[cword]}
		prev=${words[cword - 1]}
	fi
	COMPREPLY=()

	# the command and subcommand: the first words that are neither an option
	# nor an option's value
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ " $_mailgate_valopts " == *" $w "* ]]; then
			((i++))
		elif [[ $w != -* ]]; then
			if [ -z "$cmd" ]; then
				cmd=$w
			elif [ -z "$sub" ]; then
				sub=$w
			fi
		fi
	done

	case $prev in
	--pin-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	-i | --interface)
		COMPREPLY=($(compgen -W "$(_mailgate_ifaces)" -- "$cur"))
		return
		;;
	-c | --config | --src-list)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--mode)
		COMPREPLY=($(compgen -W "native generic auto" -- "$cur"))
		return
		;;
	--type)
		COMPREPLY=($(compgen -W "auto ip4set ip4trie ip6trie" -- "$cur"))
		return
		;;
	--family)
		COMPREPLY=($(compgen -W "4 6" -- "$cur"))
		return
		;;
	--method)
		COMPREPLY=($(compgen -W "auto live-frames af_packet" -- "$cur"))
		return
		;;
	--origin)
		COMPREPLY=($(compgen -W "cli config zone quota dnsbl crowdsec" -- "$cur"))
		return
		;;
	esac
	[[ " $_mailgate_valopts " == *" $prev "* ]] && return # a value of the operator's own

	case $cmd in
	'')
		COMPREPLY=($(compgen -W "$cmds $global --version" -- "$cur"))
		return
		;;
	run) opts="--interface --config --mode --dry-run" ;;
	detach) opts="--interface" ;;
	status) opts="" ;;
	stats) opts="--all --watch --count" ;;
	top) opts="-n --count --interval" ;;
	lookup) opts="--port" ;;
	synflood)
		opts="--interface --dst --dport --src --src-list --rate --count --duration --threads
			--dst-mac --method --batch --i-own-this-network"
		;;
	allow | deny | ban)
		case $sub in
		'')
			COMPREPLY=($(compgen -W "add del list" -- "$cur"))
			return
			;;
		add) opts="--ttl" ;;
		list) opts="--all" ;;
		del)
			if [[ $cur != -* ]]; then
				COMPREPLY=($(compgen -W "$(_mailgate_entries "$cmd")" -- "$cur"))
				declare -F __ltrim_colon_completions >/dev/null && __ltrim_colon_completions "$cur"
				return
			fi
			opts="--all --origin"
			;;
		esac
		;;
	dnsbl)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "check" -- "$cur"))
			return
		fi
		opts="--config --sites --resolvers --timeout --threshold --allowlist-threshold --no-selftest"
		;;
	zone)
		case $sub in
		'')
			COMPREPLY=($(compgen -W "load export" -- "$cur"))
			return
			;;
		load) opts="--ttl --type --name --force" ;;
		export) opts="--family" ;;
		esac
		if [[ $cur != -* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi
		;;
	config)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "check" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
		;;
	*) return ;;
	esac
	COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
}
complete -F _mailgate mailgate
