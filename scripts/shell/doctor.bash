# doctor.bash - report failing interactive commands to doctor's daemon.
#
# Source it from ~/.bashrc:   source /usr/share/doctor/shell/doctor.bash
#
# While a command line runs, the shell's stderr is copied (tee) into a file
# of a private per-shell folder (mode 0700, in $XDG_RUNTIME_DIR or /tmp,
# removed when the shell exits); the prompt and line editing are not copied.
# When the command line fails (exit status not 0, not an ignored status, its
# first word not an ignored command) and wrote to stderr, a background job
# sends the last 64 KiB of that stderr to the local daemon with `doctor send
# --kind shell`, with the command line, its exit status, the directory and
# the shell as the source's context, and when the command's first word
# (after VAR=value assignments) is a Python interpreter, that interpreter's
# absolute path (--python), so that remedies install into it. Nothing else
# leaves the shell, and nothing is sent for commands that succeed.
# Command lines that start with the doctor command itself are not copied:
# `doctor run` reports its command's errors, streams the agent's answer and
# asks its questions on the terminal, which its stderr must then be.
#
# Settings (environment or shell variables, read at every prompt):
#   DOCTOR_BIN                 the doctor command (default: `doctor` on PATH)
#   DOCTOR_SHELL_IGNORE        first words never reported (glob patterns)
#   DOCTOR_SHELL_IGNORE_STATUS exit statuses never reported (default: 130 148,
#                              i.e. Ctrl-C and Ctrl-Z)
#   DOCTOR_SHELL_VERBOSE=1     print what `doctor send` says
#   DOCTOR_SHELL_DISABLE=1     report nothing (the hook stays installed)
# Works alone or beside bash-preexec; an existing DEBUG or EXIT trap is kept.

[[ $- == *i* ]] || return 0
[[ -n ${__doctor_loaded-} ]] && return 0

: "${DOCTOR_SHELL_IGNORE=false test [ [[ fg bg jobs wait exit logout doctor}"
: "${DOCTOR_SHELL_IGNORE_STATUS=130 148}"

__doctor_dir=      # the private folder (owned by this shell)
__doctor_n=0       # which capture file is current: err.N
__doctor_err=      # while a command runs: fd of the shell's own stderr
__doctor_armed=0   # 1 between the prompt and the next command line
__doctor_first=    # the first simple command of the line ($BASH_COMMAND)
__doctor_hist=     # $HISTCMD at the prompt: a greater one means a new entry
__doctor_seq=0     # command lines run; the copier of line N writes N to $__doctor_dir/done
__doctor_nap=      # fd of a FIFO nobody writes: `read -t` on it sleeps without a fork

