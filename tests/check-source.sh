#!/bin/sh
# Cheap source checks (STYLE.md section 9), TAP output.
srcdir=${top_srcdir:-.}
cd "$srcdir" || exit 1
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "$2" | head -20 | sed 's/^/# /'
		fail=1
	fi
}
files=$(find crypto store dht node cli -name '*.[ch]' 2>/dev/null | sort)
# Injected clock and randomness: the raw calls only in the sys files.
core=$(echo "$files" | grep -vE '^(node/sys_[a-z0-9_]+\.c|node/main\.c|crypto/rng_sodium\.c|cli/)')
check "no raw clock, random or send calls in core code" \
	"$( [ -n "$core" ] && grep -nwE '(time|clock_gettime|gettimeofday|uv_now|randombytes_buf|rand|random|sendto)[[:space:]]*\(' $core | grep -v '^\S*:[0-9]*:[[:space:]]*\(/\*\|\*\)')"
check "no unsafe string functions" \
	"$( [ -n "$files" ] && grep -nwE '(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|gets)[[:space:]]*\(' $files)"
check "FIXME: is the only to-do marker" \
	"$( [ -n "$files" ] && grep -nE '\b(TODO|XXX|HACK)\b' $files)"
check "log format strings carry no newline" \
	"$( [ -n "$files" ] && grep -nE '\blog_(debug|info|warn|error)\([^;]*\\n"' $files)"
echo "1..$n"
exit $fail
