/*
 * store_fixture.h — the storage unit tests' temp directories and store options.
 * Include it once, in the test's .c file.
 */
#ifndef COLONNADE_TESTS_STORE_FIXTURE_H
#define COLONNADE_TESTS_STORE_FIXTURE_H

#include "storage/storage.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>

/* A fresh /tmp/colonnade-test-<what>-XXXXXX into dir (cap bytes). */
static inline void test_dir_make(char *dir, size_t cap, const char *what)
{
	snprintf(dir, cap, "/tmp/colonnade-test-%s-XXXXXX", what);
	cr_assert(mkdtemp(dir), "mkdtemp %s", dir);
}

static inline int test_dir_remove_one(const char *p, const struct stat *sb, int flag,
                                      struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* dir and everything under it removed (links are removed, not followed). */
static inline void test_dir_remove(const char *dir)
{
	nftw(dir, test_dir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Options for a test store in dir: defaults but small caches (8 MiB of blocks, 4 MiB
 * memtables), so a test's store stays light. */
static inline void test_store_options(struct store_options *o, const char *dir)
{
	store_options_init(o);
	o->data_dir = dir;
	o->block_cache_bytes = 8 << 20;
	o->write_buffer_bytes = 4 << 20;
}

#endif
