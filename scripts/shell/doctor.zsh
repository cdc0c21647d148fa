# doctor.zsh - report failing interactive commands to doctor's daemon.
#
# Source it from ~/.zshrc:   source /usr/share/doctor/shell/doctor.zsh
#
# While a command line runs, the shell's stderr is copied (tee) into a file
# of a private per-shell folder (mode 0700, in $XDG_RUNTIME_DIR or /tmp,
# removed when the shell exits); the line editor writes to the terminal
# directly and is never copied. When the command line fails (exit status not
# 0, not an ignored status, its first word not an ignored command) and wrote
# to stderr, a background job sends the last 64 KiB of that stderr to the
# local daemon with `doctor send --kind shell`, with the command line, its
# exit status, the directory and the shell as the source's context, and when
# the command's first word (after VAR=value assignments) is a Python
# interpreter, that interpreter's absolute path (--python), so that remedies
# install into it. Nothing else leaves the shell, and nothing is sent for
# commands that succeed. Command lines that start with the doctor command
# itself are not copied (doctor run reports, and asks, on the terminal).
#
# Settings (read at every prompt): DOCTOR_BIN, DOCTOR_SHELL_IGNORE (first
# words never reported, glob patterns), DOCTOR_SHELL_IGNORE_STATUS (default
# "130 148": Ctrl-C and Ctrl-Z), DOCTOR_SHELL_VERBOSE=1 (print what
# `doctor send` says), DOCTOR_SHELL_DISABLE=1 (report nothing). The same as
# doctor.bash.

[[ -o interactive ]] || return 0
(( ${+__doctor_loaded} )) && return 0

