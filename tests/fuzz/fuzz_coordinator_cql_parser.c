/*
 * fuzz_coordinator_cql_parser.c — libFuzzer target for the cqlish parser.
 *
 * Feeds the input as one statement (cql_parse) and as a script
 * (cql_parse_next), and checks, beyond "no crash, no leak, no UB":
 *  - a failure always carries a message that starts with "line " (or is a
 *    size/memory bound), never an empty one;
 *  - bind markers are numbered 0..n-1 and each points back at its BIND term;
 *  - printing a parsed statement and parsing the print gives the same print
 *    (the canonical printer and the parser agree), with the same bind count.
 */
#include "coordinator/cql/cql_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok, const char *what, const uint8_t *data, size_t size)
{
	if (ok)
		return;
	fprintf(stderr, "invariant broken: %s\ninput (%zu bytes): %.*s\n", what, size, (int)size,
	        (const char *)data);
	abort();
}

static void check_binds(const struct cql_stmt *s, const uint8_t *data, size_t size)
{
	for (uint32_t i = 0; i < s->n_binds; i++) {
		const struct cql_bind *b = &s->binds[i];
		check(b->term && b->term->kind == CQL_TERM_BIND, "bind has its term", data, size);
		check(b->term->bind.index == b->index, "bind term index matches", data, size);
		check(b->role >= CQL_BIND_COLUMN && b->role <= CQL_BIND_OTHER, "bind role", data,
		      size);
		if (s->kind != CQL_STMT_BATCH)
			check(b->index == s->binds[0].index + i, "bind indexes consecutive", data,
			      size);
	}
	if (s->kind == CQL_STMT_BATCH) {
		uint32_t total = 0;
		for (uint32_t i = 0; i < s->batch.n_stmts; i++) {
			const struct cql_stmt *c = s->batch.stmts[i];
			check_binds(c, data, size);
			for (uint32_t j = 0; j < c->n_binds; j++)
				check(c->binds[j].stmt == c && c->binds >= s->binds &&
				              c->binds + c->n_binds <= s->binds + s->n_binds,
				      "batch child bind slice inside the batch's array", data,
				      size);
			total += c->n_binds;
		}
		check(total <= s->n_binds, "children bind counts add up", data, size);
	}
	for (uint32_t i = 0; i < s->n_binds; i++)
		check(s->binds[i].pos.off < size || size == 0, "bind position inside the text",
		      data, size);
}

static void check_error(int rc, const struct cerr *e, const uint8_t *data, size_t size)
{
	check(rc < 0, "negative error code", data, size);
	check(e->code == rc, "cerr code matches", data, size);
	check(e->msg[0] != '\0', "error has a message", data, size);
	if (rc == COL_ESYNTAX || rc == COL_EUNSUPPORTED)
		check(!strncmp(e->msg, "line ", 5), "syntax error names the line", data, size);
}

static void round_trip(const struct cql_stmt *s, const uint8_t *data, size_t size)
{
	struct buf one, two;
	buf_init(&one);
	buf_init(&two);
	cql_stmt_format(s, &one);
	if (!buf_ok(&one))
		goto out;
	struct cql_arena *a = cql_arena_new();
	if (!a)
		goto out;
	struct cql_stmt *again = NULL;
	struct cerr e = {0};
	int rc = cql_parse(a, (const char *)one.data, one.len, &again, &e);
	if (rc == COL_ENOMEM) {
		cql_arena_free(a);
		goto out;
	}
	if (rc) {
		fprintf(stderr, "printed form does not parse: %s\nprinted: %.*s\n", e.msg,
		        (int)one.len, (const char *)one.data);
		check(false, "printed statement parses", data, size);
	}
	cql_stmt_format(again, &two);
	if (buf_ok(&two) && (one.len != two.len || memcmp(one.data, two.data, one.len))) {
		fprintf(stderr, "first:  %.*s\nsecond: %.*s\n", (int)one.len,
		        (const char *)one.data, (int)two.len, (const char *)two.data);
		check(false, "print(parse(print(x))) == print(x)", data, size);
	}
	check(again->n_binds == s->n_binds, "same bind count after round trip", data, size);
	cql_arena_free(a);
out:
	buf_release(&one);
	buf_release(&two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	/* one statement */
	struct cql_arena *a = cql_arena_new();
	if (!a)
		return 0;
	struct cql_stmt *s = NULL;
	struct cerr e = {0};
	int rc = cql_parse(a, text, size, &s, &e);
	if (rc == 0) {
		check(s != NULL, "statement returned", data, size);
		check(s->text_len <= size, "statement text within input", data, size);
		check_binds(s, data, size);
		round_trip(s, data, size);
	} else {
		check_error(rc, &e, data, size);
	}
	cql_arena_free(a);

	/* a script: statement after statement until the end or an error */
	a = cql_arena_new();
	if (!a)
		return 0;
	struct cql_cursor cur = {0};
	for (int i = 0; i < 1000; i++) {
		size_t before = cur.off;
		memset(&e, 0, sizeof(e));
		rc = cql_parse_next(a, text, size, &cur, &s, &e);
		if (rc) {
			check_error(rc, &e, data, size);
			check(cur.off == before, "cursor unchanged after an error", data, size);
			break;
		}
		if (!s) {
			check(cur.off == size, "end of script at the end", data, size);
			break;
		}
		check(cur.off > before && cur.off <= size, "cursor advances", data, size);
		check_binds(s, data, size);
	}
	cql_arena_free(a);
	return 0;
}
