# Shared helpers for the integration tests (sourced).  Each test gets a
# short temporary directory (sun_path is 108 bytes), starts real parleyd
# processes there and removes everything on exit, whatever happens.
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
PARLEYD=$top_builddir/node/parleyd
PARLEY=$top_builddir/cli/parley
RPCTOOL=$top_builddir/tests/tools/rpctool
T=$(mktemp -d /tmp/pt.XXXXXX)
tap_n=0
tap_fail=0
PIDS=""
# In an --enable-debug build, sanitizer reports from every process of the
# test (daemons included, which are detached) land in files checked at
# the end.
ASAN_OPTIONS="log_path=$T/san${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="log_path=$T/san:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	# PT_KEEP=1 keeps the logs and stores for a post-mortem
	if [ -n "${PT_KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); echo "not ok $tap_n - $*"; tap_fail=1; }
check() { # description, command...
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { echo "$*" | sed 's/^/# /'; }
done_testing() {
	for f in "$T"/san.*; do
		[ -e "$f" ] || continue
		not_ok "sanitizer report $(basename "$f")"
		sed 's/^/# /' "$f" | head -30
	done
	echo "1..$tap_n"
	exit $tap_fail
}

# start NAME [ARGS...]: starts a daemon with data in $T/NAME and socket
# $T/NAME.sock; returns when it serves (parleyd detaches only then).
start() {
	name=$1
	shift
	"$PARLEYD" --data-dir "$T/$name" --socket "$T/$name.sock" \
		--log-file "$T/$name.log" "$@"
	st=$?
	if [ $st = 0 ]; then
		p=$(pid_of "$name")
		# when the socket does not answer, the process is still ours
		# to stop at the end: found by its socket path (unique to T)
		[ -n "$p" ] || p=$(pgrep -f -- "--socket $T/$name.sock" | head -n 1)
		PIDS="$PIDS $p"
	fi
	return $st
}

# rpc NAME METHOD [PARAMS-JSON]: one request, prints the answer line.
rpc() {
	printf '{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}\n' \
		"$2" "${3:-{\}}" | "$RPCTOOL" "$T/$1.sock" send
}

# field JSON KEY: the string or number value of the first "KEY".
field() {
	printf '%s' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

pid_of() { field "$(rpc "$1" node.status)" pid; }

# stop NAME: SIGTERM and wait for the process to end (bounded).
stop() {
	p=$(pid_of "$1")
	[ -n "$p" ] || return 1
	kill -TERM "$p"
	waitpid "$p"
}

# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# waitpid PID: waits up to 10 s for a process that is not our child.
waitpid() {
	i=0
	while alive "$1"; do
		i=$((i + 1))
		[ $i -gt 1000 ] && return 1
		sleep 0.01
	done
	return 0
}

# Helpers of the messaging tests.
# seq_of NAME: the daemon's newest event number.
seq_of() { field "$(rpc "$1" node.status)" events_last_seq; }
# not CMD...: CMD fails.
not() { ! "$@"; }
# has TEXT PATTERN: grep of a string.
has() { printf '%s' "$1" | grep -q -- "$2"; }
# until_true CMD...: retries CMD every 0.1 s, UNTIL_TRIES times (default
# 200: 20 s), and fails if it never succeeds.
until_true() {
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -gt "${UNTIL_TRIES:-200}" ] && return 1
		sleep 0.1
	done
}
# dht_ready NAME N: the daemon has at least N DHT contacts.
dht_ready() { [ "$(field "$(rpc "$1" dht.status)" contacts)" -ge "$2" ]; }