__doctor_make_dir() {
	local base=/tmp
	if [[ ${XDG_RUNTIME_DIR-} == /* && -d $XDG_RUNTIME_DIR && -w $XDG_RUNTIME_DIR ]]; then
		base=$XDG_RUNTIME_DIR
	fi
	__doctor_dir=$(mktemp -d "$base/doctor-shell.XXXXXX" 2>/dev/null)
}

# The command of a trap, so that ours runs before it instead of replacing it.
__doctor_trap_cmd() {
	local spec
	spec=$(trap -p "$1")
	[[ -n $spec ]] || return 0
	eval "set -- $spec"
	printf '%s' "$3"
}

# Before the command line runs (DEBUG trap, or bash-preexec): copy stderr
# through a FIFO read by a detached tee. Not a process substitution: bash
# sets $! to its pid, and `cmd &` then `kill $!` must keep working.
__doctor_preexec() {
	[[ $__doctor_armed == 1 && -z ${COMP_LINE-} && -z $__doctor_err ]] || return 0
	__doctor_armed=0
	__doctor_first=$BASH_COMMAND
	__doctor_is_doctor "${__doctor_first%%[[:space:]]*}" && return 0
	__doctor_seq=$((__doctor_seq + 1))
	local f=$__doctor_dir/err.$__doctor_n p=$__doctor_dir/pipe.$__doctor_n
	[[ -d $__doctor_dir ]] && { : >|"$f"; } 2>/dev/null || return 0
	command mkfifo -m 600 -- "$p" 2>/dev/null || return 0
	(__doctor_tee "$p" "$f" "$__doctor_seq" >&3 3>&- &) 3>&2 2>/dev/null || return 0
	exec {__doctor_err}>&2
	exec 2>"$p" # the tee has it open for reading, or will at once
	return 0
}

# Is word $1 the doctor command (doctor, or $DOCTOR_BIN by name or path)?
__doctor_is_doctor() {
	[[ $1 == doctor || (-n ${DOCTOR_BIN-} && ($1 == "$DOCTOR_BIN" || $1 == "${DOCTOR_BIN##*/}")) ]]
}

# The detached copier: stdin is the FIFO ($1), the copy goes to the shell's
# stderr and to $2. tee -i: Ctrl-C is for the command, not for the copy.
# Writing the line's number $3 to "done" says every byte is in: the last
# writer has closed the pipe.
__doctor_tee() {
	exec <"$1" || return 0
	command rm -f -- "$1"
	command tee -i -a -- "$2" 2>/dev/null
	{ printf '%s\n' "$3" >|"${2%/*}/done"; } 2>/dev/null
}

# Is the copy of command line $1 complete?
__doctor_copied() {
	local n=
	{ read -r n <"$__doctor_dir/done"; } 2>/dev/null
	[[ $n == "$1" ]]
}

# If command line $1 starts a Python interpreter (python, python3,
# python3.11, venv/bin/python, after VAR=value words), print its absolute
# path. Words are split on blanks only: a quoted first word is not looked up.
__doctor_python() {
	local -a words
	local w p
	read -r -a words <<<"$1"
	for w in "${words[@]}"; do
		[[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || break
	done
	# shellcheck disable=SC2088 # the literal "~/" as typed, expanded here
	[[ $w == "~/"* ]] && w=$HOME/${w#"~/"}
	[[ ${w##*/} =~ ^python[0-9.]*$ ]] || return 0
	p=$(command -v -- "$w" 2>/dev/null) || return 0
	[[ $p == */* ]] || return 0 # an alias or a function
	[[ $p == /* ]] || p=$PWD/$p
	printf '%s' "$p"
}

# Is this failure one to report? $1 status, $2 first word.
__doctor_wanted() {
	local p
	[[ -z ${DOCTOR_SHELL_DISABLE-} || ${DOCTOR_SHELL_DISABLE} == 0 ]] || return 1
	for p in $DOCTOR_SHELL_IGNORE_STATUS; do
		[[ $1 == "$p" ]] && return 1
	done
	for p in $DOCTOR_SHELL_IGNORE; do
		# shellcheck disable=SC2053 # the entries are patterns
		[[ $2 == $p ]] && return 1
	done
	return 0
}

# In the background: wait (bounded) for the copy to be complete, then send
# it. $1 capture file, $2 exit status, $3 command line, $4 directory,
# $5 the line's number, $6 1 when the copy was already complete, $7 the
# Python interpreter that ran, or empty.
__doctor_send() {
	local f=$1 i=0 bin
	exec 3<"$f" || return 0 # held: the shell's exit may remove the folder
	while [[ $6 != 1 && -d ${f%/*} ]] && ! __doctor_copied "$5" && ((i++ < 100)); do
		sleep 0.02
	done
	rm -f -- "$f"
	[[ -s /dev/fd/3 ]] || return 0 # no stderr: nothing the daemon could read
	bin=${DOCTOR_BIN:-$(command -v doctor)}
	[[ -n $bin ]] || return 0
	tail -c 65536 <&3 | "$bin" --timeout 5 send --kind shell --name "$3" --cwd "$4" \
		--command "$3" --exit-status "$2" --shell bash ${7:+--python "$7"}
}

# The DEBUG trap: only for commands run at the top level (with set -T it
# also fires inside functions, ours included). Always 0: under extdebug a
# failing DEBUG trap would skip the user's command.
__doctor_debug() {
	((${#FUNCNAME[@]} <= 1)) && __doctor_preexec
	return 0
}

# At the prompt, first of PROMPT_COMMAND: stop copying, report a failure.
__doctor_precmd() {
	local status=$? line
	[[ -n $__doctor_err ]] || return $status
	exec 2>&"$__doctor_err" {__doctor_err}>&-
	__doctor_err=
	# Let the copy reach the terminal before the prompt (at most 100 ms: a
	# background job of the line may hold the pipe open for long).
	local i=0 copied=0
	while ! __doctor_copied "$__doctor_seq" && [[ -d $__doctor_dir ]] && ((i++ < 20)); do
		read -r -t 0.005 -u "$__doctor_nap" 2>/dev/null
	done
	__doctor_copied "$__doctor_seq" && copied=1
	if ((status != 0)) && __doctor_wanted "$status" "${__doctor_first%%[[:space:]]*}"; then
		# the history entry when this line made one, else its first command
		line=$__doctor_first
		if [[ -n $__doctor_hist && ${HISTCMD-0} -gt $__doctor_hist ]]; then
			line=$(HISTTIMEFORMAT='' builtin history 1 2>/dev/null) || line=''
			line=${line#"${line%%[![:space:]]*}"} # "  42  cmd": the number
			line=${line#"${line%%[![:digit:]]*}"}
			line=${line#"${line%%[![:space:]]*}"}
			[[ -n $line ]] || line=$__doctor_first
		fi
		line=${line%%$'\n'*}
		line=${line:0:200}
		local f=$__doctor_dir/err.$__doctor_n py
		__doctor_n=$((__doctor_n + 1)) # the sender owns that file now
		# here, where $PATH and the directory are the command's
		[[ $line == *python* ]] && py=$(__doctor_python "$line")
		if [[ ${DOCTOR_SHELL_VERBOSE-} == 1 ]]; then
			(__doctor_send "$f" "$status" "$line" "$PWD" "$__doctor_seq" "$copied" "$py" </dev/null &)
		else
			(__doctor_send "$f" "$status" "$line" "$PWD" "$__doctor_seq" "$copied" "$py" </dev/null >/dev/null 2>&1 &)
		fi
	fi
	return $status
}

# Last of PROMPT_COMMAND: the next DEBUG trap is the user's command line.
__doctor_arm() {
	local status=$?
	__doctor_hist=${HISTCMD-}
	__doctor_armed=1
	return $status
}

# Renamed first: a copier finishing now must not recreate files in it.
__doctor_exit() {
	[[ -n $__doctor_dir && -d $__doctor_dir ]] || return 0
	if command mv -- "$__doctor_dir" "$__doctor_dir.gone" 2>/dev/null; then
		command rm -rf -- "$__doctor_dir.gone"
	else
		command rm -rf -- "$__doctor_dir"
	fi
}

__doctor_install() {
	__doctor_make_dir
	if [[ -z $__doctor_dir ]]; then
		printf 'doctor.bash: cannot create a private folder; failing commands are not reported\n' >&2
		return 1
	fi
	if ! command mkfifo -m 600 -- "$__doctor_dir/nap" || ! exec {__doctor_nap}<>"$__doctor_dir/nap"; then
		__doctor_exit
		__doctor_dir=
		printf 'doctor.bash: cannot create a FIFO; failing commands are not reported\n' >&2
		return 1
	fi
	if [[ -z ${DOCTOR_BIN-} ]] && ! command -v doctor >/dev/null; then
		printf 'doctor.bash: no doctor command on PATH (set DOCTOR_BIN); failing commands are not reported\n' >&2
	fi
	local old
	old=$(__doctor_trap_cmd EXIT)
	trap -- "__doctor_exit${old:+; $old}" EXIT
	if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
		# bash-preexec owns the DEBUG trap and PROMPT_COMMAND; join it.
		__doctor_bp_preexec() { __doctor_armed=1; __doctor_preexec; }
		preexec_functions+=(__doctor_bp_preexec)
		precmd_functions=(__doctor_precmd "${precmd_functions[@]}")
	else
		old=$(__doctor_trap_cmd DEBUG)
		trap -- "__doctor_debug${old:+; $old}" DEBUG
		if [[ $(declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
			PROMPT_COMMAND=(__doctor_precmd "${PROMPT_COMMAND[@]}" __doctor_arm)
		else
			# shellcheck disable=SC2128,SC2178 # the string form, checked above
			PROMPT_COMMAND="__doctor_precmd${PROMPT_COMMAND:+$'\n'$PROMPT_COMMAND}"$'\n'"__doctor_arm"
		fi
	fi
	__doctor_loaded=1
}

__doctor_install
