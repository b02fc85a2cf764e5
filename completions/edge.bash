# bash completion for the edge toolkit:
#   edge-fetchdef edge-resolve edge-pull edge-pack edge-sign edge-verify edge-push
#   edge-serve
#
# One file serves all eight commands. `make install` copies it to
# $(BASHCOMPDIR)/edge-TOOL for each tool, so bash-completion loads it on
# demand for any of them; it may also be sourced directly. It works with or
# without the bash-completion package.
#
# Each tool's options are ONE variable below, _edge_opts_TOOL. Keep it equal
# to the options `edge-TOOL --help` prints: tests/90-docs.bats compares them
# (and the man page, and completions/_edge) for every implemented tool. An
# option that takes an argument also needs a case in _edge_value.

# --- per-tool option lists ---------------------------------------------

# edge-fetchdef: download a cluster definition from the Palette API
_edge_opts_fetchdef='--project-id --profile-ids --name -o --output --endpoint
	--values --api-key-file --api-key --ca-file --insecure --retries --timeout
	--stall-timeout --connect-timeout
	-q --quiet -v --verbose -h --help --version'

# edge-resolve: list the images and charts of cluster profiles
_edge_opts_resolve='--images --charts --platform --var --system --macro --name
	-q --quiet -v --verbose -h --help --version'

# edge-pull: pull images, charts and the definition into a store
_edge_opts_pull='--store --platform --all-platforms --keep-going --offline
	--mirror --registry --username --password-stdin --password-file --cred-file
	--ca-file --insecure --insecure-host --plain-http --plain-http-host --jobs
	--jobs-per-registry --retries --timeout
	--stall-timeout --connect-timeout --progress
	-q --quiet -v --verbose -h --help --version'

# edge-pack: pack a manifest's images, charts and definition into a bundle
_edge_opts_pack='--name -o --output --store --trust-store --level --threads --split --base --progress
	-q --quiet -v --verbose -h --help --version'

# edge-sign: sign bundles and definitions, make minisign key pairs
_edge_opts_sign='-k --key -t --trusted-comment --manifest --password-file
	-G --generate -p --pubkey -W --no-password --force --progress
	-q --quiet -v --verbose -h --help --version'

# edge-verify: check a bundle (signature, every entry), a store or a registry
_edge_opts_verify='-p --public-key --require-signature --digest --max-size --store --quick
	--registry --mapping --username --password-stdin --password-file --cred-file
	--ca-file --insecure --insecure-host --plain-http --plain-http-host --jobs
	--retries --timeout --stall-timeout
	--connect-timeout --list --json --progress
	-q --quiet -v --verbose -h --help --version'

# edge-push: push a bundle's (or a store's) images and charts to a registry
_edge_opts_push='--registry --mapping --chunk-size --dry-run
	--username --password-stdin --password-file --cred-file
	--ca-file --insecure --insecure-host --plain-http --plain-http-host --jobs
	--retries --timeout --stall-timeout
	--connect-timeout --progress
	-q --quiet -v --verbose -h --help --version'

# edge-serve: serve bundles read-only as an OCI registry
_edge_opts_serve='--listen --port-file --prefix --store --tls-cert --tls-key --htpasswd
	-p --public-key --require-signature --verify --threads --cache-size
	-q --quiet -v --verbose -h --help --version'

# --- option arguments --------------------------------------------------

# _edge_files: complete file names (directories too, to descend).
_edge_files() {
	if declare -F _filedir >/dev/null; then
		_filedir
	else
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

# _edge_dirs: complete directory names.
_edge_dirs() {
	if declare -F _filedir >/dev/null; then
		_filedir -d
	else
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
	fi
}

# _edge_words WORDS: complete $cur from WORDS; after a comma, the last item
# of a comma-separated list (--platform linux/amd64,linux/ar<TAB>).
_edge_words() {
	local pre='' word=$cur
	if [[ $cur == *,* ]]; then
		pre=${cur%,*},
		word=${cur##*,}
	fi
	COMPREPLY=($(compgen -P "$pre" -W "$1" -- "$word"))
}

# _edge_value OPTION: completes the argument of OPTION into COMPREPLY.
# Returns 1 when OPTION takes no argument.
_edge_value() {
	case $1 in
	--platform)
		_edge_words 'linux/amd64 linux/arm64 linux/arm/v7' ;;
	--progress)
		_edge_words 'auto always never' ;;
	--verify)
		_edge_words 'quick full' ;;
	--store)
		_edge_dirs ;;
	--images | --charts | -o | --output | --api-key-file | --ca-file | \
		--password-file | --cred-file | -k | --key | -p | --public-key | \
		--pubkey | --manifest | --port-file | --tls-cert | --tls-key | --htpasswd | --base)
		_edge_files ;;
	--project-id | --profile-ids | --name | --endpoint | --api-key | \
		--retries | --timeout | --stall-timeout | --connect-timeout | \
		--var | --system | --macro | --values | --registry | \
		--username | --jobs | --jobs-per-registry | --level | --threads | --split | --max-size | \
		--mapping | --mirror | --chunk-size | -t | --trusted-comment | \
		--insecure-host | --plain-http-host | \
		--listen | --prefix | --cache-size)
		COMPREPLY=() ;; # free text: nothing to offer
	*)
		return 1 ;;
	esac
	return 0
}

# --- the completion function ------------------------------------------

_edge() {
	local cur prev words cword split=false tool opts var
	if declare -F _init_completion >/dev/null; then
		_init_completion -s || return
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${words[cword]}
		prev=
		((cword > 0)) && prev=${words[cword - 1]}
		# --opt=value arrives as "--opt" "=" "value" (COMP_WORDBREAKS)
		if [[ $cur == = ]]; then
			cur=
		elif [[ $prev == = ]] && ((cword > 1)); then
			prev=${words[cword - 2]}
		fi
	fi

	tool=${1##*/}
	tool=${tool#edge-}
	var=_edge_opts_${tool//-/_}
	opts=${!var-}

	if _edge_value "$prev"; then
		return
	fi
	$split && return

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	# positional arguments: a manifest, definition, profile or bundle file
	[[ $tool == fetchdef ]] && return
	_edge_files
}

complete -F _edge edge-fetchdef edge-resolve edge-pull edge-pack edge-sign edge-verify edge-push edge-serve
