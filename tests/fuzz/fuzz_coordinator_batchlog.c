/*
 * libFuzzer target: the BATCH_STORE payload another node sends
 * (coordinator/batchlog/batchlog.h) and the check a node makes before keeping
 * it.  Garbage must be refused, never read out of bounds.
 */
#include "coordinator/batchlog/batchlog.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *id;
	(void)batchlog_check_store(data, size, &id);
	return 0;
}
