/*
 * coordinator_helper_hintcorrupt — damages the stored hints of a stopped
 * node, for the bad-input cluster test of hinted handoff (docs/HINTS.md):
 *
 *   coordinator_helper_hintcorrupt DATA_DIR N_TRUNCATE N_FLIP
 *
 * The first N_TRUNCATE hint values (in key order) are cut to half their
 * length (a torn write), the next N_FLIP get one byte of their mutation
 * flipped (the checksum no longer matches).  Prints "damaged T truncated,
 * F flipped of H hints" and exits 0, or 1 with the reason.
 */
#include "coordinator/hints/hints.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct damage {
	struct store *s;
	long truncate, flip, done_t, done_f, seen;
	int rc;
};

static int each(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct damage *d = ctx;
	d->seen++;
	if (klen != HINTS_KEY_LEN || vlen <= HINTS_VALUE_HDR + 1)
		return 0;
	uint8_t *v = malloc(vlen);
	if (!v)
		return d->rc = 1;
	memcpy(v, val, vlen);
	size_t len = vlen;
	if (d->done_t < d->truncate) {
		len = vlen / 2;
		d->done_t++;
	} else if (d->done_f < d->flip) {
		v[vlen - 1] ^= 0x5a;
		d->done_f++;
	} else {
		free(v);
		return 0;
	}
	struct cerr e = {0};
	if (store_kv_put(d->s, STORE_CF_HINTS, key, klen, v, len, &e)) {
		fprintf(stderr, "put: %s\n", e.msg);
		d->rc = 1;
	}
	free(v);
	return d->rc;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DATA_DIR N_TRUNCATE N_FLIP\n", argv[0]);
		return 1;
	}
	struct store_options o;
	store_options_init(&o);
	o.data_dir = argv[1];
	struct damage d = {.truncate = atol(argv[2]), .flip = atol(argv[3])};
	struct cerr e = {0};
	if (store_open(&o, &d.s, &e)) {
		fprintf(stderr, "open %s: %s\n", argv[1], e.msg);
		return 1;
	}
	uint8_t prefix = 0x01; /* hint records (hints.h) */
	int rc = store_kv_scan(d.s, STORE_CF_HINTS, &prefix, 1, each, &d, &e);
	store_close(d.s);
	if (rc || d.rc) {
		fprintf(stderr, "scan: %s\n", e.msg);
		return 1;
	}
	printf("damaged %ld truncated, %ld flipped of %ld hints\n", d.done_t, d.done_f, d.seen);
	return 0;
}
