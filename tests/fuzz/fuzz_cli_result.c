/*
 * libFuzzer target: a server's response bytes through the client's decoder
 * (cli/lib/cqlclient.h cqlresult_decode) and, for a Rows result, through
 * cqlsh-style formatting of every cell (cli/lib/cqlfmt.h).
 *
 * Input: byte 0 picks the opcode (ERROR, READY, AUTHENTICATE, SUPPORTED,
 * RESULT), byte 1 is the frame flags, the rest is the frame body.
 */
#include "cli/lib/cqlclient.h"
#include "cli/lib/cqlfmt.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ops[] = {CQL_OP_ERROR, CQL_OP_READY, CQL_OP_AUTHENTICATE,
				      CQL_OP_SUPPORTED, CQL_OP_RESULT};
	if (size < 2)
		return 0;
	uint8_t op = ops[data[0] % sizeof(ops)];
	struct cqlresult *r = NULL;
	if (cqlresult_decode(op, data[1], data + 2, size - 2, &r, NULL) != 0)
		return 0;
	struct buf out;
	buf_init(&out);
	if (r->kind == CQLRES_ROWS && r->meta.cols) {
		struct cqlfmt_opts o = {.color = (data[1] & 0x80) != 0, .expand = (data[1] & 0x40) != 0};
		cqlfmt_rows(&out, r, &o, true, 0);
	} else if (r->kind == CQLRES_ERROR) {
		cqlfmt_error(&out, &r->error);
	}
	buf_release(&out);
	cqlresult_free(r);
	return 0;
}
