/*
 * executor_fixture.h — one node's executor over a real store in a temp directory, for
 * the unit tests that run CQL text through it (a local router: every statement is
 * answered by this store; no peers).  Include it once, in the test's .c file; use
 * exec_fixture_setup / exec_fixture_teardown as the suite's init and fini, and
 * run_ok / run_err for statements expected to succeed or fail.
 */
#ifndef COLONNADE_TESTS_EXECUTOR_FIXTURE_H
#define COLONNADE_TESTS_EXECUTOR_FIXTURE_H

#include "coordinator/query/executor.h"
#include "coordinator/query/prepared.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "storage/storage.h"
#include "tests/unit/local_node.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct local_node ln;
static struct executor *ex;
static struct exec_session sess;
static struct exec_req req;

static void no_nodes(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	(void)ctx;
	(void)emit;
	(void)ectx;
}

static const struct cluster_view view = {.cluster_name = "Test Cluster",
                                         .snitch = "SimpleSnitch",
                                         .local = no_nodes,
                                         .peers = no_nodes};

static void exec_fixture_setup(void)
{
	buf_init(&req.body_out);
	memset(&sess, 0, sizeof(sess));
	local_node_open(&ln, "exec", 100);
	struct executor_deps d = {.schema = ln.sch,
	                          .store = ln.st,
	                          .router = ln.px,
	                          .prepared = ln.pc,
	                          .view = &view};
	cr_assert_eq(executor_new(&d, &ex), 0);
}

static void exec_fixture_teardown(void)
{
	executor_free(ex);
	local_node_close(&ln);
	buf_release(&req.body_out);
}

static inline void run_ok(const char *cql)
{
	executor_run_text(ex, &sess, cql, &req);
	cr_assert(!req.err.code, "%s -> error %d %s", cql, req.err.code, req.err.msg);
}

static inline const char *run_err(const char *cql)
{
	executor_run_text(ex, &sess, cql, &req);
	cr_assert(req.err.code, "%s should fail", cql);
	return req.err.msg;
}

#endif
