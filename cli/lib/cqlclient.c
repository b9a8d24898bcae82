/*
 * cqlclient.c — see cqlclient.h.  Layout: result decoding, request encoding,
 * the libev connection (I/O, streams, timeouts, re-prepare), the blocking
 * wrapper.
 */
#include "cli/lib/cqlclient.h"

#include "core/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* ==== result decoding ========================================================================= */

/* A decoder's state: the reader plus a latched allocation failure. */
struct dec {
	struct bufreader r;
	bool oom;
};

static char *dup_bytes(struct dec *d, const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s) {
		d->oom = true;
		return NULL;
	}
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* [string] as a NUL-terminated copy; NULL on short input or OOM. */
static char *get_str(struct dec *d)
{
	struct cql_slice s = cql_get_string(&d->r);
	if (!bufreader_ok(&d->r))
		return NULL;
	return dup_bytes(d, s.p, (size_t)s.len);
}

static void meta_release(struct cql_rows_meta *m)
{
	if (m->cols) {
		for (uint32_t i = 0; i < m->n_cols; i++) {
			free(m->cols[i].keyspace);
			free(m->cols[i].table);
			free(m->cols[i].name);
			cqltype_free(m->cols[i].type);
		}
		free(m->cols);
	}
	free(m->paging_state);
	memset(m, 0, sizeof(*m));
	m->paging_state_len = -1;
}

void cqlresult_free(struct cqlresult *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	struct cql_error_info *e = &r->error;
	free(e->message);
	free(e->write_type);
	free(e->keyspace);
	free(e->table);
	free(e->function);
	for (uint16_t i = 0; i < e->n_arg_types; i++)
		free(e->arg_types[i]);
	free(e->arg_types);
	free(e->unprepared_id);
	meta_release(&r->meta);
	meta_release(&r->bind_meta);
	free(r->cells);
	free(r->keyspace);
	free(r->prepared_id);
	free(r->pk_indexes);
	free(r->change_type);
	free(r->target);
	free(r->sc_keyspace);
	free(r->sc_name);
	free(r->cql_versions);
	free(r->body);
	free(r);
}

/*
 * Column specs of rows/bind metadata after flags and count.  `what` names the
 * metadata in messages.
 */
static int decode_colspecs(struct dec *d, struct cql_rows_meta *m, const char *what,
                           struct cerr *err)
{
	char *gks = NULL, *gtable = NULL;
	if (m->flags & CQL_ROWS_GLOBAL_TABLES_SPEC) {
		gks = get_str(d);
		gtable = get_str(d);
	}
	int rc = COL_OK;
	if (!bufreader_ok(&d->r) || d->oom)
		goto out;
	/* Each spec takes at least 4 bytes ([string] name + [short] type id). */
	if ((size_t)m->n_cols > bufreader_left(&d->r) / 4) {
		rc = cerr_set(err, COL_EPROTO, "%s: %u columns do not fit in %zu bytes", what,
		              m->n_cols, bufreader_left(&d->r));
		goto out;
	}
	m->cols = calloc(m->n_cols ? m->n_cols : 1, sizeof(*m->cols));
	if (!m->cols) {
		d->oom = true;
		goto out;
	}
	for (uint32_t i = 0; i < m->n_cols; i++) {
		struct cql_column *c = &m->cols[i];
		if (m->flags & CQL_ROWS_GLOBAL_TABLES_SPEC) {
			c->keyspace = dup_bytes(d, (const uint8_t *)gks, strlen(gks));
			c->table = dup_bytes(d, (const uint8_t *)gtable, strlen(gtable));
		} else {
			c->keyspace = get_str(d);
			c->table = get_str(d);
		}
		c->name = get_str(d);
		if (!bufreader_ok(&d->r) || d->oom)
			goto out;
		struct cerr terr = {0};
		if (cqltype_read_option(&d->r, &c->type, &terr) != COL_OK) {
			if (!bufreader_ok(&d->r))
				goto out;
			rc = cerr_set(err, COL_EPROTO, "%s: column '%s': %s", what, c->name,
			              terr.msg);
			goto out;
		}
	}
out:
	free(gks);
	free(gtable);
	return rc;
}

static int decode_rows_meta(struct dec *d, struct cql_rows_meta *m, struct cerr *err)
{
	m->flags = (uint32_t)cql_get_int(&d->r);
	int32_t n = cql_get_int(&d->r);
	if (!bufreader_ok(&d->r))
		return COL_OK; /* reported by the caller */
	if (n < 0)
		return cerr_set(err, COL_EPROTO, "rows metadata: negative column count %d", n);
	m->n_cols = (uint32_t)n;
	if (m->flags & CQL_ROWS_HAS_MORE_PAGES) {
		struct cql_slice ps = cql_get_bytes(&d->r);
		if (bufreader_ok(&d->r) && ps.len >= 0) {
			m->paging_state = (uint8_t *)dup_bytes(d, ps.p, (size_t)ps.len);
			m->paging_state_len = ps.len;
		}
	}
	if (m->flags & CQL_ROWS_NO_METADATA)
		return COL_OK;
	return decode_colspecs(d, m, "rows metadata", err);
}

static int decode_error(struct dec *d, struct cqlresult *r, struct cerr *err)
{
	struct cql_error_info *e = &r->error;
	struct bufreader *rd = &d->r;
	e->code = (uint32_t)cql_get_int(rd);
	e->message = get_str(d);
	switch (e->code) {
	case CQL_ERR_UNAVAILABLE:
		e->consistency = cql_get_short(rd);
		e->required = cql_get_int(rd);
		e->alive = cql_get_int(rd);
		break;
	case CQL_ERR_WRITE_TIMEOUT:
		e->consistency = cql_get_short(rd);
		e->received = cql_get_int(rd);
		e->required = cql_get_int(rd);
		e->write_type = get_str(d);
		break;
	case CQL_ERR_READ_TIMEOUT:
		e->consistency = cql_get_short(rd);
		e->received = cql_get_int(rd);
		e->required = cql_get_int(rd);
		e->data_present = cql_get_byte(rd) != 0;
		break;
	case CQL_ERR_READ_FAILURE:
		e->consistency = cql_get_short(rd);
		e->received = cql_get_int(rd);
		e->required = cql_get_int(rd);
		e->failures = cql_get_int(rd);
		e->data_present = cql_get_byte(rd) != 0;
		break;
	case CQL_ERR_WRITE_FAILURE:
		e->consistency = cql_get_short(rd);
		e->received = cql_get_int(rd);
		e->required = cql_get_int(rd);
		e->failures = cql_get_int(rd);
		e->write_type = get_str(d);
		break;
	case CQL_ERR_FUNCTION_FAILURE: {
		e->keyspace = get_str(d);
		e->function = get_str(d);
		uint16_t n = cql_get_short(rd);
		if (!bufreader_ok(rd) || d->oom)
			break;
		if ((size_t)n > bufreader_left(rd) / 2)
			return cerr_set(err, COL_EPROTO,
			                "ERROR Function_failure: %u argument "
			                "types do not fit in the frame",
			                n);
		e->arg_types = calloc(n ? n : 1, sizeof(char *));
		if (!e->arg_types) {
			d->oom = true;
			break;
		}
		for (uint16_t i = 0; i < n && bufreader_ok(rd); i++) {
			e->arg_types[i] = get_str(d);
			e->n_arg_types = (uint16_t)(i + 1);
		}
		break;
	}
	case CQL_ERR_ALREADY_EXISTS:
		e->keyspace = get_str(d);
		e->table = get_str(d);
		break;
	case CQL_ERR_UNPREPARED: {
		struct cql_slice id = cql_get_short_bytes(rd);
		if (bufreader_ok(rd)) {
			e->unprepared_id = (uint8_t *)dup_bytes(d, id.p, (size_t)id.len);
			e->unprepared_id_len = (uint16_t)id.len;
		}
		break;
	}
	default: break;
	}
	return COL_OK;
}

