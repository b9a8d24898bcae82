#include "coordinator/query/paging.h"

#include "core/err.h"

void paging_encode(const struct paging_pos *p, struct buf *out)
{
	buf_put_u8(out, PAGING_FORMAT);
	buf_put_u8(out, p->flags);
	buf_put_u32be(out, (uint32_t)p->remaining);
	buf_put_u32be(out, p->part_index);
	buf_put_u32be(out, p->pk_len);
	buf_put(out, p->pk, p->pk_len);
	buf_put_u32be(out, p->ck_len);
	buf_put(out, p->ck, p->ck_len);
	buf_put_u32be(out, (uint32_t)p->part_rows);
}

int paging_decode(const uint8_t *state, size_t len, struct paging_pos *out)
{
	struct bufreader r;
	bufreader_init(&r, state, len);
	uint8_t format = bufreader_u8(&r);
	if (format != 1 && format != PAGING_FORMAT)
		return COL_EINVAL;
	struct paging_pos p;
	p.flags = bufreader_u8(&r);
	p.remaining = (int32_t)bufreader_u32be(&r);
	p.part_index = bufreader_u32be(&r);
	p.pk_len = bufreader_u32be(&r);
	p.pk = bufreader_take(&r, p.pk_len);
	p.ck_len = bufreader_u32be(&r);
	p.ck = bufreader_take(&r, p.ck_len);
	p.part_rows = format == 1 ? 0 : (int32_t)bufreader_u32be(&r);
	if (p.part_rows < 0 || !bufreader_ok(&r) || bufreader_left(&r) != 0 ||
	    (p.flags & ~PAGING_PARTITION_DONE) || p.remaining < -1)
		return COL_EINVAL;
	*out = p;
	return 0;
}
