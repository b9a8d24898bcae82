/*
 * err.h — Colonnade's error codes and the error-with-message carrier.
 *
 * Functions that can fail return int: 0 (COL_OK) on success, a negative COL_E*
 * code otherwise.  Where the caller needs to know *what* failed, the function
 * also takes a `struct cerr *` (may be NULL) that it fills with the code and a
 * human message naming the thing that failed and why ("keyspace 'shop' does
 * not exist", never "error -7").  Results come back through out-parameters
 * set only on success.  Codes are never renumbered: some cross the wire.
 */
#ifndef COLONNADE_CORE_ERR_H
#define COLONNADE_CORE_ERR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum col_err {
	COL_OK = 0,
	COL_ENOMEM = -1,      /* allocation failed */
	COL_EINVAL = -2,      /* invalid argument or input */
	COL_EIO = -3,         /* I/O or storage engine failure */
	COL_ENOTFOUND = -4,   /* no such thing */
	COL_EEXIST = -5,      /* already exists */
	COL_ELOCKED = -6,     /* resource held by another process */
	COL_ECORRUPT = -7,    /* stored or received bytes are malformed */
	COL_ETOOBIG = -8,     /* over a size bound */
	COL_ETIMEDOUT = -9,   /* deadline passed */
	COL_EUNAVAILABLE = -10, /* too few replicas alive */
	COL_EPROTO = -11,     /* protocol violation by a peer or client */
	COL_ECLOSED = -12,    /* handle or connection closed / failed earlier */
	COL_EFULL = -13,      /* bounded queue or buffer is full */
	COL_ESYNTAX = -14,    /* CQL text does not parse */
	COL_ETYPE = -15,      /* value does not fit its type */
	COL_ECONFIG = -16,    /* bad configuration */
	COL_EAGAIN = -17,     /* try again later (would block) */
	COL_EUNSUPPORTED = -18, /* valid request we do not implement */
	COL_EFAILED = -19,    /* replicas answered with a failure (WriteFailure/ReadFailure) */
	COL_EOVERLOADED = -20, /* shed: a bound was reached, try later */
	COL_EUNAUTHORIZED = -21, /* the logged-in role may not do this (CQL Unauthorized) */
	COL_ERR_MIN_ = -22
};

/* The static description of a code ("invalid argument"); never NULL. */
const char *col_strerror(int code);

#define CERR_MSG_MAX 512

/* The writeType of a write timeout or failure (the protocol's strings, cerr_write_type_name). */
enum cerr_write_type {
	CERR_WRITE_SIMPLE,
	CERR_WRITE_BATCH,
	CERR_WRITE_UNLOGGED_BATCH,
	CERR_WRITE_BATCH_LOG,
	CERR_WRITE_CAS,
	CERR_WRITE_VIEW,
	CERR_WRITE_CDC,
};
const char *cerr_write_type_name(enum cerr_write_type t);

/*
 * What a failed replicated request reports beyond its message: the fields of the
 * native protocol's Unavailable, Read/Write timeout and Read/Write failure errors
 * (spec §9).  Set by the layer that counted the replicas (replication/), read by
 * the one that answers the client (transport/); zero for every other error.
 */
struct cerr_replicas {
	uint16_t cl;       /* the consistency level asked for */
	int32_t required;  /* Unavailable: required; timeouts and failures: block-for */
	int32_t received;  /* Unavailable: alive; timeouts and failures: acknowledged */
	int32_t failures;  /* failures: replicas that answered with an error */
	bool data_present; /* reads: the data replica answered */
	bool write;        /* timeouts and failures: the request was a write */
	uint8_t write_type; /* writes: enum cerr_write_type */
};

/*
 * An error with its message: the one place a failure's details live, from where
 * it starts to the client or log that reports it.  Zero-initialise; cerr_set()
 * fills code and message, the layer that knows sets `rep`.
 */
struct cerr {
	int code;
	char msg[CERR_MSG_MAX];
	struct cerr_replicas rep;
};

/*
 * Record `code` and a printf-style message in `e` (which may be NULL) and
 * return `code`, so failing paths read `return cerr_set(err, COL_EINVAL, ...)`.
 * The first error set wins only if the caller clears it; a later set overwrites.
 */
int cerr_set(struct cerr *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the message already in `e` with more context ("table 'a.b': ..."). */
void cerr_prefix(struct cerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset to no error. */
void cerr_clear(struct cerr *e);

#endif
