/*
 * identity.h — who this node is, kept across restarts: host id, tokens and
 * gossip generation, in the storage engine's system column family.
 *
 * It never changes an identity once stored (only the generation moves
 * forward).
 *
 * At first boot (no host id stored) the node draws a random UUID v4 host id
 * and `num_tokens` distinct random Murmur3 tokens (never INT64_MIN, which the
 * partitioner reserves as the minimum token) and stores them; afterwards they
 * are read back unchanged, whatever the address the node now has or the
 * num_tokens it is now configured with (Cassandra ignores a changed
 * num_tokens once a node has joined; so do we, with a warning by the caller).
 * The generation is the wall clock in seconds at boot, but always at least
 * one above the generation stored by the previous boot (a clock stepped back
 * must not make peers ignore our new state), and it is stored before gossip
 * starts.
 *
 * DISK LAYOUT (system CF keys; integers big-endian):
 *
 * | key                  | value                                              |
 * |----------------------|----------------------------------------------------|
 * | "local/host_id"      | 16 bytes: the UUID                                 |
 * | "local/tokens"       | u8 format (1), u32 n, n x i64 token, ascending     |
 * | "local/generation"   | i64: seconds since the epoch                       |
 * | "local/joining"      | empty: present from first boot until the node has  |
 * |                      | announced itself NORMAL (identity_joined)          |
 *
 * A value of the wrong size or format is COL_ECORRUPT (the node refuses to
 * start rather than take a new identity silently).
 */
#ifndef COLONNADE_COORDINATOR_IDENTITY_H
#define COLONNADE_COORDINATOR_IDENTITY_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define IDENTITY_MAX_TOKENS 1024

struct identity {
	uint8_t host_id[16];
	int64_t tokens[IDENTITY_MAX_TOKENS]; /* ascending */
	size_t n_tokens;
	int64_t generation;
	bool first_boot;
	bool joining; /* never announced NORMAL yet: tokens may still be adopted */
};

/*
 * Load the identity (creating it at first boot with num_tokens tokens) and
 * store the new generation, computed from `now_s` (wall seconds).  0, or
 * COL_EIO / COL_ECORRUPT / COL_EINVAL with the reason in err.
 */
int identity_load(struct store *s, int num_tokens, int64_t now_s, struct identity *out,
                  struct cerr *err);

/* The node announced itself NORMAL: clear "local/joining". */
int identity_joined(struct store *s, struct identity *id, struct cerr *err);
/*
 * Take over the tokens of the node this one replaces (only while joining):
 * stored, then in id.  0, or COL_EINVAL / COL_EIO with the reason in err.
 */
int identity_adopt_tokens(struct store *s, struct identity *id, const int64_t *tokens, size_t n,
                          struct cerr *err);

/* Encode / decode the tokens value (exposed for the golden-bytes test). */
int identity_tokens_encode(const int64_t *tokens, size_t n, uint8_t *out, size_t cap, size_t *len);
int identity_tokens_decode(const uint8_t *p, size_t len, int64_t *tokens, size_t cap, size_t *n);

#endif
