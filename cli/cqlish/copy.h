/*
 * copy.h — cqlish's COPY TO / COPY FROM (cqlsh's COPY, docs/CQLISH.md "COPY").
 */
#ifndef COLONNADE_CLI_CQLISH_COPY_H
#define COLONNADE_CLI_CQLISH_COPY_H

#include "cli/cqlish/shell.h"
#include "cli/lib/cqlclient.h"
#include "cli/lib/csv.h"
#include "cli/lib/tokenmap.h"

#include <stdbool.h>
#include <stdint.h>

#define COPY_MAX_COLUMNS 1024

struct copy_cmd {
	char *table;  /* as written, ready for CQL ("ks.t", "\"Ks\".t") */
	char *ks, *t; /* unquoted names (ks NULL: the current keyspace) */
	char **cols;  /* column names as written, ready for CQL; n_cols 0 = every column */
	size_t n_cols;
	bool to;
	char *file;

	bool header;
	struct csv_opts csv;
	char *null_str;
	int64_t pagesize, maxrows, chunksize, ingestrate, maxattempts, maxparseerrors,
	        maxinserterrors, maxrequests, numprocesses;
	char *errfile;
};

/* "COPY ..." as typed: parse and run it (errors printed the cqlsh way). */
void shell_copy(struct shell *sh, const char *stmt);

/* Run a parsed COPY FROM (copy_from.c). */
void copy_from_run(struct shell *sh, struct copy_cmd *c);

/* Run a parsed COPY TO (copy_to.c). */
void copy_to_run(struct shell *sh, struct copy_cmd *c);

/* COPY's connections, one per node of the keyspace's token map (copy_conns.c). */
struct copy_conns {
	struct ev_loop *loop;
	struct tokenmap map;
	struct cqlconn *conn[TOKENMAP_MAX_NODES]; /* NULL: node unreachable */
};
/* Discover the map and connect to every node; 0, or -1 with the error printed
 * (the shell's host unreachable).  copy_conns_close() in every case. */
int copy_conns_open(struct shell *sh, const struct copy_cmd *c, struct copy_conns *cc,
                    unsigned max_inflight);
/* A ready connection to reps[attempt % n] or the next replica after it, else to
 * any node (the shell's host first); NULL when none is ready. */
struct cqlconn *copy_conns_pick(struct copy_conns *cc, const uint32_t *reps, size_t n,
                                unsigned attempt);
void copy_conns_close(struct copy_conns *cc);

/* "1.234 seconds" / "2 minutes and 3.500 seconds" as cqlsh's describe_interval. */
void copy_describe_interval(double secs, char *out, size_t cap);

/* The progress line; `tty` rewrites it in place with '\r'. */
void copy_progress(bool tty, uint64_t n, double rate, double avg);

#endif
