# store/: LMDB and zstd (DESIGN.md section 2).
EXTRA_DIST += store/store.h