static int decode_result(struct dec *d, struct cqlresult *r, struct cerr *err)
{
	struct bufreader *rd = &d->r;
	int32_t kind = cql_get_int(rd);
	if (!bufreader_ok(rd))
		return COL_OK;
	int rc = COL_OK;
	switch (kind) {
	case CQL_RESULT_VOID: r->kind = CQLRES_VOID; break;
	case CQL_RESULT_ROWS: {
		r->kind = CQLRES_ROWS;
		rc = decode_rows_meta(d, &r->meta, err);
		if (rc || !bufreader_ok(rd) || d->oom)
			return rc;
		int32_t n = cql_get_int(rd);
		if (!bufreader_ok(rd))
			return COL_OK;
		if (n < 0)
			return cerr_set(err, COL_EPROTO, "RESULT Rows: negative row count %d", n);
		uint64_t cells = (uint64_t)(uint32_t)n * r->meta.n_cols;
		/* Every cell takes at least its 4-byte length. */
		if (cells > bufreader_left(rd) / 4)
			return cerr_set(
			        err, COL_EPROTO,
			        "RESULT Rows: %d rows of %u columns do not fit in %zu bytes", n,
			        r->meta.n_cols, bufreader_left(rd));
		r->n_rows = (uint32_t)n;
		r->cells = calloc(cells ? cells : 1, sizeof(*r->cells));
		if (!r->cells) {
			d->oom = true;
			return COL_OK;
		}
		for (uint64_t i = 0; i < cells && bufreader_ok(rd); i++)
			r->cells[i] = cql_get_bytes(rd);
		break;
	}
	case CQL_RESULT_SET_KEYSPACE:
		r->kind = CQLRES_SET_KEYSPACE;
		r->keyspace = get_str(d);
		break;
	case CQL_RESULT_PREPARED: {
		r->kind = CQLRES_PREPARED;
		struct cql_slice id = cql_get_short_bytes(rd);
		if (!bufreader_ok(rd))
			return COL_OK;
		r->prepared_id = (uint8_t *)dup_bytes(d, id.p, (size_t)id.len);
		r->prepared_id_len = (uint16_t)id.len;
		struct cql_rows_meta *b = &r->bind_meta;
		b->flags = (uint32_t)cql_get_int(rd);
		int32_t nb = cql_get_int(rd);
		int32_t npk = cql_get_int(rd);
		if (!bufreader_ok(rd) || d->oom)
			return COL_OK;
		if (nb < 0 || npk < 0 || (size_t)npk > bufreader_left(rd) / 2)
			return cerr_set(err, COL_EPROTO,
			                "RESULT Prepared: bad bind metadata (%d columns, %d "
			                "partition key indexes)",
			                nb, npk);
		b->n_cols = (uint32_t)nb;
		r->n_pk_indexes = (uint32_t)npk;
		r->pk_indexes = calloc(npk ? (size_t)npk : 1, sizeof(uint16_t));
		if (!r->pk_indexes) {
			d->oom = true;
			return COL_OK;
		}
		for (int32_t i = 0; i < npk; i++)
			r->pk_indexes[i] = cql_get_short(rd);
		b->flags &= ~(uint32_t)(CQL_ROWS_HAS_MORE_PAGES | CQL_ROWS_NO_METADATA);
		rc = decode_colspecs(d, b, "bind metadata", err);
		if (rc || !bufreader_ok(rd) || d->oom)
			return rc;
		rc = decode_rows_meta(d, &r->meta, err);
		break;
	}
	case CQL_RESULT_SCHEMA_CHANGE:
		r->kind = CQLRES_SCHEMA_CHANGE;
		r->change_type = get_str(d);
		r->target = get_str(d);
		r->sc_keyspace = get_str(d);
		if (r->target && strcmp(r->target, "KEYSPACE") != 0)
			r->sc_name = get_str(d);
		/* FUNCTION / AGGREGATE carry an argument type list we do not need. */
		break;
	default: return cerr_set(err, COL_EPROTO, "RESULT of unknown kind %d", kind);
	}
	return rc;
}

static int decode_supported(struct dec *d, struct cqlresult *r)
{
	struct bufreader *rd = &d->r;
	uint16_t n = cql_get_short(rd);
	struct buf versions;
	buf_init(&versions);
	for (uint16_t i = 0; i < n && bufreader_ok(rd); i++) {
		struct cql_slice k = cql_get_string(rd);
		uint16_t nv = cql_get_short(rd);
		bool is_ver =
		        bufreader_ok(rd) && k.len == 11 && memcmp(k.p, "CQL_VERSION", 11) == 0;
		for (uint16_t j = 0; j < nv && bufreader_ok(rd); j++) {
			struct cql_slice v = cql_get_string(rd);
			if (is_ver && bufreader_ok(rd)) {
				if (versions.len)
					buf_put_u8(&versions, ',');
				buf_put(&versions, v.p, (size_t)v.len);
			}
		}
	}
	r->cql_versions = dup_bytes(d, versions.data, versions.len);
	if (!buf_ok(&versions))
		d->oom = true;
	buf_release(&versions);
	return COL_OK;
}

static const char *opcode_name(uint8_t op)
{
	switch (op) {
	case CQL_OP_ERROR: return "ERROR";
	case CQL_OP_READY: return "READY";
	case CQL_OP_AUTHENTICATE: return "AUTHENTICATE";
	case CQL_OP_SUPPORTED: return "SUPPORTED";
	case CQL_OP_RESULT: return "RESULT";
	case CQL_OP_EVENT: return "EVENT";
	case CQL_OP_AUTH_CHALLENGE: return "AUTH_CHALLENGE";
	case CQL_OP_AUTH_SUCCESS: return "AUTH_SUCCESS";
	default: return "unknown opcode";
	}
}

