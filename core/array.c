#include "core/array.h"

#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t array_next_cap(size_t cap, size_t need)
{
	size_t c = cap ? cap : ARRAY_FIRST_CAP;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return 0;
		c *= 2;
	}
	return c;
}

void *array_resize(void *arr, size_t n, size_t size)
{
	if (n == 0 || size == 0 || n > SIZE_MAX / size)
		return NULL;
	return realloc(arr, n * size);
}

int array_grow(void *arrp, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return COL_OK;
	size_t nc = array_next_cap(*cap, need);
	/* The array pointer is read and written through memcpy: arrp points at a
	 * `T *` of the caller's type, which need not be a `void *` object. */
	void *old;
	memcpy(&old, arrp, sizeof(old));
	void *p = nc ? array_resize(old, nc, size) : NULL;
	if (!p)
		return COL_ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = nc;
	return COL_OK;
}
