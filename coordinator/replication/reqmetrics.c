/*
 * reqmetrics.c — request latency histograms per operation and table (see
 * reqmetrics.h).
 */
#include "coordinator/replication/reqmetrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const uint64_t reqmetrics_bounds_us[REQMETRICS_N_BUCKETS - 1] = {
        100,   250,    500,    1000,   2500,    5000,    10000,   25000,
        50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static const char *const op_names[REQOP_N] = {"read", "write", "range"};

struct table_entry {
	uint8_t id[16];
	char *keyspace, *name;
	struct reqmetrics_hist h[REQOP_N];
};

struct reqmetrics {
	pthread_mutex_t mu;
	struct reqmetrics_hist node[REQOP_N];
	struct table_entry *tables; /* sorted by id */
	size_t n_tables, cap_tables;
};

int reqmetrics_new(struct reqmetrics **out)
{
	struct reqmetrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void reqmetrics_free(struct reqmetrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_tables; i++) {
		free(m->tables[i].keyspace);
		free(m->tables[i].name);
	}
	free(m->tables);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Index of id, or where it would go (*found false). */
static size_t find(const struct reqmetrics *m, const uint8_t *id, bool *found)
{
	size_t lo = 0, hi = m->n_tables;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(m->tables[mid].id, id, 16);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Create the entry of a table; nothing past the bound or on OOM. */
static void entry_add(struct reqmetrics *m, const uint8_t *id, const char *keyspace,
                      const char *name)
{
	bool found;
	size_t at = find(m, id, &found);
	if (found || m->n_tables == REQMETRICS_MAX_TABLES)
		return;
	if (m->n_tables == m->cap_tables) {
		size_t cap = m->cap_tables ? m->cap_tables * 2 : 16;
		struct table_entry *nt = realloc(m->tables, cap * sizeof(*nt));
		if (!nt)
			return;
		m->tables = nt;
		m->cap_tables = cap;
	}
	struct table_entry e = {0};
	memcpy(e.id, id, 16);
	e.keyspace = strdup(keyspace ? keyspace : "");
	e.name = strdup(name ? name : "");
	if (!e.keyspace || !e.name) {
		free(e.keyspace);
		free(e.name);
		return;
	}
	memmove(&m->tables[at + 1], &m->tables[at], (m->n_tables - at) * sizeof(*m->tables));
	m->tables[at] = e;
	m->n_tables++;
}

void reqmetrics_register(struct reqmetrics *m, const uint8_t id[16], const char *keyspace,
                         const char *name)
{
	pthread_mutex_lock(&m->mu);
	entry_add(m, id, keyspace, name);
	pthread_mutex_unlock(&m->mu);
}

static void hist_add(struct reqmetrics_hist *h, uint64_t us, bool failed, uint64_t ops)
{
	size_t b = 0;
	while (b < REQMETRICS_N_BUCKETS - 1 && us > reqmetrics_bounds_us[b])
		b++;
	h->buckets[b]++;
	h->count++;
	h->sum_us += us;
	h->ops += ops;
	if (failed)
		h->failures++;
}

void reqmetrics_record(struct reqmetrics *m, enum reqmetrics_op op, uint64_t latency_us,
                       bool failed, const struct reqmetrics_table_ref *tables, size_t n)
{
	if (!m || op >= REQOP_N)
		return;
	uint64_t total_ops = 0;
	for (size_t i = 0; i < n; i++)
		total_ops += tables[i].ops;
	pthread_mutex_lock(&m->mu);
	hist_add(&m->node[op], latency_us, failed, total_ops);
	for (size_t i = 0; i < n; i++) {
		bool seen = false; /* latency once per table of the request */
		for (size_t j = 0; j < i && !seen; j++)
			seen = memcmp(tables[j].id, tables[i].id, 16) == 0;
		bool found;
		size_t at = find(m, tables[i].id, &found);
		if (!found)
			continue;
		struct table_entry *e = &m->tables[at];
		if (seen)
			e->h[op].ops += tables[i].ops;
		else
			hist_add(&e->h[op], latency_us, failed, tables[i].ops);
	}
	pthread_mutex_unlock(&m->mu);
}

void reqmetrics_forget(struct reqmetrics *m, const uint8_t id[16])
{
	pthread_mutex_lock(&m->mu);
	bool found;
	size_t at = find(m, id, &found);
	if (found) {
		free(m->tables[at].keyspace);
		free(m->tables[at].name);
		memmove(&m->tables[at], &m->tables[at + 1],
		        (m->n_tables - at - 1) * sizeof(*m->tables));
		m->n_tables--;
	}
	pthread_mutex_unlock(&m->mu);
}

bool reqmetrics_get(struct reqmetrics *m, const uint8_t *id, enum reqmetrics_op op,
                    struct reqmetrics_hist *out)
{
	bool found = true;
	pthread_mutex_lock(&m->mu);
	if (!id) {
		*out = m->node[op];
	} else {
		size_t at = find(m, id, &found);
		if (found)
			*out = m->tables[at].h[op];
	}
	pthread_mutex_unlock(&m->mu);
	return found;
}

/* A Prometheus label value: quoted, with \\, " and newline escaped. */
static void put_label(struct buf *b, const char *v)
{
	buf_put_u8(b, '"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_put_u8(b, '\\');
		if (*v == '\n') {
			buf_put_str(b, "\\n");
			continue;
		}
		buf_put_u8(b, (uint8_t)*v);
	}
	buf_put_u8(b, '"');
}

/* The series of one histogram; `labels` is "" or `keyspace="k",table="t",` text. */
static void put_hist(struct buf *b, const char *name, const char *labels, const char *op,
                     const struct reqmetrics_hist *h)
{
	uint64_t cum = 0;
	for (size_t i = 0; i < REQMETRICS_N_BUCKETS; i++) {
		cum += h->buckets[i];
		if (i < REQMETRICS_N_BUCKETS - 1)
			buf_printf(b, "%s_bucket{%sop=\"%s\",le=\"%g\"} %llu\n", name, labels, op,
			           (double)reqmetrics_bounds_us[i] / 1e6, (unsigned long long)cum);
		else
			buf_printf(b, "%s_bucket{%sop=\"%s\",le=\"+Inf\"} %llu\n", name, labels, op,
			           (unsigned long long)cum);
	}
	buf_printf(b, "%s_sum{%sop=\"%s\"} %.6f\n", name, labels, op, (double)h->sum_us / 1e6);
	buf_printf(b, "%s_count{%sop=\"%s\"} %llu\n", name, labels, op,
	           (unsigned long long)h->count);
}

static void put_counter(struct buf *b, const char *name, const char *labels, const char *op,
                        uint64_t v)
{
	buf_printf(b, "%s{%sop=\"%s\"} %llu\n", name, labels, op, (unsigned long long)v);
}

/* Per-table series: one labels text per table, then each metric over every table. */
static void put_tables(struct reqmetrics *m, struct buf *out)
{
	struct buf lab;
	buf_init(&lab);
	size_t *offs = calloc(m->n_tables + 1, sizeof(*offs));
	if (!offs)
		return;
	for (size_t i = 0; i < m->n_tables; i++) {
		offs[i] = lab.len;
		buf_put_str(&lab, "keyspace=");
		put_label(&lab, m->tables[i].keyspace);
		buf_put_str(&lab, ",table=");
		put_label(&lab, m->tables[i].name);
		buf_put_str(&lab, ",");
		buf_put_u8(&lab, 0);
	}
	if (buf_ok(&lab)) {
		buf_put_str(out, "# HELP colonnade_table_request_latency_seconds Client request "
		                 "latency per table and operation, as coordinated by this node.\n"
		                 "# TYPE colonnade_table_request_latency_seconds histogram\n");
		for (size_t i = 0; i < m->n_tables; i++)
			for (int op = 0; op < REQOP_N; op++)
				put_hist(out, "colonnade_table_request_latency_seconds",
				         (const char *)lab.data + offs[i], op_names[op],
				         &m->tables[i].h[op]);
		buf_put_str(out, "# HELP colonnade_table_operations_total Mutations written, "
		                 "partitions read and scans run per table by requests this node "
		                 "coordinated.\n# TYPE colonnade_table_operations_total counter\n");
		for (size_t i = 0; i < m->n_tables; i++)
			for (int op = 0; op < REQOP_N; op++)
				put_counter(out, "colonnade_table_operations_total",
				            (const char *)lab.data + offs[i], op_names[op],
				            m->tables[i].h[op].ops);
		buf_put_str(out, "# HELP colonnade_table_request_failures_total Requests per "
		                 "table and operation that ended in an error.\n"
		                 "# TYPE colonnade_table_request_failures_total counter\n");
		for (size_t i = 0; i < m->n_tables; i++)
			for (int op = 0; op < REQOP_N; op++)
				put_counter(out, "colonnade_table_request_failures_total",
				            (const char *)lab.data + offs[i], op_names[op],
				            m->tables[i].h[op].failures);
	}
	free(offs);
	buf_release(&lab);
}

void reqmetrics_prometheus(struct reqmetrics *m, struct buf *out)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	buf_put_str(out, "# HELP colonnade_client_request_latency_seconds Client request latency "
	                 "per operation, as coordinated by this node.\n"
	                 "# TYPE colonnade_client_request_latency_seconds histogram\n");
	for (int op = 0; op < REQOP_N; op++)
		put_hist(out, "colonnade_client_request_latency_seconds", "", op_names[op],
		         &m->node[op]);
	buf_put_str(out, "# HELP colonnade_client_request_failures_total Client requests per "
	                 "operation that ended in an error.\n"
	                 "# TYPE colonnade_client_request_failures_total counter\n");
	for (int op = 0; op < REQOP_N; op++)
		put_counter(out, "colonnade_client_request_failures_total", "", op_names[op],
		            m->node[op].failures);
	put_tables(m, out);
	pthread_mutex_unlock(&m->mu);
}