int cqlresult_decode(uint8_t opcode, uint8_t frame_flags, const uint8_t *body, size_t body_len,
                     struct cqlresult **out, struct cerr *err)
{
	if (frame_flags & CQL_FLAG_COMPRESSION)
		return cerr_set(err, COL_EPROTO,
		                "%s frame is compressed, but no compression "
		                "was negotiated",
		                opcode_name(opcode));
	struct cqlresult *r = calloc(1, sizeof(*r));
	if (!r)
		return cerr_set(err, COL_ENOMEM, "out of memory decoding a %s frame",
		                opcode_name(opcode));
	r->opcode = opcode;
	r->frame_flags = frame_flags;
	r->meta.paging_state_len = -1;
	r->bind_meta.paging_state_len = -1;
	r->body = malloc(body_len ? body_len : 1);
	if (!r->body) {
		free(r);
		return cerr_set(err, COL_ENOMEM, "out of memory for a %zu-byte %s frame", body_len,
		                opcode_name(opcode));
	}
	if (body_len)
		memcpy(r->body, body, body_len);
	r->body_len = body_len;

	struct dec d = {.oom = false};
	bufreader_init(&d.r, r->body, body_len);
	int rc = COL_OK;

	if (frame_flags & CQL_FLAG_TRACING)
		(void)cql_get_uuid(&d.r);
	if (frame_flags & CQL_FLAG_WARNING) {
		uint16_t n = cql_get_short(&d.r);
		if (bufreader_ok(&d.r) && (size_t)n <= bufreader_left(&d.r) / 2) {
			r->warnings = calloc(n ? n : 1, sizeof(char *));
			if (!r->warnings)
				d.oom = true;
			for (uint16_t i = 0; r->warnings && i < n && bufreader_ok(&d.r); i++) {
				r->warnings[i] = get_str(&d);
				if (r->warnings[i])
					r->n_warnings = i + 1u;
			}
		} else if (bufreader_ok(&d.r)) {
			rc = cerr_set(err, COL_EPROTO,
			              "%s frame: %u warnings do not fit in the frame",
			              opcode_name(opcode), n);
		}
	}
	if (frame_flags & CQL_FLAG_CUSTOM_PAYLOAD)
		cql_skip_bytes_map(&d.r);

	if (rc == COL_OK && bufreader_ok(&d.r) && !d.oom) {
		switch (opcode) {
		case CQL_OP_ERROR:
			r->kind = CQLRES_ERROR;
			rc = decode_error(&d, r, err);
			break;
		case CQL_OP_READY: r->kind = CQLRES_READY; break;
		case CQL_OP_AUTHENTICATE:
			r->kind = CQLRES_AUTHENTICATE;
			r->error.message = get_str(&d);
			break;
		case CQL_OP_SUPPORTED:
			r->kind = CQLRES_SUPPORTED;
			rc = decode_supported(&d, r);
			break;
		case CQL_OP_RESULT: rc = decode_result(&d, r, err); break;
		default:
			rc = cerr_set(err, COL_EPROTO, "unexpected response opcode 0x%02x", opcode);
			break;
		}
	}
	if (rc == COL_OK && d.oom)
		rc = cerr_set(err, COL_ENOMEM, "out of memory decoding a %zu-byte %s frame",
		              body_len, opcode_name(opcode));
	if (rc == COL_OK && !bufreader_ok(&d.r))
		rc = cerr_set(err, COL_EPROTO, "%s frame of %zu bytes is truncated",
		              opcode_name(opcode), body_len);
	if (rc != COL_OK) {
		cqlresult_free(r);
		return rc;
	}
	*out = r;
	return COL_OK;
}

int cqlresult_column(const struct cqlresult *r, const char *name)
{
	if (!r->meta.cols)
		return -1;
	for (uint32_t i = 0; i < r->meta.n_cols; i++)
		if (strcmp(r->meta.cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

char *cqlresult_text(const struct cqlresult *r, uint32_t row, uint32_t col)
{
	const struct cql_slice *s = cqlresult_cell(r, row, col);
	if (s->len < 0)
		return NULL;
	char *t = malloc((size_t)s->len + 1);
	if (!t)
		return NULL;
	memcpy(t, s->p, (size_t)s->len);
	t[s->len] = '\0';
	return t;
}

/* ==== request encoding ======================================================================== */

void cql_qparams_init(struct cql_qparams *p)
{
	memset(p, 0, sizeof(*p));
	p->consistency = CL_ONE;
	p->paging_state_len = -1;
	p->timestamp = CQL_NO_TIMESTAMP;
}

static void put_qparams(struct buf *b, const struct cql_qparams *p)
{
	struct cql_query_params q = {
	        .consistency = p->consistency,
	        .flags = (uint8_t)((p->skip_metadata ? CQL_QF_SKIP_METADATA : 0) |
	                           (p->serial_consistency ? CQL_QF_SERIAL_CONSISTENCY : 0)),
	        .n_values = p->n_values,
	        .values = (struct cql_slice *)p->values,
	        .names = NULL,
	        .page_size = p->page_size > 0 ? p->page_size : -1,
	        .paging_state = {p->paging_state, p->paging_state ? p->paging_state_len : -1},
	        .serial_consistency = p->serial_consistency,
	        .timestamp = p->timestamp,
	};
	cql_query_params_encode(b, &q);
}

void cqlreq_options(struct buf *b, int16_t stream)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_OPTIONS);
	cql_frame_end(b, f);
}

void cqlreq_startup(struct buf *b, int16_t stream, const char *cql_version)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION", "DRIVER_NAME", "DRIVER_VERSION"};
	const char *v[] = {cql_version, "colonnade-cqlclient", "0.1.0"};
	cql_put_string_map(b, k, v, 3);
	cql_frame_end(b, f);
}

void cqlreq_query(struct buf *b, int16_t stream, const char *cql, size_t len,
                  const struct cql_qparams *p)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_QUERY);
	cql_put_long_string(b, cql, len);
	put_qparams(b, p);
	cql_frame_end(b, f);
}

void cqlreq_prepare(struct buf *b, int16_t stream, const char *cql, size_t len)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_PREPARE);
	cql_put_long_string(b, cql, len);
	cql_frame_end(b, f);
}

void cqlreq_execute(struct buf *b, int16_t stream, const uint8_t *id, uint16_t id_len,
                    const struct cql_qparams *p)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_EXECUTE);
	cql_put_short_bytes(b, id, id_len);
	put_qparams(b, p);
	cql_frame_end(b, f);
}

void cqlreq_batch(struct buf *b, int16_t stream, uint8_t type, const struct cql_batch_item *items,
                  uint16_t n, const struct cql_qparams *p)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_BATCH);
	cql_put_byte(b, type);
	cql_put_short(b, n);
	for (uint16_t i = 0; i < n; i++) {
		const struct cql_batch_item *it = &items[i];
		if (it->ps) {
			cql_put_byte(b, 1);
			cql_put_short_bytes(b, it->ps->id, it->ps->id_len);
		} else {
			cql_put_byte(b, 0);
			cql_put_long_string(b, it->cql, it->cql_len);
		}
		cql_put_short(b, it->n_values);
		for (uint16_t j = 0; j < it->n_values; j++)
			cql_put_bytes(b, it->values[j].p, it->values[j].len);
	}
	cql_put_short(b, p->consistency);
	uint8_t flags =
	        (uint8_t)((p->serial_consistency ? CQL_QF_SERIAL_CONSISTENCY : 0) |
	                  (p->timestamp != CQL_NO_TIMESTAMP ? CQL_QF_DEFAULT_TIMESTAMP : 0));
	cql_put_byte(b, flags);
	if (p->serial_consistency)
		cql_put_short(b, p->serial_consistency);
	if (p->timestamp != CQL_NO_TIMESTAMP)
		cql_put_long(b, p->timestamp);
	cql_frame_end(b, f);
}

