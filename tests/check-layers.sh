#!/bin/sh
# Layering check (DESIGN.md section 2, STYLE.md section 1): each module
# includes only the layers below it, and each third-party header is included
# by its one module.  Prints TAP; a violation fails the test.
srcdir=${top_srcdir:-.}
cd "$srcdir" || exit 1

n=0
fail=0
check() { # description, offending lines (empty = ok)
	n=$((n + 1))
	if [ -z "$2" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "$2" | sed 's/^/# /'
		fail=1
	fi
}
inc() { # dir, pattern: #include lines in dir matching pattern
	[ -d "$1" ] || return 0
	grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" \
		--include='*.c' --include='*.h' "$1" 2>/dev/null
}
ours='crypto/|store/|dht/|node/|cli/'

check "crypto/ includes nothing of ours but crypto/" \
	"$(inc crypto "$ours" | grep -vE '"crypto/')"
check "store/ includes nothing of ours but store/" \
	"$(inc store "$ours" | grep -vE '"store/')"
check "dht/ includes only dht/ and crypto/" \
	"$(inc dht "$ours" | grep -vE '"(dht|crypto)/')"
check "cli/ includes nothing of node, dht, store, crypto" \
	"$(inc cli "$ours|\.\./" | grep -vE '"cli/')"
check "<sodium.h> only in crypto/" \
	"$(for d in node dht store cli; do inc $d 'sodium'; done)"
check "<lmdb.h>, <zstd.h> only in store/" \
	"$(for d in node dht crypto cli; do inc $d 'lmdb\.h|zstd\.h'; done)"
check "<uv.h>, miniupnpc only in node/sys_*.c and node/main.c" \
	"$(for d in dht crypto store cli; do inc $d 'uv\.h|miniupnpc'; done; \
	   inc node 'uv\.h|miniupnpc' | grep -vE '^node/(sys_[a-z0-9_]+\.[ch]|main\.c):')"
check "jansson only in node/ and cli/" \
	"$(for d in dht crypto store; do inc $d 'jansson'; done)"
check "ncurses, qrencode only in cli/" \
	"$(for d in dht crypto store node; do inc $d 'ncurses|curses|qrencode'; done)"
echo "1..$n"
exit $fail
