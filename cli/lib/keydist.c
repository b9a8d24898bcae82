/*
 * keydist.c — key distributions after YCSB's generators (see keydist.h).
 */
#include "cli/lib/keydist.h"

#include "core/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void keyrng_seed(struct keyrng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t keyrng_next(struct keyrng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double keyrng_double(struct keyrng *r)
{
	return (double)(keyrng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t keyrng_below(struct keyrng *r, uint64_t n)
{
	/* Reject the top sliver that would bias the modulo (Lemire-style bound). */
	uint64_t threshold = (0 - n) % n;
	for (;;) {
		uint64_t x = keyrng_next(r);
		if (x >= threshold)
			return x % n;
	}
}

uint64_t keydist_fnvhash64(int64_t v)
{
	uint64_t val = (uint64_t)v, h = 0xCBF29CE484222325ull;
	for (int i = 0; i < 8; i++) {
		h ^= val & 0xff;
		val >>= 8;
		h *= 1099511628211ull;
	}
	/* Java's Math.abs on a long; Long.MIN_VALUE maps to 2^63 here. */
	return (int64_t)h < 0 ? (uint64_t)0 - h : h;
}

static double zeta_range(uint64_t from, uint64_t to, double theta, double initial)
{
	double sum = initial;
	for (uint64_t i = from; i < to; i++)
		sum += 1.0 / pow((double)(i + 1), theta);
	return sum;
}

static void zipf_set_eta(struct zipf *z)
{
	z->eta = (1.0 - pow(2.0 / (double)z->items, 1.0 - z->theta)) /
	         (1.0 - z->zeta2theta / z->zetan);
}

int zipf_init(struct zipf *z, uint64_t items, double theta, double zetan)
{
	if (items < 1 || !(theta > 0 && theta < 1))
		return COL_EINVAL;
	z->items = items;
	z->theta = theta;
	z->alpha = 1.0 / (1.0 - theta);
	z->zeta2theta = zeta_range(0, 2, theta, 0);
	z->zetan = zetan > 0 ? zetan : zeta_range(0, items, theta, 0);
	zipf_set_eta(z);
	return COL_OK;
}

void zipf_grow(struct zipf *z, uint64_t items)
{
	if (items <= z->items)
		return;
	z->zetan = zeta_range(z->items, items, z->theta, z->zetan);
	z->items = items;
	zipf_set_eta(z);
}

uint64_t zipf_rank(const struct zipf *z, double u)
{
	double uz = u * z->zetan;
	if (uz < 1.0 || z->items == 1)
		return 0;
	if (uz < 1.0 + pow(0.5, z->theta))
		return 1;
	uint64_t r = (uint64_t)((double)z->items * pow(z->eta * u - z->eta + 1, z->alpha));
	return r < z->items ? r : z->items - 1;
}

void keyseq_init(struct keyseq *s, uint64_t start)
{
	memset(s, 0, sizeof(*s));
	s->next = start;
	s->limit = start;
}

int keyseq_next(struct keyseq *s, uint64_t *key)
{
	if (s->next - s->limit >= KEYSEQ_WINDOW)
		return COL_EFULL;
	*key = s->next++;
	return COL_OK;
}

void keyseq_ack(struct keyseq *s, uint64_t key)
{
	if (key < s->limit || key >= s->next)
		return; /* already counted, or never handed out */
	uint64_t slot = key % KEYSEQ_WINDOW;
	s->acked[slot / 8] |= (uint8_t)(1u << (slot % 8));
	for (;;) {
		uint64_t l = s->limit % KEYSEQ_WINDOW;
		uint8_t bit = (uint8_t)(1u << (l % 8));
		if (s->limit >= s->next || !(s->acked[l / 8] & bit))
			break;
		s->acked[l / 8] &= (uint8_t)~bit;
		s->limit++;
	}
}

static const char *const kind_names[] = {"uniform", "zipfian", "latest"};

int keydist_parse(const char *name, enum keydist_kind *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcasecmp(name, kind_names[i])) {
			*out = (enum keydist_kind)i;
			return COL_OK;
		}
	return COL_EINVAL;
}

const char *keydist_name(enum keydist_kind k)
{
	return (unsigned)k < 3 ? kind_names[k] : "?";
}

struct keydist {
	enum keydist_kind kind;
	uint64_t items;
	bool scrambled_ycsb; /* inner Zipfian over 10^10 items with YCSB's zeta */
	struct zipf z;
	const struct keyseq *seq;
};

int keydist_new(enum keydist_kind kind, uint64_t items, double theta, const struct keyseq *seq,
                struct keydist **out)
{
	if (kind == KEYDIST_LATEST ? !seq : items < 1)
		return COL_EINVAL;
	if (kind != KEYDIST_UNIFORM && !(theta > 0 && theta < 1))
		return COL_EINVAL;
	struct keydist *d = calloc(1, sizeof(*d));
	if (!d)
		return COL_ENOMEM;
	d->kind = kind;
	d->items = items;
	d->seq = seq;
	int rc = COL_OK;
	if (kind == KEYDIST_ZIPFIAN) {
		d->scrambled_ycsb = theta == KEYDIST_DEFAULT_THETA;
		if (d->scrambled_ycsb)
			rc = zipf_init(&d->z, (uint64_t)KEYDIST_YCSB_ITEMS + 1, theta,
			               KEYDIST_YCSB_ZETAN);
		else
			rc = zipf_init(&d->z, items, theta, 0);
	} else if (kind == KEYDIST_LATEST) {
		uint64_t n = keyseq_count(seq);
		rc = zipf_init(&d->z, n ? n : 1, theta, 0);
	}
	if (rc) {
		free(d);
		return rc;
	}
	*out = d;
	return COL_OK;
}

void keydist_free(struct keydist *d)
{
	free(d);
}

uint64_t keydist_next(struct keydist *d, struct keyrng *r)
{
	switch (d->kind) {
	case KEYDIST_UNIFORM: return keyrng_below(r, d->items);
	case KEYDIST_ZIPFIAN: {
		uint64_t rank = zipf_rank(&d->z, keyrng_double(r));
		return keydist_fnvhash64((int64_t)rank) % d->items;
	}
	case KEYDIST_LATEST: {
		uint64_t n = keyseq_count(d->seq);
		if (n == 0)
			return 0;
		zipf_grow(&d->z, n);
		return n - 1 - zipf_rank(&d->z, keyrng_double(r));
	}
	}
	return 0;
}
