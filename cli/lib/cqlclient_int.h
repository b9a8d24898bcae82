/*
 * cqlclient_int.h — what the CQL client's files (cqlresult.c, cqlreq.c,
 * cqlconn.c, cqlclient.c) share beyond cqlclient.h.  Only they and their
 * tests include it.
 */
#ifndef COLONNADE_CLI_CQLCLIENT_INT_H
#define COLONNADE_CLI_CQLCLIENT_INT_H

#include <stdint.h>

/* The name of a response opcode for messages ("RESULT"); "unknown opcode"
 * for anything a server does not send. */
const char *cqlresult_opcode_name(uint8_t op);

#endif
