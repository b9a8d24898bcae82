/*
 * consistency.c — consistency-level arithmetic (see consistency.h).
 */
#include "coordinator/replication/consistency.h"

#include "core/cqlproto.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cl_validate(uint16_t cl, bool write, struct cerr *err)
{
	switch (cl) {
	case CL_ANY:
		if (!write)
			return cerr_set(err, COL_EINVAL,
			                "ANY ConsistencyLevel is only supported for writes");
		return 0;
	case CL_ONE:
	case CL_TWO:
	case CL_THREE:
	case CL_QUORUM:
	case CL_ALL:
	case CL_LOCAL_QUORUM:
	case CL_EACH_QUORUM:
	case CL_LOCAL_ONE: return 0;
	case CL_SERIAL:
	case CL_LOCAL_SERIAL:
		if (write)
			return cerr_set(err, COL_EINVAL,
			                "You must use conditional updates for serializable writes");
		return cerr_set(err, COL_EINVAL,
		                "%s reads need lightweight transactions, which Colonnade does not "
		                "support yet; use QUORUM or LOCAL_QUORUM",
		                cql_consistency_name(cl));
	default: return cerr_set(err, COL_EINVAL, "unknown consistency level 0x%04x", cl);
	}
}

bool cl_is_local(uint16_t cl)
{
	return cl == CL_LOCAL_ONE || cl == CL_LOCAL_QUORUM || cl == CL_LOCAL_SERIAL;
}

bool cl_each_quorum_per_dc(uint16_t cl, const struct replication *rep)
{
	return cl == CL_EACH_QUORUM && rep->cls == REPL_NETWORK_TOPOLOGY;
}

void cl_live_init(struct cl_live *l)
{
	memset(l, 0, sizeof(*l));
}

void cl_live_add(struct cl_live *l, const char *dc, bool local)
{
	l->total++;
	if (local)
		l->local++;
	for (size_t i = 0; i < l->n_dcs; i++) {
		if (strcmp(l->dcs[i].dc, dc) == 0) {
			l->dcs[i].n++;
			return;
		}
	}
	if (l->n_dcs < RING_MAX_DCS) {
		l->dcs[l->n_dcs].dc = dc;
		l->dcs[l->n_dcs].n = 1;
		l->n_dcs++;
	}
}

static int live_in_dc(const struct cl_live *l, const char *dc)
{
	for (size_t i = 0; i < l->n_dcs; i++)
		if (strcmp(l->dcs[i].dc, dc) == 0)
			return l->dcs[i].n;
	return 0;
}

int cl_assure_live(uint16_t cl, const struct replication *rep, const char *local_dc,
                   const struct cl_live *live, struct cl_unavailable *out)
{
	memset(out, 0, sizeof(*out));
	int block = cl_block_for(cl, rep, local_dc);
	if (cl_each_quorum_per_dc(cl, rep)) {
		for (size_t i = 0; i < rep->n_dcs; i++) {
			int need = cl_dc_quorum(rep, rep->dcs[i].dc);
			int have = live_in_dc(live, rep->dcs[i].dc);
			if (have < need) {
				out->required = need;
				out->alive = have;
				snprintf(out->dc, sizeof(out->dc), "%s", rep->dcs[i].dc);
				return COL_EUNAVAILABLE;
			}
		}
		return 0;
	}
	int have = cl_is_local(cl) ? live->local : live->total;
	if (have < block) {
		out->required = block;
		out->alive = have;
		return COL_EUNAVAILABLE;
	}
	return 0;
}

int cl_acks_init(struct cl_acks *a, uint16_t cl, const struct replication *rep,
                 const char *local_dc)
{
	memset(a, 0, sizeof(*a));
	a->cl = cl;
	a->block_for = cl_block_for(cl, rep, local_dc);
	a->per_dc = cl_each_quorum_per_dc(cl, rep);
	if (!a->per_dc || !rep->n_dcs)
		return COL_OK;
	size_t cap = rep->n_dcs < RING_MAX_DCS ? rep->n_dcs : RING_MAX_DCS;
	a->dcs = calloc(cap, sizeof(*a->dcs));
	if (!a->dcs) {
		a->per_dc = false;
		return COL_ENOMEM;
	}
	for (size_t i = 0; i < rep->n_dcs && a->n_dcs < cap; i++) {
		int need = cl_dc_quorum(rep, rep->dcs[i].dc);
		if (need == 0)
			continue;
		snprintf(a->dcs[a->n_dcs].dc, RING_NAME_MAX, "%s", rep->dcs[i].dc);
		a->dcs[a->n_dcs].need = need;
		a->n_dcs++;
	}
	return COL_OK;
}

void cl_acks_release(struct cl_acks *a)
{
	free(a->dcs);
	a->dcs = NULL;
	a->n_dcs = 0;
}

void cl_acks_add(struct cl_acks *a, const char *dc, bool local)
{
	if (a->per_dc) {
		for (size_t i = 0; i < a->n_dcs; i++) {
			if (strcmp(a->dcs[i].dc, dc) != 0)
				continue;
			if (a->dcs[i].got < a->dcs[i].need)
				a->received++;
			a->dcs[i].got++;
			return;
		}
		return; /* a DC the keyspace does not replicate to */
	}
	if (cl_is_local(a->cl) && !local)
		return;
	a->received++;
}

bool cl_acks_done(const struct cl_acks *a)
{
	if (a->per_dc) {
		for (size_t i = 0; i < a->n_dcs; i++)
			if (a->dcs[i].got < a->dcs[i].need)
				return false;
		return true;
	}
	return a->received >= a->block_for;
}
