/*
 * array.h — growing a caller-owned array geometrically, with overflow checks.
 *
 * It never owns the array: the caller keeps and frees it.
 *
 * An array here is a plain pointer, a count and a capacity (size_t) that the
 * caller keeps in its own struct.  Growth doubles the capacity, starting from
 * ARRAY_FIRST_CAP elements, until the needed count fits, so n appends cost O(n)
 * copies.  A failure — out of memory, or a byte count that would overflow
 * size_t — changes nothing: the old array and capacity stay valid and the
 * caller decides what it means (fail the request, latch `oom`, drop a sample).
 *
 *     if (ARRAY_GROW(s->rows, s->cap_rows, s->n_rows + 1))
 *             return COL_ENOMEM;
 *     s->rows[s->n_rows++] = row;
 *
 * Parallel arrays that share one capacity take the new capacity once from
 * array_next_cap() and resize each with array_resize().
 */
#ifndef COLONNADE_CORE_ARRAY_H
#define COLONNADE_CORE_ARRAY_H

#include <stddef.h>

/* Elements an empty array grows to first. */
#define ARRAY_FIRST_CAP 8

/*
 * Make the array at *arrp (a pointer to the array pointer) hold at least `need`
 * elements of `size` bytes; *cap is its capacity in elements.  0, or COL_ENOMEM
 * with *arrp and *cap unchanged.
 */
int array_grow(void *arrp, size_t *cap, size_t need, size_t size);
#define ARRAY_GROW(arr, cap, need) array_grow(&(arr), &(cap), (need), sizeof(*(arr)))

/* The capacity growth picks for an array of capacity cap that must hold need:
 * cap doubled (ARRAY_FIRST_CAP when 0) until need fits; 0 if that overflows. */
size_t array_next_cap(size_t cap, size_t need);
/* realloc() to n elements of `size` bytes; NULL (arr untouched) when out of
 * memory or n * size overflows. */
void *array_resize(void *arr, size_t n, size_t size);

#endif
