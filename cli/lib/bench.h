/*
 * bench.h — `colonnade bench`, the load generator (cassandra-stress and YCSB
 * are the models; docs/BENCH.md is the user's guide).
 *
 * It speaks the CQL native protocol with prepared statements through
 * cli/lib/cqlclient.h, routes each request to a replica of its key, keeps
 * many connections and many requests in flight, and measures latency
 * honestly: with --rate, requests follow a fixed timetable and latency counts
 * from the scheduled start, so a stalled server cannot hide behind a
 * generator that politely waited (coordinated omission).
 *
 * The pieces live in bench_*.c and share cli/lib/bench_int.h; this header is
 * the one entry point the `colonnade` program calls.
 */
#ifndef COLONNADE_CLI_BENCH_H
#define COLONNADE_CLI_BENCH_H

/*
 * Run `colonnade bench` with argv[0] = "bench".  Returns the exit status:
 * 0 the run completed (errors during it are reported, not fatal), 1 the run
 * could not start or failed (unreachable nodes, schema, every op failed),
 * 2 usage error (bad option, a consistency level the keyspace cannot meet).
 */
int bench_main(int argc, char **argv);

#endif
