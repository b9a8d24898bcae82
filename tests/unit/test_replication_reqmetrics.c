/*
 * test_replication_reqmetrics.c — request latency histograms per operation and
 * table (coordinator/replication/reqmetrics.h): bucketing, per-table counts,
 * the Prometheus text, the table bound, and updates from several threads.
 */
#include "coordinator/replication/reqmetrics.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t ID_A[16] = {1}, ID_B[16] = {2}, ID_C[16] = {3};

static struct reqmetrics_table_ref ref(const uint8_t *id, uint64_t ops)
{
	struct reqmetrics_table_ref r = {.ops = ops};
	memcpy(r.id, id, 16);
	return r;
}

Test(reqmetrics, buckets_counts_and_failures)
{
	struct reqmetrics *m;
	cr_assert_eq(reqmetrics_new(&m), 0);
	reqmetrics_register(m, ID_A, "ks", "a");
	struct reqmetrics_table_ref a = ref(ID_A, 1);
	reqmetrics_record(m, REQOP_READ, 50, false, &a, 1);       /* <= 100 µs */
	reqmetrics_record(m, REQOP_READ, 100, false, &a, 1);      /* the bound is inclusive */
	reqmetrics_record(m, REQOP_READ, 3000, true, &a, 1);      /* 2.5 ms < x <= 5 ms */
	reqmetrics_record(m, REQOP_READ, 60000000, false, &a, 1); /* above every bound */
	struct reqmetrics_hist h;
	cr_assert(reqmetrics_get(m, ID_A, REQOP_READ, &h));
	cr_expect_eq(h.count, 4);
	cr_expect_eq(h.failures, 1);
	cr_expect_eq(h.buckets[0], 2);
	cr_expect_eq(h.buckets[5], 1);
	cr_expect_eq(h.buckets[REQMETRICS_N_BUCKETS - 1], 1);
	cr_expect_eq(h.sum_us, 50 + 100 + 3000 + 60000000);
	cr_assert(reqmetrics_get(m, NULL, REQOP_READ, &h));
	cr_expect_eq(h.count, 4);
	cr_assert(reqmetrics_get(m, ID_A, REQOP_WRITE, &h));
	cr_expect_eq(h.count, 0);
	reqmetrics_free(m);
}

Test(reqmetrics, a_batch_counts_latency_once_per_table_and_every_mutation)
{
	struct reqmetrics *m;
	cr_assert_eq(reqmetrics_new(&m), 0);
	reqmetrics_register(m, ID_A, "ks", "a");
	reqmetrics_register(m, ID_B, "ks", "b");
	struct reqmetrics_table_ref refs[] = {ref(ID_A, 1), ref(ID_B, 1), ref(ID_A, 1),
	                                      ref(ID_C, 1)}; /* C is not registered */
	reqmetrics_record(m, REQOP_WRITE, 700, false, refs, 4);
	struct reqmetrics_hist h;
	cr_assert(reqmetrics_get(m, ID_A, REQOP_WRITE, &h));
	cr_expect_eq(h.count, 1);
	cr_expect_eq(h.ops, 2);
	cr_assert(reqmetrics_get(m, ID_B, REQOP_WRITE, &h));
	cr_expect_eq(h.ops, 1);
	cr_expect(!reqmetrics_get(m, ID_C, REQOP_WRITE, &h));
	cr_assert(reqmetrics_get(m, NULL, REQOP_WRITE, &h));
	cr_expect_eq(h.count, 1);
	cr_expect_eq(h.ops, 4);
	reqmetrics_forget(m, ID_A);
	cr_expect(!reqmetrics_get(m, ID_A, REQOP_WRITE, &h));
	reqmetrics_free(m);
}

Test(reqmetrics, prometheus_text)
{
	struct reqmetrics *m;
	cr_assert_eq(reqmetrics_new(&m), 0);
	reqmetrics_register(m, ID_A, "ks", "we\"ird");
	struct reqmetrics_table_ref a = ref(ID_A, 3);
	reqmetrics_record(m, REQOP_RANGE, 1500, false, &a, 1);
	struct buf b;
	buf_init(&b);
	reqmetrics_prometheus(m, &b);
	buf_put_u8(&b, 0);
	const char *s = (const char *)b.data;
	cr_expect(strstr(s, "# TYPE colonnade_client_request_latency_seconds histogram\n"));
	cr_expect(strstr(
	        s, "colonnade_client_request_latency_seconds_bucket{op=\"range\",le=\"0.001\"} "
	           "0\n"));
	cr_expect(strstr(
	        s, "colonnade_client_request_latency_seconds_bucket{op=\"range\",le=\"0.0025\"}"
	           " 1\n"));
	cr_expect(strstr(
	        s, "colonnade_client_request_latency_seconds_bucket{op=\"range\",le=\"+Inf\"} "
	           "1\n"));
	cr_expect(
	        strstr(s, "colonnade_client_request_latency_seconds_sum{op=\"range\"} 0.001500\n"));
	cr_expect(strstr(s, "colonnade_client_request_latency_seconds_count{op=\"range\"} 1\n"));
	cr_expect(strstr(s, "colonnade_table_request_latency_seconds_count{keyspace=\"ks\",table="
	                    "\"we\\\"ird\",op=\"range\"} 1\n"),
	          "%s", s);
	cr_expect(strstr(s, "colonnade_table_operations_total{keyspace=\"ks\",table=\"we\\\"ird\","
	                    "op=\"range\"} 3\n"));
	buf_release(&b);
	reqmetrics_free(m);
}

Test(reqmetrics, tables_are_bounded)
{
	struct reqmetrics *m;
	cr_assert_eq(reqmetrics_new(&m), 0);
	uint8_t id[16] = {0};
	for (uint32_t i = 0; i < REQMETRICS_MAX_TABLES + 10; i++) {
		memcpy(id, &i, sizeof(i));
		reqmetrics_register(m, id, "ks", "t");
	}
	struct reqmetrics_hist h;
	uint32_t last = REQMETRICS_MAX_TABLES + 5;
	memcpy(id, &last, sizeof(last));
	cr_expect(!reqmetrics_get(m, id, REQOP_READ, &h));
	uint32_t first = 0;
	memcpy(id, &first, sizeof(first));
	cr_expect(reqmetrics_get(m, id, REQOP_READ, &h));
	reqmetrics_free(m);
}

struct worker {
	struct reqmetrics *m;
	int op;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct reqmetrics_table_ref a = ref(ID_A, 1);
	for (int i = 0; i < 20000; i++)
		reqmetrics_record(w->m, (enum reqmetrics_op)w->op, (uint64_t)i, false, &a, 1);
	return NULL;
}

Test(reqmetrics, loops_on_several_threads_sum_up)
{
	struct reqmetrics *m;
	cr_assert_eq(reqmetrics_new(&m), 0);
	reqmetrics_register(m, ID_A, "ks", "a");
	pthread_t th[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){m, REQOP_WRITE};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	struct reqmetrics_hist h;
	cr_assert(reqmetrics_get(m, ID_A, REQOP_WRITE, &h));
	cr_expect_eq(h.count, 80000);
	uint64_t sum = 0;
	for (int i = 0; i < REQMETRICS_N_BUCKETS; i++)
		sum += h.buckets[i];
	cr_expect_eq(sum, 80000);
	reqmetrics_free(m);
}