int cqlprepared_new(const char *cql, size_t len, struct cqlresult *res, struct cqlprepared **out,
                    struct cerr *err)
{
	if (!res || res->kind != CQLRES_PREPARED)
		return cerr_set(err, COL_EINVAL, "cqlprepared_new: not a PREPARED result");
	struct cqlprepared *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return cerr_set(err, COL_ENOMEM, "out of memory for a prepared statement");
	ps->cql = malloc(len + 1);
	ps->id = malloc(res->prepared_id_len ? res->prepared_id_len : 1);
	if (!ps->cql || !ps->id) {
		free(ps->cql);
		free(ps->id);
		free(ps);
		return cerr_set(err, COL_ENOMEM, "out of memory for a prepared statement");
	}
	memcpy(ps->cql, cql, len);
	ps->cql[len] = '\0';
	ps->cql_len = len;
	memcpy(ps->id, res->prepared_id, res->prepared_id_len);
	ps->id_len = res->prepared_id_len;
	ps->prepared = res;
	*out = ps;
	return COL_OK;
}

void cqlprepared_free(struct cqlprepared *ps)
{
	if (!ps)
		return;
	free(ps->cql);
	free(ps->id);
	cqlresult_free(ps->prepared);
	free(ps);
}

/* ==== the connection ========================================================================== */

/*
 * v4 stream ids are 0..32767; drivers use up to 32768 per connection.  Our
 * default of 1024 is far above what one shell needs and what one bench
 * connection profits from (the server answers in order per connection anyway).
 */
#define STREAMS_MAX        32768u
#define DEFAULT_INFLIGHT   1024u
#define DEFAULT_MAX_OUT    (64u * 1024 * 1024)
#define DEFAULT_CONNECT_MS 5000u
#define DEFAULT_REQUEST_MS 12000u /* cqlsh's request timeout is 10 s; leave the server room */
#define READ_CHUNK         (64u * 1024)
/* How often pending requests are checked against their deadline. */
#define TIMEOUT_TICK_S 0.1

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_ORPHAN, SLOT_REPREPARE };
enum req_kind { REQ_HANDSHAKE_OPTIONS, REQ_HANDSHAKE_STARTUP, REQ_USER };

/* Where a prepared id sits inside a saved frame, for re-preparing. */
struct id_ref {
	size_t off; /* offset of the [short bytes] length */
	struct cqlprepared *ps;
};

struct slot {
	uint8_t state;
	uint8_t kind;
	bool reprepared;
	cqlconn_result_fn cb;
	void *arg;
	int64_t deadline_ms;
	/* EXECUTE / BATCH with prepared statements: the frame as sent and its ids. */
	struct buf frame;
	struct id_ref *ids; /* &one_ref for EXECUTE (no allocation per request) */
	struct id_ref one_ref;
	uint16_t n_ids;
	struct cqlprepared *repreparing; /* SLOT_REPREPARE: which statement */
};

struct cqlconn {
	struct ev_loop *loop;
	ev_io rio, wio;
	ev_timer connect_timer, tick;
	int fd;
	bool connected, ready, failed, freeing;
	int busy;      /* callback nesting depth: free only at 0 */
	char peer[80]; /* numeric "[v6]:port" */
	char failure[CERR_MSG_MAX];
	struct cqlconn_opts opts;
	cqlconn_ready_fn on_ready;
	void *ready_arg;

	struct slot *slots; /* opts.max_inflight entries, indexed by stream id */
	int16_t *free_ids;
	unsigned n_free;
	unsigned orphans;

	struct buf in, out;
	struct cqlconn_stats stats;
};

static void conn_fail(struct cqlconn *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void slot_release(struct cqlconn *c, int16_t id);

static void conn_really_free(struct cqlconn *c)
{
	for (unsigned i = 0; i < c->opts.max_inflight; i++) {
		buf_release(&c->slots[i].frame);
		if (c->slots[i].ids != &c->slots[i].one_ref)
			free(c->slots[i].ids);
	}
	free(c->slots);
	free(c->free_ids);
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
}

static void leave(struct cqlconn *c)
{
	if (--c->busy == 0 && c->freeing)
		conn_really_free(c);
}

static void stop_io(struct cqlconn *c)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->connect_timer);
	ev_timer_stop(c->loop, &c->tick);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Fail the connection and every pending request (each callback once). */
static void conn_fail(struct cqlconn *c, int code, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	c->ready = false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
	va_end(ap);
	stop_io(c);
	c->busy++;
	bool was_handshaking = c->on_ready != NULL;
	for (unsigned i = 0; i < c->opts.max_inflight; i++) {
		struct slot *s = &c->slots[i];
		if (s->state == SLOT_FREE)
			continue;
		bool user = s->kind == REQ_USER && s->state != SLOT_ORPHAN;
		cqlconn_result_fn cb = s->cb;
		void *arg = s->arg;
		slot_release(c, (int16_t)i);
		if (user && cb)
			cb(c, arg, code, NULL, c->failure);
	}
	if (was_handshaking && c->on_ready) {
		cqlconn_ready_fn f = c->on_ready;
		c->on_ready = NULL;
		f(c, c->ready_arg, code, c->failure);
	}
	leave(c);
}

static int16_t slot_take(struct cqlconn *c)
{
	if (c->n_free == 0)
		return -1;
	int16_t id = c->free_ids[--c->n_free];
	struct slot *s = &c->slots[id];
	s->state = SLOT_BUSY;
	s->reprepared = false;
	s->n_ids = 0;
	s->repreparing = NULL;
	buf_reset(&s->frame);
	s->deadline_ms = c->opts.request_timeout_ms == UINT32_MAX
	                         ? INT64_MAX
	                         : clock_mono_ms() + c->opts.request_timeout_ms;
	return id;
}

static void slot_release(struct cqlconn *c, int16_t id)
{
	struct slot *s = &c->slots[id];
	if (s->state == SLOT_ORPHAN)
		c->orphans--;
	s->state = SLOT_FREE;
	s->cb = NULL;
	s->arg = NULL;
	if (s->ids != &s->one_ref)
		free(s->ids);
	s->ids = NULL;
	s->n_ids = 0;
	/* Keep small frame buffers for reuse; drop big ones. */
	if (s->frame.cap > 64 * 1024)
		buf_release(&s->frame);
	else
		buf_reset(&s->frame);
	c->free_ids[c->n_free++] = id;
}

static void want_write(struct cqlconn *c)
{
	if (c->connected && !c->failed && c->out.len && !ev_is_active(&c->wio))
		ev_io_start(c->loop, &c->wio);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, wio));
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			c->stats.bytes_out += (uint64_t)n;
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->busy++;
		conn_fail(c, COL_EIO, "write to %s failed: %s", c->peer, strerror(errno));
		leave(c);
		return;
	}
	ev_io_stop(c->loop, &c->wio);
	/* Do not keep a large buffer around after a burst. */
	if (c->out.cap > 1024 * 1024)
		buf_release(&c->out);
}

