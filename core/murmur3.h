/*
 * murmur3.h — the Murmur3Partitioner token, computed exactly as Cassandra does.
 *
 * Pure: no state, no allocation.
 *
 * Cassandra's MurmurHash.hash3_x64_128 (org.apache.cassandra.utils.MurmurHash)
 * differs from the reference MurmurHash3_x64_128 in one place: the tail bytes
 * (length % 16) are read as *signed* Java bytes, so a tail byte >= 0x80 is
 * sign-extended before it is shifted in.  Drivers copy that quirk for
 * token-aware routing, and so do we: a partition's token must equal the
 * driver's or requests go to the wrong replicas.
 *
 * The token is the first 64-bit half of the hash with seed 0, except that
 * INT64_MIN (reserved by Cassandra as the ring's minimum token) maps to
 * INT64_MAX (Murmur3Partitioner.normalize).
 */
#ifndef COLONNADE_CORE_MURMUR3_H
#define COLONNADE_CORE_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

/* Cassandra's hash3_x64_128 of key[0..len) with `seed`; out[0], out[1] = h1, h2. */
void murmur3_x64_128_cassandra(const void *key, size_t len, uint64_t seed, int64_t out[2]);

/* The Murmur3Partitioner token of a serialized partition key. */
int64_t murmur3_token(const void *key, size_t len);

#endif
