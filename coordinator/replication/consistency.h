/*
 * consistency.h — consistency-level arithmetic, exactly as Cassandra 4's
 * ConsistencyLevel does it: how many replica acknowledgements a level blocks
 * for, which replicas count towards it, and whether enough replicas are alive
 * to try (assureSufficientLiveReplicas).  Pure functions: no I/O, no clock,
 * no allocation; the storage proxy feeds them the replication of a keyspace,
 * the coordinator's datacenter and the live replicas of a token.
 *
 *   | level        | block for                                | counts acks from       |
 *   |--------------|------------------------------------------|------------------------|
 *   | ANY          | 1 (a stored hint counts)                 | any replica, a hint    |
 *   | ONE/TWO/THREE| 1 / 2 / 3                                | any replica            |
 *   | QUORUM       | sum of every DC's RF / 2 + 1             | any replica            |
 *   | ALL          | sum of every DC's RF                     | any replica            |
 *   | LOCAL_ONE    | 1                                        | coordinator's DC only  |
 *   | LOCAL_QUORUM | RF of the coordinator's DC / 2 + 1       | coordinator's DC only  |
 *   |              | (SimpleStrategy: its RF / 2 + 1)         |                        |
 *   | EACH_QUORUM  | NTS: RF(dc) / 2 + 1 in every DC;         | per DC                 |
 *   |              | other strategies: as QUORUM              |                        |
 *
 * Unavailable: live replicas (LOCAL_*: live replicas in our DC; EACH_QUORUM
 * with NTS: live replicas of each DC against that DC's quorum) below the block
 * count -> Unavailable(required = block count, alive = live count).  ANY
 * needs no live replica in Cassandra (a hint suffices): these functions check
 * it as ONE, and the storage proxy skips the check for ANY when it has a hint
 * sink, answering Unavailable only when no hint could be stored either
 * (docs/REPLICATION.md, docs/HINTS.md).
 *
 * Invalid: reads at ANY ("ANY ConsistencyLevel is only supported for
 * writes"); SERIAL/LOCAL_SERIAL for anything (lightweight transactions are
 * not implemented: writes get Cassandra's "You must use conditional updates
 * for serializable writes", reads a message saying serial reads need them).
 */
#ifndef COLONNADE_COORDINATOR_CONSISTENCY_H
#define COLONNADE_COORDINATOR_CONSISTENCY_H

#include "core/err.h"
#include "core/ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Is `cl` usable for a write (write = true) or a read?  0, or COL_EINVAL with
 * the Cassandra wording in err (unknown level codes too).
 */
int cl_validate(uint16_t cl, bool write, struct cerr *err);

/* LOCAL_ONE, LOCAL_QUORUM (and LOCAL_SERIAL): only our datacenter counts. */
bool cl_is_local(uint16_t cl);

/* cl_block_for() and cl_dc_quorum() are core/ring.h's: clients count with them too. */

/* Does EACH_QUORUM count per datacenter under rep (NetworkTopologyStrategy)? */
bool cl_each_quorum_per_dc(uint16_t cl, const struct replication *rep);

/*
 * Live replicas, counted per datacenter.  Build with cl_live_init() and one
 * cl_live_add() per live replica.
 */
struct cl_live {
	int total;
	int local; /* in the coordinator's datacenter */
	size_t n_dcs;
	struct {
		const char *dc; /* borrowed (a ring node's name) */
		int n;
	} dcs[RING_MAX_DCS];
};

void cl_live_init(struct cl_live *l);
void cl_live_add(struct cl_live *l, const char *dc, bool local);

/* The Unavailable details: required / alive (EACH_QUORUM: of the failing DC). */
struct cl_unavailable {
	int required;
	int alive;
	char dc[RING_NAME_MAX]; /* EACH_QUORUM: the DC short of replicas, else "" */
};

/*
 * Cassandra's assureSufficientLiveReplicas: 0 when the live replicas can
 * satisfy cl, else COL_EUNAVAILABLE with *out filled.  cl must have passed
 * cl_validate().
 */
int cl_assure_live(uint16_t cl, const struct replication *rep, const char *local_dc,
                   const struct cl_live *live, struct cl_unavailable *out);

/*
 * Acknowledgement counting for one request (writes, read repair): the state
 * of Cassandra's WriteResponseHandler / DatacenterWriteResponseHandler /
 * DatacenterSyncWriteResponseHandler in one struct.
 */
struct cl_acks_dc {
	char dc[RING_NAME_MAX];
	int need, got;
};
struct cl_acks {
	uint16_t cl;
	bool per_dc;   /* EACH_QUORUM under NTS */
	int block_for; /* total */
	int received;  /* acks that count */
	size_t n_dcs;
	/* per_dc only: n_dcs of them, allocated (a write's state is pooled and can be held by
	 * tens of thousands of writes waiting for their last replicas: no DC table inline) */
	struct cl_acks_dc *dcs;
};

/* 0, or COL_ENOMEM (a is then empty and released).  Release with cl_acks_release(). */
int cl_acks_init(struct cl_acks *a, uint16_t cl, const struct replication *rep,
                 const char *local_dc);
void cl_acks_release(struct cl_acks *a);
/* Count an ack from a replica in `dc` (local: it is the coordinator's DC). */
void cl_acks_add(struct cl_acks *a, const char *dc, bool local);
/* Has the level been met? */
bool cl_acks_done(const struct cl_acks *a);

#endif