static void send_handshake(struct cqlconn *c, enum req_kind kind)
{
	int16_t id = slot_take(c);
	/* A fresh connection always has free streams. */
	c->slots[id].kind = (uint8_t)kind;
	c->slots[id].deadline_ms = INT64_MAX; /* the connect timer covers the handshake */
	if (kind == REQ_HANDSHAKE_OPTIONS)
		cqlreq_options(&c->out, id);
	else
		cqlreq_startup(&c->out, id, c->opts.cql_version);
	want_write(c);
}

/* Rebuild a saved frame with ps's new id spliced in wherever it appears. */
static int rebuild_frame(struct slot *s, struct cqlprepared *ps)
{
	struct buf nb;
	buf_init(&nb);
	size_t pos = 0;
	for (uint16_t i = 0; i < s->n_ids; i++) {
		struct id_ref *ref = &s->ids[i];
		size_t old_len = be16_load(s->frame.data + ref->off);
		buf_put(&nb, s->frame.data + pos, ref->off - pos);
		size_t new_off = nb.len;
		if (ref->ps == ps)
			cql_put_short_bytes(&nb, ps->id, ps->id_len);
		else
			buf_put(&nb, s->frame.data + ref->off, 2 + old_len);
		pos = ref->off + 2 + old_len;
		ref->off = new_off;
	}
	buf_put(&nb, s->frame.data + pos, s->frame.len - pos);
	if (!buf_ok(&nb)) {
		buf_release(&nb);
		return COL_ENOMEM;
	}
	buf_patch_u32be(&nb, 5, (uint32_t)(nb.len - CQLPROTO_HEADER_LEN));
	buf_release(&s->frame);
	s->frame = nb;
	return COL_OK;
}

/*
 * ERROR Unprepared on a saved EXECUTE/BATCH: re-prepare the statement whose id
 * the server named, on the same stream.  True if the re-prepare was sent.
 */
static bool try_reprepare(struct cqlconn *c, int16_t id, const struct cqlresult *res)
{
	struct slot *s = &c->slots[id];
	if (s->reprepared || s->n_ids == 0)
		return false;
	struct cqlprepared *ps = NULL;
	for (uint16_t i = 0; i < s->n_ids && !ps; i++) {
		struct cqlprepared *cand = s->ids[i].ps;
		const uint8_t *sent = s->frame.data + s->ids[i].off;
		uint16_t sent_len = be16_load(sent);
		if (sent_len == res->error.unprepared_id_len &&
		    memcmp(sent + 2, res->error.unprepared_id, sent_len) == 0)
			ps = cand;
	}
	if (!ps)
		return false;
	s->reprepared = true;
	s->state = SLOT_REPREPARE;
	s->repreparing = ps;
	cqlreq_prepare(&c->out, id, ps->cql, ps->cql_len);
	c->stats.reprepares++;
	want_write(c);
	return true;
}

/*
 * The PREPARE sent by try_reprepare answered: 1 = the request went out again
 * (res consumed), 0 = hand res (the PREPARE's error) to the caller, -1 = out
 * of memory (res consumed).
 */
static int finish_reprepare(struct cqlconn *c, int16_t id, struct cqlresult *res)
{
	struct slot *s = &c->slots[id];
	struct cqlprepared *ps = s->repreparing;
	s->state = SLOT_BUSY;
	s->repreparing = NULL;
	if (res->kind != CQLRES_PREPARED)
		return 0;
	uint8_t *nid = malloc(res->prepared_id_len ? res->prepared_id_len : 1);
	if (!nid) {
		cqlresult_free(res);
		return -1;
	}
	memcpy(nid, res->prepared_id, res->prepared_id_len);
	free(ps->id);
	ps->id = nid;
	ps->id_len = res->prepared_id_len;
	cqlresult_free(res);
	if (rebuild_frame(s, ps) != COL_OK)
		return -1;
	buf_put(&c->out, s->frame.data, s->frame.len);
	want_write(c);
	return 1;
}

static void handle_frame(struct cqlconn *c, const struct cql_header *h, const uint8_t *body)
{
	if (h->stream < 0) /* server EVENT: we never REGISTER, ignore */
		return;
	if ((unsigned)h->stream >= c->opts.max_inflight || c->slots[h->stream].state == SLOT_FREE) {
		conn_fail(c, COL_EPROTO, "%s answered on stream %d, which has no request", c->peer,
		          h->stream);
		return;
	}
	struct slot *s = &c->slots[h->stream];
	struct cqlresult *res = NULL;
	struct cerr derr = {0};
	int rc = cqlresult_decode(h->opcode, h->flags, body, h->length, &res, &derr);
	if (rc != COL_OK) {
		conn_fail(c, rc, "bad response from %s: %s", c->peer, derr.msg);
		return;
	}
	c->stats.responses++;
	if (s->state == SLOT_ORPHAN) { /* the caller was told it timed out */
		cqlresult_free(res);
		slot_release(c, h->stream);
		return;
	}
	if (s->kind == REQ_HANDSHAKE_OPTIONS || s->kind == REQ_HANDSHAKE_STARTUP) {
		enum req_kind k = s->kind;
		slot_release(c, h->stream);
		if (res->kind == CQLRES_ERROR) {
			conn_fail(c, COL_EPROTO, "handshake with %s failed: %s (code 0x%04x)",
			          c->peer, res->error.message ? res->error.message : "",
			          res->error.code);
		} else if (k == REQ_HANDSHAKE_OPTIONS && res->kind == CQLRES_SUPPORTED) {
			send_handshake(c, REQ_HANDSHAKE_STARTUP);
		} else if (k == REQ_HANDSHAKE_STARTUP && res->kind == CQLRES_READY) {
			c->ready = true;
			ev_timer_stop(c->loop, &c->connect_timer);
			cqlconn_ready_fn f = c->on_ready;
			c->on_ready = NULL;
			if (f)
				f(c, c->ready_arg, COL_OK, NULL);
		} else if (res->kind == CQLRES_AUTHENTICATE) {
			conn_fail(c, COL_EUNSUPPORTED,
			          "%s requires authentication (%s); this client has no "
			          "credentials support",
			          c->peer, res->error.message ? res->error.message : "");
		} else {
			conn_fail(c, COL_EPROTO, "handshake with %s: unexpected %s answer", c->peer,
			          opcode_name(h->opcode));
		}
		cqlresult_free(res);
		return;
	}
	if (s->state == SLOT_REPREPARE) {
		int fr = finish_reprepare(c, h->stream, res);
		if (fr == 1)
			return;
		if (fr < 0) {
			cqlconn_result_fn cb = s->cb;
			void *arg = s->arg;
			slot_release(c, h->stream);
			cb(c, arg, COL_ENOMEM, NULL, "out of memory re-preparing a statement");
			return;
		}
	} else if (res->kind == CQLRES_ERROR && res->error.code == CQL_ERR_UNPREPARED &&
	           try_reprepare(c, h->stream, res)) {
		cqlresult_free(res);
		return;
	}
	cqlconn_result_fn cb = s->cb;
	void *arg = s->arg;
	slot_release(c, h->stream);
	cb(c, arg, COL_OK, res, NULL);
}

