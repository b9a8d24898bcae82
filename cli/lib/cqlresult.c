/*
 * cqlresult.c — decoding a response frame body into a struct cqlresult, and
 * reading its cells (see cqlclient.h, layer 1).
 */
#include "cli/lib/cqlclient.h"
#include "cli/lib/cqlclient_int.h"

#include <stdlib.h>
#include <string.h>

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

/* The body of a timeout or failure error (spec §9): <cl><received><required>,
 * then [<failures>] for the failures, then the write type or the
 * data_present byte. */
static void decode_replica_outcome(struct dec *d, struct cql_error_info *e)
{
	struct bufreader *rd = &d->r;
	bool is_write = e->code == CQL_ERR_WRITE_TIMEOUT || e->code == CQL_ERR_WRITE_FAILURE;
	e->consistency = cql_get_short(rd);
	e->received = cql_get_int(rd);
	e->required = cql_get_int(rd);
	if (e->code == CQL_ERR_READ_FAILURE || e->code == CQL_ERR_WRITE_FAILURE)
		e->failures = cql_get_int(rd);
	if (is_write)
		e->write_type = get_str(d);
	else
		e->data_present = cql_get_byte(rd) != 0;
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
	case CQL_ERR_READ_TIMEOUT:
	case CQL_ERR_READ_FAILURE:
	case CQL_ERR_WRITE_FAILURE: decode_replica_outcome(d, e); break;
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

/* The opcodes a server sends; any other is "unknown" in a client's message. */
static const uint32_t response_opcodes = 1u << CQL_OP_ERROR | 1u << CQL_OP_READY |
                                         1u << CQL_OP_AUTHENTICATE | 1u << CQL_OP_SUPPORTED |
                                         1u << CQL_OP_RESULT | 1u << CQL_OP_EVENT |
                                         1u << CQL_OP_AUTH_CHALLENGE | 1u << CQL_OP_AUTH_SUCCESS;

const char *cqlresult_opcode_name(uint8_t op)
{
	return op < 32 && (response_opcodes >> op & 1) ? cql_opcode_name(op) : "unknown opcode";
}

int cqlresult_decode(uint8_t opcode, uint8_t frame_flags, const uint8_t *body, size_t body_len,
                     struct cqlresult **out, struct cerr *err)
{
	if (frame_flags & CQL_FLAG_COMPRESSION)
		return cerr_set(err, COL_EPROTO,
		                "%s frame is compressed, but no compression "
		                "was negotiated",
		                cqlresult_opcode_name(opcode));
	struct cqlresult *r = calloc(1, sizeof(*r));
	if (!r)
		return cerr_set(err, COL_ENOMEM, "out of memory decoding a %s frame",
		                cqlresult_opcode_name(opcode));
	r->opcode = opcode;
	r->frame_flags = frame_flags;
	r->meta.paging_state_len = -1;
	r->bind_meta.paging_state_len = -1;
	r->body = malloc(body_len ? body_len : 1);
	if (!r->body) {
		free(r);
		return cerr_set(err, COL_ENOMEM, "out of memory for a %zu-byte %s frame", body_len,
		                cqlresult_opcode_name(opcode));
	}
	if (body_len)
		memcpy(r->body, body, body_len);
	r->body_len = body_len;

	struct dec d = {.oom = false};
	bufreader_init(&d.r, r->body, body_len);
	int rc = COL_OK;

	if (frame_flags & CQL_FLAG_TRACING) {
		const uint8_t *id = bufreader_take(&d.r, 16);
		if (id) {
			memcpy(r->trace_id, id, 16);
			r->traced = true;
		}
	}
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
			              cqlresult_opcode_name(opcode), n);
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
		case CQL_OP_AUTH_SUCCESS:
			r->kind = CQLRES_AUTH_SUCCESS;
			(void)cql_get_bytes(&d.r);
			break;
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
		              body_len, cqlresult_opcode_name(opcode));
	if (rc == COL_OK && !bufreader_ok(&d.r))
		rc = cerr_set(err, COL_EPROTO, "%s frame of %zu bytes is truncated",
		              cqlresult_opcode_name(opcode), body_len);
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