: ${DOCTOR_SHELL_IGNORE=false test [ [[ fg bg jobs wait exit logout doctor}
: ${DOCTOR_SHELL_IGNORE_STATUS=130 148}

typeset -g __doctor_dir=     # the private folder (owned by this shell)
typeset -gi __doctor_n=0     # which capture file is current: err.N
typeset -g __doctor_err=     # while a command runs: fd of the shell's own stderr
typeset -g __doctor_line=    # the command line as typed
typeset -gi __doctor_seq=0   # command lines run; the copier of line N writes N to $__doctor_dir/done

# Before the command line runs: copy stderr. $1 is the line as typed.
__doctor_preexec() {
	[[ -z $__doctor_err && -d $__doctor_dir ]] || return 0
	__doctor_line=$1
	# the doctor command itself: its stderr stays the terminal (doctor run
	# streams the agent's answer and asks its questions there)
	local -a first=(${(z)1})
	[[ ${first[1]} == doctor || ( -n ${DOCTOR_BIN-} &&
	   ( ${first[1]} == $DOCTOR_BIN || ${first[1]} == ${DOCTOR_BIN:t} ) ) ]] && return 0
	(( __doctor_seq++ ))
	local f=$__doctor_dir/err.$__doctor_n
	{ : >| $f } 2>/dev/null || return 0
	exec {__doctor_err}>&2
	# tee -i: Ctrl-C is for the command, not for the copy. Writing the
	# line's number to "done" says every byte is in: the last writer of the
	# pipe has closed it.
	exec 2> >(tee -i -a -- $f 2>/dev/null >&$__doctor_err; { print -r -- $__doctor_seq >| ${f:h}/done } 2>/dev/null)
	return 0
}

# Is the copy of command line $1 complete?
__doctor_copied() {
	local n=
	{ read -r n <$__doctor_dir/done } 2>/dev/null
	[[ $n == $1 ]]
}

# If the shell words $@ of a command line start a Python interpreter
# (python, python3, python3.11, venv/bin/python, after VAR=value words),
# print its absolute path.
__doctor_python() {
	local w p
	for w in "$@"; do # plain patterns: the user's glob options are unknown
		[[ $w == [A-Za-z_]*=* && ${w%%=*} != *[^A-Za-z0-9_]* ]] || break
	done
	w=${(Q)w}
	[[ $w == \~/* ]] && w=$HOME/${w#\~/}
	[[ ${w:t} == python* && ${${w:t}#python} != *[^0-9.]* ]] || return 0
	p=$(command -v -- $w 2>/dev/null) || return 0
	[[ $p == */* ]] || return 0 # an alias or a function
	[[ $p == /* ]] || p=$PWD/$p
	print -rn -- $p
}

# Is this failure one to report? $1 status, $2 first word.
__doctor_wanted() {
	local p
	[[ -z ${DOCTOR_SHELL_DISABLE-} || $DOCTOR_SHELL_DISABLE == 0 ]] || return 1
	for p in ${=DOCTOR_SHELL_IGNORE_STATUS}; do
		[[ $1 == $p ]] && return 1
	done
	for p in ${=DOCTOR_SHELL_IGNORE}; do
		[[ $2 == $p ]] && return 1 # as written ("[" is not a pattern)
		[[ $p == *[*?]* && $p != *[\[\]]* && $2 == ${~p} ]] && return 1
	done
	return 0
}

# In the background: wait (bounded) for the copy to be complete, then send
# it. $1 capture file, $2 exit status, $3 command line, $4 directory,
# $5 the line's number, $6 1 when the copy was already complete, $7 the
# Python interpreter that ran, or empty.
__doctor_send() {
	local f=$1 i=0 bin
	exec 3<$f || return 0 # held: the shell's exit may remove the folder
	while [[ $6 != 1 && -d ${f:h} ]] && ! __doctor_copied $5 && (( i++ < 100 )); do
		sleep 0.02
	done
	rm -f -- $f
	[[ -s /dev/fd/3 ]] || return 0 # no stderr: nothing the daemon could read
	bin=${DOCTOR_BIN:-${commands[doctor]}}
	[[ -n $bin ]] || return 0
	tail -c 65536 <&3 | $bin --timeout 5 send --kind shell --name $3 --cwd $4 \
		--command $3 --exit-status $2 --shell zsh ${7:+--python=$7}
}

# At the prompt, first of precmd_functions: stop copying, report a failure.
__doctor_precmd() {
	local -i st=$?
	[[ -n $__doctor_err ]] || return $st
	exec 2>&$__doctor_err {__doctor_err}>&-
	__doctor_err=
	# Let the copy reach the terminal before the prompt (at most 100 ms: a
	# background job of the line may hold the pipe open for long).
	local -i i=0 copied=0
	while ! __doctor_copied $__doctor_seq && [[ -d $__doctor_dir ]] && (( i++ < 20 )); do
		zselect -t 1 2>/dev/null || break
	done
	__doctor_copied $__doctor_seq && copied=1
	local line=${__doctor_line%%$'\n'*}
	line=${line[1,200]}
	local -a words=(${(z)line})
	if (( st != 0 )) && __doctor_wanted $st "${words[1]}"; then
		local f=$__doctor_dir/err.$__doctor_n py=
		(( __doctor_n++ )) # the sender owns that file now
		# here, where $PATH and the directory are the command's
		[[ $line == *python* ]] && py=$(__doctor_python "${words[@]}")
		if [[ ${DOCTOR_SHELL_VERBOSE-} == 1 ]]; then
			( __doctor_send $f $st $line $PWD $__doctor_seq $copied "$py" </dev/null & )
		else
			( __doctor_send $f $st $line $PWD $__doctor_seq $copied "$py" </dev/null >/dev/null 2>&1 & )
		fi
	fi
	return $st
}

# Renamed first: a copier finishing now must not recreate files in it.
__doctor_exit() {
	[[ -n $__doctor_dir && -d $__doctor_dir ]] || return 0
	if command mv -- $__doctor_dir $__doctor_dir.gone 2>/dev/null; then
		command rm -rf -- $__doctor_dir.gone
	else
		command rm -rf -- $__doctor_dir
	fi
}

__doctor_install() {
	local base=/tmp
	if [[ ${XDG_RUNTIME_DIR-} == /* && -d $XDG_RUNTIME_DIR && -w $XDG_RUNTIME_DIR ]]; then
		base=$XDG_RUNTIME_DIR
	fi
	__doctor_dir=$(mktemp -d $base/doctor-shell.XXXXXX 2>/dev/null)
	if [[ -z $__doctor_dir ]]; then
		print -u2 'doctor.zsh: cannot create a private folder; failing commands are not reported'
		return 1
	fi
	if [[ -z ${DOCTOR_BIN-} ]] && (( ! ${+commands[doctor]} )); then
		print -u2 'doctor.zsh: no doctor command on PATH (set DOCTOR_BIN); failing commands are not reported'
	fi
	zmodload zsh/zselect 2>/dev/null   # a sleep without a fork
	autoload -Uz add-zsh-hook
	add-zsh-hook preexec __doctor_preexec
	add-zsh-hook zshexit __doctor_exit
	# first, so that $? is still the command line's
	precmd_functions=(__doctor_precmd ${precmd_functions:#__doctor_precmd})
	typeset -g __doctor_loaded=1
}

__doctor_install
