/*
 * Array growth (core/array.h): doubling from the first capacity, a jump past
 * double when more is needed, and overflow refused with the array untouched.
 */
#include "core/array.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

struct pair {
	int64_t a, b;
};

Test(array, grows_geometrically_and_keeps_contents)
{
	struct pair *v = NULL;
	size_t n = 0, cap = 0;
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(ARRAY_GROW(v, cap, n + 1), COL_OK);
		cr_assert_geq(cap, n + 1);
		v[n++] = (struct pair){i, -i};
	}
	cr_expect_eq(cap, 1024, "8 doubled up to 1000 elements is 1024, got %zu", cap);
	for (int i = 0; i < 1000; i++)
		cr_expect(v[i].a == i && v[i].b == -i, "element %d lost", i);
	/* already big enough: nothing moves */
	struct pair *before = v;
	cr_expect_eq(ARRAY_GROW(v, cap, 1024), COL_OK);
	cr_expect_eq(v, before);
	cr_expect_eq(cap, 1024);
	free(v);
}

Test(array, first_growth_and_jumps)
{
	cr_expect_eq(array_next_cap(0, 1), ARRAY_FIRST_CAP);
	cr_expect_eq(array_next_cap(0, 100), 128);
	cr_expect_eq(array_next_cap(3, 4), 6);
	cr_expect_eq(array_next_cap(16, 16), 16);
	cr_expect_eq(array_next_cap(SIZE_MAX / 2 + 1, SIZE_MAX), 0, "doubling past SIZE_MAX");
}

Test(array, overflowing_byte_count_changes_nothing)
{
	struct pair *v = NULL;
	size_t cap = 0;
	cr_assert_eq(ARRAY_GROW(v, cap, 4), COL_OK);
	v[0] = (struct pair){7, 8};
	struct pair *before = v;
	cr_expect_eq(ARRAY_GROW(v, cap, SIZE_MAX / sizeof(*v) + 1), COL_ENOMEM);
	cr_expect_eq(v, before);
	cr_expect_eq(cap, ARRAY_FIRST_CAP);
	cr_expect(v[0].a == 7 && v[0].b == 8);
	cr_expect_null(array_resize(v, SIZE_MAX / 2, 4));
	cr_expect_eq(v[0].a, 7, "a refused resize leaves the array as it was");
	free(v);
}