static void process_input(struct cqlconn *c)
{
	size_t pos = 0;
	while (!c->failed && !c->freeing) {
		size_t avail = c->in.len - pos;
		struct cql_header h;
		if (cql_header_decode(c->in.data + pos, avail, &h) != COL_OK)
			break;
		if (h.version != (CQLPROTO_RESPONSE | CQLPROTO_VERSION)) {
			conn_fail(c, COL_EPROTO,
			          "%s answered with protocol version byte 0x%02x; this client "
			          "speaks v4 only",
			          c->peer, h.version);
			return;
		}
		if ((size_t)h.length + CQLPROTO_HEADER_LEN > c->opts.max_frame) {
			conn_fail(c, COL_ETOOBIG,
			          "response frame of %zu bytes from %s exceeds the limit of %zu "
			          "bytes",
			          (size_t)h.length + CQLPROTO_HEADER_LEN, c->peer,
			          c->opts.max_frame);
			return;
		}
		if (avail < CQLPROTO_HEADER_LEN + (size_t)h.length)
			break;
		handle_frame(c, &h, c->in.data + pos + CQLPROTO_HEADER_LEN);
		pos += CQLPROTO_HEADER_LEN + h.length;
	}
	if (!c->failed && !c->freeing && pos)
		buf_consume(&c->in, pos);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, rio));
	c->busy++;
	for (int rounds = 0; rounds < 16 && !c->failed && !c->freeing; rounds++) {
		if (buf_reserve(&c->in, READ_CHUNK) != COL_OK) {
			conn_fail(c, COL_ENOMEM, "out of memory reading from %s", c->peer);
			break;
		}
		ssize_t n = recv(c->fd, c->in.data + c->in.len, READ_CHUNK, 0);
		if (n > 0) {
			c->in.len += (size_t)n;
			c->stats.bytes_in += (uint64_t)n;
			process_input(c);
			if ((size_t)n < READ_CHUNK)
				break;
			continue;
		}
		if (n == 0) {
			conn_fail(c, COL_ECLOSED, "%s closed the connection", c->peer);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_fail(c, COL_EIO, "read from %s failed: %s", c->peer, strerror(errno));
		break;
	}
	leave(c);
}

static void on_connected(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, wio));
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr == EINPROGRESS)
		return;
	ev_io_stop(c->loop, &c->wio);
	c->busy++;
	if (soerr) {
		conn_fail(c, COL_EIO, "cannot connect to %s: %s", c->peer, strerror(soerr));
	} else {
		c->connected = true;
		ev_io_init(&c->wio, on_writable, c->fd, EV_WRITE);
		ev_io_start(c->loop, &c->rio);
		send_handshake(c, REQ_HANDSHAKE_OPTIONS);
	}
	leave(c);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, connect_timer));
	c->busy++;
	conn_fail(c, COL_ETIMEDOUT, "cannot connect to %s: no %s within %u ms", c->peer,
	          c->connected ? "READY answer" : "connection", c->opts.connect_timeout_ms);
	leave(c);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, tick));
	int64_t now = clock_mono_ms();
	c->busy++;
	for (unsigned i = 0; i < c->opts.max_inflight && !c->failed; i++) {
		struct slot *s = &c->slots[i];
		if ((s->state != SLOT_BUSY && s->state != SLOT_REPREPARE) || s->kind != REQ_USER ||
		    s->deadline_ms > now)
			continue;
		cqlconn_result_fn cb = s->cb;
		void *arg = s->arg;
		s->state = SLOT_ORPHAN;
		s->cb = NULL;
		c->orphans++;
		c->stats.timeouts++;
		char why[CERR_MSG_MAX];
		snprintf(why, sizeof(why), "no answer from %s within %u ms", c->peer,
		         c->opts.request_timeout_ms);
		cb(c, arg, COL_ETIMEDOUT, NULL, why);
	}
	if (!c->failed && c->orphans > c->opts.max_inflight / 2)
		conn_fail(c, COL_ETIMEDOUT, "%s left %u requests unanswered; giving up on it",
		          c->peer, c->orphans);
	leave(c);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *sl,
                   char *peer, size_t peer_len, struct cerr *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char ports[8];
	snprintf(ports, sizeof(ports), "%u", port);
	int rc = getaddrinfo(host, ports, &hints, &res);
	if (rc != 0)
		return cerr_set(err, COL_ENOTFOUND, "cannot resolve host '%s': %s", host,
		                gai_strerror(rc));
	struct addrinfo *pick = res;
	for (struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	memcpy(ss, pick->ai_addr, pick->ai_addrlen);
	*sl = pick->ai_addrlen;
	char hbuf[NI_MAXHOST];
	if (getnameinfo(pick->ai_addr, pick->ai_addrlen, hbuf, sizeof(hbuf), NULL, 0,
	                NI_NUMERICHOST) != 0)
		snprintf(hbuf, sizeof(hbuf), "%s", host);
	if (pick->ai_family == AF_INET6)
		snprintf(peer, peer_len, "[%.64s]:%u", hbuf, port);
	else
		snprintf(peer, peer_len, "%.64s:%u", hbuf, port);
	freeaddrinfo(res);
	return COL_OK;
}

int cqlconn_open(struct ev_loop *loop, const char *host, uint16_t port,
                 const struct cqlconn_opts *opts, cqlconn_ready_fn on_ready, void *arg,
                 struct cqlconn **out, struct cerr *err)
{
	struct cqlconn_opts o = opts ? *opts : (struct cqlconn_opts){0};
	if (!o.max_frame || o.max_frame > CQLPROTO_MAX_FRAME)
		o.max_frame = CQLPROTO_MAX_FRAME;
	if (o.max_frame < CQLPROTO_HEADER_LEN + 64)
		o.max_frame = CQLPROTO_HEADER_LEN + 64;
	if (!o.max_out)
		o.max_out = DEFAULT_MAX_OUT;
	if (!o.max_inflight)
		o.max_inflight = DEFAULT_INFLIGHT;
	if (o.max_inflight > STREAMS_MAX)
		o.max_inflight = STREAMS_MAX;
	if (o.max_inflight < 2)
		o.max_inflight = 2;
	if (!o.connect_timeout_ms)
		o.connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (!o.request_timeout_ms)
		o.request_timeout_ms = DEFAULT_REQUEST_MS;
	if (!o.cql_version)
		o.cql_version = "3.4.4";

	struct sockaddr_storage ss;
	socklen_t sl = 0;
	char peer[sizeof(((struct cqlconn *)0)->peer)];
	int rc = resolve(host, port, &ss, &sl, peer, sizeof(peer), err);
	if (rc)
		return rc;

