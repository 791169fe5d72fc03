# node/: the daemon.  libnode.a is the sans-I/O core; libnode_sys.a holds
# the files that touch libuv, sockets and the OS (node/sys_*.c).
bin_PROGRAMS += node/parleyd
node_parleyd_SOURCES = node/main.c
node_parleyd_CFLAGS = $(AM_CFLAGS) $(UV_CFLAGS) $(JANSSON_CFLAGS)
node_parleyd_LDADD = crypto/libcx_sys.a crypto/libcx.a \
	$(UV_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)