	struct cqlconn *c = calloc(1, sizeof(*c));
	if (!c)
		return cerr_set(err, COL_ENOMEM, "out of memory for a connection to %s", peer);
	c->slots = calloc(o.max_inflight, sizeof(*c->slots));
	c->free_ids = calloc(o.max_inflight, sizeof(*c->free_ids));
	if (!c->slots || !c->free_ids) {
		free(c->slots);
		free(c->free_ids);
		free(c);
		return cerr_set(err, COL_ENOMEM, "out of memory for a connection to %s", peer);
	}
	c->loop = loop;
	c->opts = o;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	buf_init(&c->in);
	buf_init(&c->out);
	for (unsigned i = 0; i < o.max_inflight; i++) {
		buf_init(&c->slots[i].frame);
		/* Lowest ids first, like the drivers. */
		c->free_ids[i] = (int16_t)(o.max_inflight - 1 - i);
	}
	c->n_free = o.max_inflight;
	c->on_ready = on_ready;
	c->ready_arg = arg;

	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = cerr_set(err, COL_EIO, "cannot connect to %s: socket: %s", peer,
		              strerror(errno));
		conn_really_free(c);
		return rc;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o.bind_host && *o.bind_host) {
		/* A source address of our choosing (test clients outside a partition). */
		struct sockaddr_storage bs;
		memset(&bs, 0, sizeof(bs));
		socklen_t bl = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *b4 = (struct sockaddr_in *)&bs;
			b4->sin_family = AF_INET;
			bl = inet_pton(AF_INET, o.bind_host, &b4->sin_addr) == 1 ? sizeof(*b4) : 0;
		} else {
			struct sockaddr_in6 *b6 = (struct sockaddr_in6 *)&bs;
			b6->sin6_family = AF_INET6;
			bl = inet_pton(AF_INET6, o.bind_host, &b6->sin6_addr) == 1 ? sizeof(*b6)
			                                                           : 0;
		}
		if (!bl || bind(c->fd, (struct sockaddr *)&bs, bl) != 0) {
			rc = cerr_set(err, COL_EIO, "cannot connect to %s: bind to source %s: %s",
			              peer, o.bind_host,
			              bl ? strerror(errno) : "not a numeric address");
			close(c->fd);
			conn_really_free(c);
			return rc;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		rc = cerr_set(err, COL_EIO, "cannot connect to %s: %s", peer, strerror(errno));
		close(c->fd);
		conn_really_free(c);
		return rc;
	}
	ev_io_init(&c->rio, on_readable, c->fd, EV_READ);
	ev_io_init(&c->wio, on_connected, c->fd, EV_WRITE);
	ev_io_start(loop, &c->wio);
	ev_timer_init(&c->connect_timer, on_connect_timeout, o.connect_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &c->connect_timer);
	ev_timer_init(&c->tick, on_tick, TIMEOUT_TICK_S, TIMEOUT_TICK_S);
	if (o.request_timeout_ms != UINT32_MAX)
		ev_timer_start(loop, &c->tick);
	*out = c;
	return COL_OK;
}

void cqlconn_free(struct cqlconn *c)
{
	if (!c || c->freeing)
		return;
	c->busy++;
	c->on_ready = NULL;
	conn_fail(c, COL_ECLOSED, "connection to %s closed by the client", c->peer);
	c->freeing = true;
	leave(c);
}

/* Common checks and stream allocation of a user request. */
static int begin_request(struct cqlconn *c, cqlconn_result_fn cb, int16_t *id)
{
	if (!cb)
		return COL_EINVAL;
	if (c->failed || c->freeing || !c->ready)
		return COL_ECLOSED;
	if (c->out.len > c->opts.max_out)
		return COL_EFULL;
	int16_t s = slot_take(c);
	if (s < 0)
		return COL_EFULL;
	*id = s;
	return COL_OK;
}

static int finish_request(struct cqlconn *c, int16_t id, size_t mark, cqlconn_result_fn cb,
                          void *arg)
{
	if (!buf_ok(&c->out)) {
		c->out.oom = false;
		c->out.len = mark;
		slot_release(c, id);
		return COL_ENOMEM;
	}
	if (c->out.len - mark > c->opts.max_frame) {
		c->out.len = mark;
		slot_release(c, id);
		return COL_ETOOBIG;
	}
	struct slot *s = &c->slots[id];
	s->kind = REQ_USER;
	s->cb = cb;
	s->arg = arg;
	c->stats.requests++;
	want_write(c);
	return COL_OK;
}

int cqlconn_query(struct cqlconn *c, const char *cql, size_t len, const struct cql_qparams *p,
                  cqlconn_result_fn cb, void *arg)
{
	int16_t id;
	int rc = begin_request(c, cb, &id);
	if (rc)
		return rc;
	size_t mark = c->out.len;
	cqlreq_query(&c->out, id, cql, len, p);
	return finish_request(c, id, mark, cb, arg);
}

int cqlconn_prepare(struct cqlconn *c, const char *cql, size_t len, cqlconn_result_fn cb, void *arg)
{
	int16_t id;
	int rc = begin_request(c, cb, &id);
	if (rc)
		return rc;
	size_t mark = c->out.len;
	cqlreq_prepare(&c->out, id, cql, len);
	return finish_request(c, id, mark, cb, arg);
}

/* Keep a copy of the frame just encoded at out[mark..] for re-preparing. */
static int save_frame(struct cqlconn *c, int16_t id, size_t mark, struct id_ref *refs, uint16_t n)
{
	struct slot *s = &c->slots[id];
	buf_reset(&s->frame);
	buf_put(&s->frame, c->out.data + mark, c->out.len - mark);
	if (!buf_ok(&s->frame))
		return COL_ENOMEM;
	s->ids = refs;
	s->n_ids = n;
	return COL_OK;
}

int cqlconn_execute(struct cqlconn *c, struct cqlprepared *ps, const struct cql_qparams *p,
                    cqlconn_result_fn cb, void *arg)
{
	if (!ps)
		return COL_EINVAL;
	int16_t id;
	int rc = begin_request(c, cb, &id);
	if (rc)
		return rc;
	size_t mark = c->out.len;
	cqlreq_execute(&c->out, id, ps->id, ps->id_len, p);
	struct id_ref *ref = &c->slots[id].one_ref;
	if (save_frame(c, id, mark, ref, 1) != COL_OK) {
		c->out.len = mark;
		slot_release(c, id);
		return COL_ENOMEM;
	}
	ref->off = CQLPROTO_HEADER_LEN;
	ref->ps = ps;
	return finish_request(c, id, mark, cb, arg);
}

int cqlconn_batch(struct cqlconn *c, uint8_t type, const struct cql_batch_item *items, uint16_t n,
                  const struct cql_qparams *p, cqlconn_result_fn cb, void *arg)
{
	if (n && !items)
		return COL_EINVAL;
	int16_t id;
	int rc = begin_request(c, cb, &id);
	if (rc)
		return rc;
	size_t mark = c->out.len;
	cqlreq_batch(&c->out, id, type, items, n, p);
	uint16_t nps = 0;
	for (uint16_t i = 0; i < n; i++)
		nps += items[i].ps != NULL;
	if (nps) {
		struct id_ref *refs = calloc(nps, sizeof(*refs));
		if (!refs || save_frame(c, id, mark, refs, nps) != COL_OK) {
			free(refs);
			c->out.len = mark;
			slot_release(c, id);
			return COL_ENOMEM;
		}
		/* Walk the encoded body to find each id's offset. */
		size_t off = CQLPROTO_HEADER_LEN + 1 + 2;
		uint16_t k = 0;
		const uint8_t *f = c->slots[id].frame.data;
		for (uint16_t i = 0; i < n; i++) {
			uint8_t kind = f[off++];
			if (kind == 1) {
				refs[k].off = off;
				refs[k].ps = items[i].ps;
				k++;
				off += 2 + be16_load(f + off);
			} else {
				off += 4 + be32_load(f + off);
			}
			uint16_t nv = be16_load(f + off);
			off += 2;
			for (uint16_t j = 0; j < nv; j++) {
				int32_t l = (int32_t)be32_load(f + off);
				off += 4 + (l > 0 ? (size_t)l : 0);
			}
		}
	}
	return finish_request(c, id, mark, cb, arg);
}

bool cqlconn_ready(const struct cqlconn *c)
{
	return c->ready && !c->failed;
}

unsigned cqlconn_inflight(const struct cqlconn *c)
{
	return c->opts.max_inflight - c->n_free - c->orphans;
}

const char *cqlconn_peer(const struct cqlconn *c)
{
	return c->peer;
}
const char *cqlconn_failure(const struct cqlconn *c)
{
	return c->failure;
}

void cqlconn_get_stats(const struct cqlconn *c, struct cqlconn_stats *out)
{
	*out = c->stats;
	out->queued = c->out.len;
	out->orphans = c->orphans;
}

/* ==== blocking wrapper ======================================================================== */

/*
 * One outstanding request of the blocking client.  Heap-allocated so that an
 * interrupted wait can walk away: the callback frees an abandoned ticket (and
 * its answer) whenever the answer or the connection's end arrives.
 */
struct ticket {
	struct cqlclient *cl;
	bool abandoned;
	bool done;
	int status;
	struct cqlresult *res;
	char why[CERR_MSG_MAX];
};

struct cqlclient {
	struct ev_loop *loop;
	struct cqlconn *conn;
	volatile sig_atomic_t *interrupt;
	/* connect */
	bool ready_done;
	int ready_status;
	char ready_why[CERR_MSG_MAX];
};

static void sync_ready(struct cqlconn *c, void *arg, int status, const char *why)
{
	(void)c;
	struct cqlclient *cl = arg;
	cl->ready_done = true;
	cl->ready_status = status;
	snprintf(cl->ready_why, sizeof(cl->ready_why), "%s", why ? why : "");
}

static void sync_done(struct cqlconn *c, void *arg, int status, struct cqlresult *res,
                      const char *why)
{
	(void)c;
	struct ticket *t = arg;
	if (t->abandoned) {
		cqlresult_free(res);
		free(t);
		return;
	}
	t->done = true;
	t->status = status;
	t->res = res;
	snprintf(t->why, sizeof(t->why), "%s", why ? why : "");
}

int cqlclient_connect(const char *host, uint16_t port, const struct cqlconn_opts *opts,
                      struct cqlclient **out, struct cerr *err)
{
	struct cqlclient *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	cl->loop = ev_loop_new(EVFLAG_AUTO);
	if (!cl->loop) {
		free(cl);
		return cerr_set(err, COL_EIO, "cannot create an event loop");
	}
	int rc = cqlconn_open(cl->loop, host, port, opts, sync_ready, cl, &cl->conn, err);
	if (rc) {
		ev_loop_destroy(cl->loop);
		free(cl);
		return rc;
	}
	while (!cl->ready_done)
		ev_run(cl->loop, EVRUN_ONCE);
	if (cl->ready_status != COL_OK) {
		rc = cerr_set(err, cl->ready_status, "%s", cl->ready_why);
		cqlclient_free(cl);
		return rc;
	}
	*out = cl;
	return COL_OK;
}

void cqlclient_free(struct cqlclient *cl)
{
	if (!cl)
		return;
	if (cl->conn)
		cqlconn_free(cl->conn);
	ev_loop_destroy(cl->loop);
	free(cl);
}

static struct ticket *ticket_new(struct cqlclient *cl)
{
	struct ticket *t = calloc(1, sizeof(*t));
	if (t)
		t->cl = cl;
	return t;
}

/* Wait for t after a send that returned rc; frees t unless abandoned. */
static int sync_wait(struct cqlclient *cl, struct ticket *t, int rc, struct cqlresult **out,
                     struct cerr *err)
{
	if (rc != COL_OK) {
		free(t);
		const char *f = cqlconn_failure(cl->conn);
		return cerr_set(err, rc, "cannot send request to %s: %s", cqlconn_peer(cl->conn),
		                *f ? f : col_strerror(rc));
	}
	while (!t->done) {
		if (cl->interrupt && *cl->interrupt) {
			t->abandoned = true; /* sync_done frees it */
			return cerr_set(err, COL_EAGAIN, "request to %s interrupted",
			                cqlconn_peer(cl->conn));
		}
		ev_run(cl->loop, EVRUN_ONCE);
	}
	rc = t->status;
	if (rc != COL_OK)
		cerr_set(err, rc, "%s", t->why);
	else
		*out = t->res;
	free(t);
	return rc;
}

#define SYNC_SEND(cl, send_expr, out, err)                                                         \
	do {                                                                                       \
		struct ticket *t = ticket_new(cl);                                                 \
		if (!t)                                                                            \
			return cerr_set(err, COL_ENOMEM, "out of memory");                         \
		return sync_wait(cl, t, (send_expr), out, err);                                    \
	} while (0)

int cqlclient_query(struct cqlclient *cl, const char *cql, const struct cql_qparams *p,
                    struct cqlresult **out, struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_query(cl->conn, cql, strlen(cql), p, sync_done, t), out, err);
}

int cqlclient_prepare(struct cqlclient *cl, const char *cql, struct cqlresult **out,
                      struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_prepare(cl->conn, cql, strlen(cql), sync_done, t), out, err);
}

int cqlclient_execute(struct cqlclient *cl, struct cqlprepared *ps, const struct cql_qparams *p,
                      struct cqlresult **out, struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_execute(cl->conn, ps, p, sync_done, t), out, err);
}

int cqlclient_batch(struct cqlclient *cl, uint8_t type, const struct cql_batch_item *items,
                    uint16_t n, const struct cql_qparams *p, struct cqlresult **out,
                    struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_batch(cl->conn, type, items, n, p, sync_done, t), out, err);
}

void cqlclient_poll(struct cqlclient *cl)
{
	ev_run(cl->loop, EVRUN_NOWAIT);
}

void cqlclient_set_interrupt(struct cqlclient *cl, volatile sig_atomic_t *flag)
{
	cl->interrupt = flag;
}

const char *cqlclient_peer(const struct cqlclient *cl)
{
	return cqlconn_peer(cl->conn);
}
struct cqlconn *cqlclient_conn(struct cqlclient *cl)
{
	return cl->conn;
}
