/*
 * Configuration: colonnade.yaml, env, flags, precedence, and the errors a user
 * sees for bad input (each names the file or variable, the line and the key).
 */
#include "core/config.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct config cfg;

static void setup(void)
{
	cr_assert_eq(config_init(&cfg), 0);
}
static void teardown(void)
{
	config_release(&cfg);
}

TestSuite(config, .init = setup, .fini = teardown);

static int load(const char *yaml, struct cerr *e)
{
	return config_load_string(&cfg, "colonnade.yaml", yaml, strlen(yaml), e);
}

/* yaml is refused as bad configuration, with a message holding `want`. */
static void expect_refused(const char *yaml, const char *want)
{
	struct cerr e = {0};
	cr_expect_eq(load(yaml, &e), COL_ECONFIG, "%s", yaml);
	cr_expect(strstr(e.msg, want), "want '%s' in: %s", want, e.msg);
}

/* Hinted handoff's keys: Cassandra's names, its units, a YAML list of DCs. */
Test(config, hinted_handoff_keys)
{
	struct cerr e = {0};
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.hinted_handoff_disabled_datacenters, "");
	cr_expect_eq(cfg.hinted_handoff_throttle_kib, 1024);
	cr_expect_eq(cfg.max_hints_delivery_threads, 2);
	cr_expect_eq(cfg.hints_flush_period_ms, 10000);
	cr_expect_eq(cfg.max_hints_size_per_host, 0);
	cr_assert_eq(load("hinted_handoff_disabled_datacenters:\n  - dc2\n  - dc3\n"
	                  "hinted_handoff_throttle: 2048\n"
	                  "max_hints_delivery_threads: 4\n"
	                  "hints_flush_period: 2s\n"
	                  "max_hints_size_per_host: 64MiB\n",
	                  &e),
	             0, "%s", e.msg);
	cr_expect_str_eq(cfg.hinted_handoff_disabled_datacenters, "dc2,dc3");
	cr_expect_eq(cfg.hinted_handoff_throttle_kib, 2048);
	cr_expect_eq(cfg.max_hints_delivery_threads, 4);
	cr_expect_eq(cfg.hints_flush_period_ms, 2000);
	cr_expect_eq(cfg.max_hints_size_per_host, 64LL << 20);
	cr_assert_eq(
	        load("hinted_handoff_throttle: 1MiB\nhinted_handoff_disabled_datacenters: a,b\n",
	             &e),
	        0, "%s", e.msg);
	cr_expect_eq(cfg.hinted_handoff_throttle_kib, 1024);
	cr_expect_str_eq(cfg.hinted_handoff_disabled_datacenters, "a,b");
	cr_assert_eq(load("hinted_handoff_throttle_in_kb: 0\n", &e), 0, "%s", e.msg);
	cr_expect_eq(cfg.hinted_handoff_throttle_kib, 0);
	cr_expect_eq(load("hinted_handoff_throttle: fast\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "hinted_handoff_throttle"), "%s", e.msg);
	cr_expect_eq(load("max_hints_delivery_threads: 0\n", &e), COL_ECONFIG);
}

Test(config, defaults_are_cassandras)
{
	struct cerr e = {0};
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.cluster_name, "Test Cluster");
	cr_expect_eq(cfg.num_tokens, 16);
	cr_expect_eq(cfg.storage_port, 7000);
	cr_expect_eq(cfg.native_transport_port, 9042);
	cr_expect_eq(cfg.admin_port, 7199);
	cr_expect_str_eq(cfg.listen_address, "127.0.0.1");
	cr_expect_str_eq(cfg.rpc_address, "127.0.0.1");
	cr_expect_str_eq(cfg.broadcast_address, "127.0.0.1");
	cr_expect_str_eq(cfg.broadcast_rpc_address, "127.0.0.1");
	cr_expect_str_eq(cfg.data_directory, "./data");
	cr_expect_str_eq(cfg.hints_directory, "./data/hints");
	cr_expect_eq(cfg.commitlog_sync, CONFIG_SYNC_PERIODIC);
	cr_expect_eq(cfg.commitlog_sync_period_ms, 10000);
	cr_expect_eq(cfg.hinted_handoff_enabled, true);
	cr_expect_eq(cfg.max_hint_window_ms, 3 * 3600 * 1000LL);
	cr_expect_float_eq(cfg.phi_convict_threshold, 8.0, 1e-9);
	cr_expect_eq(cfg.gossip_interval_ms, 1000);
	cr_expect_eq(cfg.write_request_timeout_ms, 2000);
	cr_expect_eq(cfg.read_request_timeout_ms, 5000);
	cr_expect_eq(cfg.range_request_timeout_ms, 10000);
	cr_expect_str_eq(cfg.dc, "dc1");
	cr_expect_str_eq(cfg.rack, "rack1");
	cr_expect_eq(cfg.native_transport_max_frame_size, 16 * 1024 * 1024);
	/* the overload latency budget (docs/PERFORMANCE.md, "Overload") */
	cr_expect_eq(cfg.native_transport_latency_target_ms, 4);
	cr_expect_eq(cfg.native_transport_max_queue_wait_ms, 5);
	cr_expect_eq(cfg.n_seeds, 1);
	cr_expect_str_eq(cfg.seeds[0].host, "127.0.0.1");
	cr_expect_eq(cfg.seeds[0].port, 0);
	cr_expect_str_eq(config_warnings(&cfg), "");
}

Test(config, full_file_lands_in_every_field)
{
	const char *y =
	        "cluster_name: 'Shop Cluster'\n"
	        "num_tokens: 8\n"
	        "seeds: \"10.0.0.1, 10.0.0.2:7001,[::1]:7002\"\n"
	        "listen_address: 127.0.4.1\n"
	        "rpc_address: 127.0.4.2\n"
	        "storage_port: 7100\n"
	        "native_transport_port: 9142\n"
	        "admin_port: 7299\n"
	        "data_file_directories:\n"
	        "  - /var/lib/colonnade/data\n"
	        "hints_directory: /var/lib/colonnade/hints\n"
	        "commitlog_sync: batch\n"
	        "commitlog_sync_period: 2s\n"
	        "hinted_handoff_enabled: false\n"
	        "max_hint_window: 90m\n"
	        "phi_convict_threshold: 12.5\n"
	        "gossip_interval: 50ms\n"
	        "write_request_timeout: 1500ms\n"
	        "read_request_timeout: 3s\n"
	        "range_request_timeout: 1m\n"
	        "endpoint_snitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch\n"
	        "dc: eu-west\n"
	        "rack: r2\n"
	        "io_threads: 2\n"
	        "log_level: debug\n"
	        "native_transport_max_frame_size: 32MiB\n"
	        "max_connections: 77\n";
	struct cerr e = {0};
	cr_assert_eq(load(y, &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.cluster_name, "Shop Cluster");
	cr_expect_eq(cfg.num_tokens, 8);
	cr_assert_eq(cfg.n_seeds, 3);
	cr_expect_str_eq(cfg.seeds[0].host, "10.0.0.1");
	cr_expect_eq(cfg.seeds[0].port, 0);
	cr_expect_str_eq(cfg.seeds[1].host, "10.0.0.2");
	cr_expect_eq(cfg.seeds[1].port, 7001);
	cr_expect_str_eq(cfg.seeds[2].host, "::1");
	cr_expect_eq(cfg.seeds[2].port, 7002);
	cr_expect_str_eq(cfg.listen_address, "127.0.4.1");
	cr_expect_str_eq(cfg.rpc_address, "127.0.4.2");
	cr_expect_str_eq(cfg.broadcast_address, "127.0.4.1");
	cr_expect_str_eq(cfg.broadcast_rpc_address, "127.0.4.2");
	cr_expect_eq(cfg.storage_port, 7100);
	cr_expect_eq(cfg.native_transport_port, 9142);
	cr_expect_eq(cfg.admin_port, 7299);
	cr_expect_str_eq(cfg.data_directory, "/var/lib/colonnade/data");
	cr_expect_str_eq(cfg.hints_directory, "/var/lib/colonnade/hints");
	cr_expect_eq(cfg.commitlog_sync, CONFIG_SYNC_BATCH);
	cr_expect_eq(cfg.commitlog_sync_period_ms, 2000);
	cr_expect_eq(cfg.hinted_handoff_enabled, false);
	cr_expect_eq(cfg.max_hint_window_ms, 90 * 60 * 1000LL);
	cr_expect_float_eq(cfg.phi_convict_threshold, 12.5, 1e-9);
	cr_expect_eq(cfg.gossip_interval_ms, 50);
	cr_expect_eq(cfg.write_request_timeout_ms, 1500);
	cr_expect_eq(cfg.read_request_timeout_ms, 3000);
	cr_expect_eq(cfg.range_request_timeout_ms, 60000);
	cr_expect_eq(cfg.endpoint_snitch, CONFIG_SNITCH_GOSSIPING_PROPERTY_FILE);
	cr_expect_str_eq(cfg.dc, "eu-west");
	cr_expect_str_eq(cfg.rack, "r2");
	cr_expect_eq(cfg.io_threads, 2);
	cr_expect_eq(cfg.log_level, LOG_DEBUG);
	cr_expect_eq(cfg.native_transport_max_frame_size, 32 * 1024 * 1024);
	cr_expect_eq(cfg.native_transport_max_concurrent_connections, 77);
	cr_expect_str_eq(config_warnings(&cfg), "");
}

Test(config, bad_integer_names_file_line_and_key)
{
	const char *y = "cluster_name: c\n"
	                "# a comment\n"
	                "num_tokens: many\n";
	struct cerr e = {0};
	cr_assert_eq(load(y, &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg,
	                 "colonnade.yaml:3: num_tokens: expected an integer between 1 and 1024, "
	                 "got 'many'");
	cr_expect_eq(cfg.num_tokens, 16, "a rejected value leaves the old one");
}

Test(config, out_of_range_values_are_refused)
{
	struct cerr e = {0};
	cr_expect_eq(load("num_tokens: 0\n", &e), COL_ECONFIG);
	cr_expect_eq(load("num_tokens: 1025\n", &e), COL_ECONFIG);
	expect_refused("storage_port: 70000\n", "colonnade.yaml:1: storage_port: expected an "
	                                        "integer between 1 and 65535, got '70000'");
	expect_refused("phi_convict_threshold: 2\n", "between 5 and 16");
	cr_expect_eq(load("phi_convict_threshold: nan\n", &e), COL_ECONFIG);
	cr_expect_eq(load("gossip_interval: 1ms\n", &e), COL_ECONFIG);
	expect_refused("hinted_handoff_enabled: maybe\n", "expected true or false, got 'maybe'");
	cr_expect_eq(load("commitlog_sync: sometimes\n", &e), COL_ECONFIG);
	expect_refused("commitlog_sync: group\n", "not supported");
	cr_expect_eq(load("log_level: loud\n", &e), COL_ECONFIG);
	cr_expect_eq(load("endpoint_snitch: Ec2Snitch\n", &e), COL_ECONFIG);
	cr_expect_eq(load("num_tokens: 12abc\n", &e), COL_ECONFIG);
	cr_expect_eq(load("num_tokens: 99999999999999999999\n", &e), COL_ECONFIG);
}

/*
 * A duration finer than the 1 ms every duration key is kept in would read as 0, which
 * repair_interval (and others) take as "off": refused, naming the key and why, unless it
 * is exactly 0.
 */
Test(config, durations_below_a_millisecond_are_refused_unless_zero)
{
	struct cerr e = {0};
	cr_assert_eq(load("repair_interval: 500us\n", &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg,
	                 "colonnade.yaml:1: repair_interval: '500us' is below the 1 ms resolution "
	                 "of this key (it would read as 0); expected a duration like '500ms', "
	                 "'10s', '3h' (units d, h, m, s, ms, us, ns) between 0ms and "
	                 "31536000000ms");
	expect_refused("schema_agreement_timeout: 20000ns\n",
	               "schema_agreement_timeout: '20000ns' is below the 1 ms resolution");
	expect_refused("commitlog_sync_period: 10us\n", "commitlog_sync_period: '10us' is below");
	cr_assert_eq(load("repair_interval: 0us\n", &e), 0, "%s", e.msg);
	cr_expect_eq(cfg.repair_interval_ms, 0, "exactly 0 still turns it off");
	cr_assert_eq(load("repair_interval: 1500us\n", &e), 0, "%s", e.msg);
	cr_expect_eq(cfg.repair_interval_ms, 1, "rounded down, as before");
}

Test(config, durations_take_cassandra_units)
{
	int64_t ms;
	cr_expect_eq(config_parse_duration_ms("10s", &ms), 0);
	cr_expect_eq(ms, 10000);
	cr_expect_eq(config_parse_duration_ms("500ms", &ms), 0);
	cr_expect_eq(ms, 500);
	cr_expect_eq(config_parse_duration_ms("3h", &ms), 0);
	cr_expect_eq(ms, 3 * 3600 * 1000LL);
	cr_expect_eq(config_parse_duration_ms("2d", &ms), 0);
	cr_expect_eq(ms, 2 * 86400 * 1000LL);
	cr_expect_eq(config_parse_duration_ms("5m", &ms), 0);
	cr_expect_eq(ms, 300000);
	cr_expect_eq(config_parse_duration_ms("2500us", &ms), 0);
	cr_expect_eq(ms, 2);
	cr_expect_eq(config_parse_duration_ms("3000000ns", &ms), 0);
	cr_expect_eq(ms, 3);
	cr_expect_eq(config_parse_duration_ms(" 20 ms ", &ms), 0);
	cr_expect_eq(ms, 20);
	cr_expect_neq(config_parse_duration_ms("10", &ms), 0, "a bare number is ambiguous");
	cr_expect_neq(config_parse_duration_ms("10 parsecs", &ms), 0);
	cr_expect_neq(config_parse_duration_ms("-5s", &ms), 0);
	cr_expect_neq(config_parse_duration_ms("s", &ms), 0);
	cr_expect_neq(config_parse_duration_ms("99999999999999999999d", &ms), 0);
	cr_expect_neq(config_parse_duration_ms("9999999999999999d", &ms), 0, "overflow");
	/* finer than the 1 ms resolution: refused rather than read as 0 (off), unless 0 */
	cr_expect_eq(config_parse_duration_ms("500us", &ms), COL_EINVAL);
	cr_expect_eq(config_parse_duration_ms("999999ns", &ms), COL_EINVAL);
	cr_expect_eq(config_parse_duration_ms("1\xc2\xb5s", &ms), COL_EINVAL);
	cr_expect_eq(config_parse_duration_ms("0us", &ms), 0);
	cr_expect_eq(ms, 0);
	cr_expect_eq(config_parse_duration_ms("1000us", &ms), 0);
	cr_expect_eq(ms, 1);

	struct cerr e = {0};
	cr_assert_eq(load("write_request_timeout: 2000\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:1: write_request_timeout: expected a duration "
	                        "like '500ms'"),
	          "%s", e.msg);
}

Test(config, legacy_in_ms_keys_take_plain_numbers)
{
	struct cerr e = {0};
	cr_assert_eq(load("write_request_timeout_in_ms: 750\n"
	                  "commitlog_sync_period_in_ms: 250\n"
	                  "max_hint_window_in_ms: 60000\n"
	                  "native_transport_max_frame_size_in_mb: 4\n",
	                  &e),
	             0, "%s", e.msg);
	cr_expect_eq(cfg.write_request_timeout_ms, 750);
	cr_expect_eq(cfg.commitlog_sync_period_ms, 250);
	cr_expect_eq(cfg.max_hint_window_ms, 60000);
	cr_expect_eq(cfg.native_transport_max_frame_size, 4 * 1024 * 1024);
	cr_expect_eq(load("read_request_timeout_in_ms: 5s\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "expected a number of milliseconds"), "%s", e.msg);
}

Test(config, sizes)
{
	int64_t b;
	cr_expect_eq(config_parse_size_bytes("16MiB", &b), 0);
	cr_expect_eq(b, 16 * 1024 * 1024);
	cr_expect_eq(config_parse_size_bytes("512KiB", &b), 0);
	cr_expect_eq(b, 512 * 1024);
	cr_expect_eq(config_parse_size_bytes("1GiB", &b), 0);
	cr_expect_eq(b, 1024LL * 1024 * 1024);
	cr_expect_eq(config_parse_size_bytes("100B", &b), 0);
	cr_expect_eq(b, 100);
	cr_expect_eq(config_parse_size_bytes("1TiB", &b), 0);
	cr_expect_eq(b, 1LL << 40);
	cr_expect_eq(config_parse_size_bytes("2TB", &b), 0, "TB is read as TiB, as KB/MB/GB");
	cr_expect_eq(b, 2LL << 40);
	cr_expect_neq(config_parse_size_bytes("16", &b), 0);
	cr_expect_neq(config_parse_size_bytes("16 furlongs", &b), 0);
	cr_expect_neq(config_parse_size_bytes("1PiB", &b), 0);
	struct cerr e = {0};
	cr_expect_eq(load("native_transport_max_frame_size: 1GiB\n", &e), COL_ECONFIG,
	             "above the 256MiB bound");
}

/*
 * A size or duration whose number and unit overflow the 64-bit count it is kept in is
 * refused as too large (never wrapped into a small or negative value), and the message
 * names the key and its bound.  8388607TiB is the largest whole number of TiB in an
 * int64_t.
 */
Test(config, sizes_that_overflow_64_bits_are_refused_by_name)
{
	int64_t b;
	cr_expect_eq(config_parse_size_bytes("8388607TiB", &b), 0);
	cr_expect_eq(b, 8388607LL << 40);
	cr_expect_eq(config_parse_size_bytes("8388608TiB", &b), COL_ETOOBIG);
	cr_expect_eq(config_parse_size_bytes("9223372036854775808B", &b), COL_ETOOBIG);
	cr_expect_eq(config_parse_size_bytes("99999999999999999999999KiB", &b), COL_ETOOBIG);
	cr_expect_eq(config_parse_size_bytes("99999999999999999999999 furlongs", &b), COL_EINVAL,
	             "an unknown unit is not a number too large");
	cr_expect_eq(config_parse_duration_ms("106751991168d", &b), COL_ETOOBIG);
	struct cerr e = {0};
	cr_assert_eq(load("max_coordinated_mutation_bytes: 8388608TiB\n", &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg,
	                 "colonnade.yaml:1: max_coordinated_mutation_bytes: expected a size like "
	                 "'16MiB' (units B, KiB, MiB, GiB, TiB) between 1MiB and 1TiB, got "
	                 "'8388608TiB', too large for a 64-bit count");
	cr_expect_eq(cfg.max_coordinated_mutation_bytes, 64LL << 20, "the old value stays");
	cr_assert_eq(load("hinted_handoff_throttle: 8388608TiB\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "hinted_handoff_throttle: expected a number of KiB"), "%s", e.msg);
	cr_expect(strstr(e.msg, "too large for a 64-bit count"), "%s", e.msg);
	cr_assert_eq(load("max_coordinated_mutation_bytes: 2TiB\n", &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg,
	                 "colonnade.yaml:1: max_coordinated_mutation_bytes: expected a size like "
	                 "'16MiB' (units B, KiB, MiB, GiB, TiB) between 1MiB and 1TiB, got '2TiB'");
}

/* A documented bound as text ("1TiB", "60s", "1024") in the unit the key is kept in
 * (bytes, ms, or the number itself), converted here without the parser under test. */
static int64_t doc_value(const char *text, char *unit, size_t ulen)
{
	static const struct {
		const char *name, *base;
		int64_t mul;
	} units[] = {
	        {"TiB", "B", 1LL << 40}, {"GiB", "B", 1LL << 30}, {"MiB", "B", 1LL << 20},
	        {"KiB", "B", 1024},      {"B", "B", 1},           {"ms", "ms", 1},
	        {"s", "ms", 1000},       {"m", "ms", 60000},      {"h", "ms", 3600000},
	        {"d", "ms", 86400000},
	};
	char *end;
	long long n = strtoll(text, &end, 10);
	cr_assert_neq(end, text, "a documented bound is not a number: '%s'", text);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].name) == 0) {
			snprintf(unit, ulen, "%s", units[i].base);
			return n * units[i].mul;
		}
	cr_assert_eq(*end, 0, "unknown unit in a documented bound: '%s'", text);
	unit[0] = 0;
	return n;
}

/* Load "key: <n><unit>"; COL_OK or COL_ECONFIG with e. */
static int load_value(const char *key, int64_t n, const char *unit, struct cerr *e)
{
	char y[256];
	snprintf(y, sizeof(y), "%s: %lld%s\n", key, (long long)n, unit);
	return load(y, e);
}

/*
 * Every range docs/CONFIG.md documents as "(lo..hi)" holds: both ends are taken as
 * written there, one past either end (a byte, a millisecond, one) is refused with a
 * message that names the key and gives the bound as the documentation writes it
 * (sizes and integers).
 */
Test(config, documented_ranges_hold_at_both_ends)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s", __FILE__);
	char *cut = strstr(path, "tests/unit/");
	cr_assert_not_null(cut, "cannot locate the source tree from %s", __FILE__);
	snprintf(cut, sizeof(path) - (size_t)(cut - path), "docs/CONFIG.md");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	char line[8192];
	int ranges = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "| `", 3) != 0)
			continue;
		char key[128], lo[64], hi[64];
		const char *k = line + 3, *kend = strchr(k, '`');
		const char *cell = strchr(line + 1, '|'); /* the default column */
		const char *cell_end = cell ? strchr(cell + 1, '|') : NULL;
		cr_assert(kend && cell_end, "%s", line);
		const char *open = memchr(cell, '(', (size_t)(cell_end - cell));
		const char *dots = open ? strstr(open, "..") : NULL;
		const char *close = open ? strchr(open, ')') : NULL;
		if (!open || !dots || !close || dots > close)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(kend - k), k);
		snprintf(lo, sizeof(lo), "%.*s", (int)(dots - open - 1), open + 1);
		snprintf(hi, sizeof(hi), "%.*s", (int)(close - dots - 2), dots + 2);
		char lo_unit[8], hi_unit[8], y[256];
		int64_t lo_v = doc_value(lo, lo_unit, sizeof(lo_unit));
		int64_t hi_v = doc_value(hi, hi_unit, sizeof(hi_unit));
		if (!lo_unit[0])
			snprintf(lo_unit, sizeof(lo_unit), "%s", hi_unit); /* "0..1TiB": 0 bytes */
		struct cerr e = {0};
		snprintf(y, sizeof(y), "%s: %s\n", key, hi);
		cr_expect_eq(load(y, &e), 0, "%s at its documented bound: %s", key, e.msg);
		snprintf(y, sizeof(y), "%s: %s%s\n", key, lo, strcmp(lo, "0") ? "" : lo_unit);
		cr_expect_eq(load(y, &e), 0, "%s at its documented lower bound: %s", key, e.msg);
		char want[192];
		snprintf(want, sizeof(want), "colonnade.yaml:1: %s: expected ", key);
		char want_hi[80];
		snprintf(want_hi, sizeof(want_hi), "and %s", hi);
		cr_expect_eq(load_value(key, hi_v + 1, hi_unit, &e), COL_ECONFIG,
		             "%s: one past %s is refused", key, hi);
		cr_expect(strstr(e.msg, want), "%s", e.msg);
		if (strcmp(hi_unit, "ms") != 0) /* durations' bounds are given in ms */
			cr_expect(strstr(e.msg, want_hi), "%s", e.msg);
		if (lo_v > 0) {
			cr_expect_eq(load_value(key, lo_v - 1, lo_unit, &e), COL_ECONFIG,
			             "%s: one under %s is refused", key, lo);
			cr_expect(strstr(e.msg, want), "%s", e.msg);
		}
		ranges++;
	}
	fclose(f);
	cr_expect_geq(ranges, 20, "the ranges of docs/CONFIG.md were found (%d)", ranges);
}

Test(config, cassandra_seed_provider_form)
{
	const char *y = "seed_provider:\n"
	                "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n"
	                "    parameters:\n"
	                "      - seeds: \"127.0.4.1:7000,127.0.4.2\"\n";
	struct cerr e = {0};
	cr_assert_eq(load(y, &e), 0, "%s", e.msg);
	cr_assert_eq(cfg.n_seeds, 2);
	cr_expect_str_eq(cfg.seeds[0].host, "127.0.4.1");
	cr_expect_eq(cfg.seeds[0].port, 7000);
	cr_expect_str_eq(cfg.seeds[1].host, "127.0.4.2");
	cr_expect_str_eq(config_warnings(&cfg), "");
}

Test(config, seed_provider_errors)
{
	struct cerr e = {0};
	cr_expect_eq(load("seed_provider: 127.0.0.1\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:1: seed_provider: expected a list"), "%s", e.msg);
	cr_expect_eq(load("seed_provider:\n  - class_name: X\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "parameters"), "%s", e.msg);
	cr_expect_eq(load("seed_provider:\n"
	                  "  - class_name: SimpleSeedProvider\n"
	                  "    parameters:\n"
	                  "      - seeds: \"a:99999\"\n",
	                  &e),
	             COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:4: seed_provider: seeds: seed 'a': port must be "
	                        "1..65535"),
	          "%s", e.msg);
	config_release(&cfg);
	config_init(&cfg);
	cr_expect_eq(load("seed_provider:\n"
	                  "  - class_name: com.example.K8sSeedProvider\n"
	                  "    parameters:\n"
	                  "      - seeds: \"a\"\n",
	                  &e),
	             0);
	cr_expect(strstr(config_warnings(&cfg), "K8sSeedProvider"), "%s", config_warnings(&cfg));
}

Test(config, bad_seeds)
{
	struct cerr e = {0};
	cr_expect_eq(load("seeds: \" , ,\"\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "at least one seed"), "%s", e.msg);
	cr_expect_eq(load("seeds: \"[::1\"\n", &e), COL_ECONFIG);
	cr_expect_eq(load("seeds: \"a:b\"\n", &e), COL_ECONFIG);
	cr_expect_eq(load("seeds: \":7000\"\n", &e), COL_ECONFIG);
	cr_expect_eq(cfg.n_seeds, 1, "failed loads keep the previous seeds");
	cr_expect_str_eq(cfg.seeds[0].host, "127.0.0.1");
}

Test(config, malformed_yaml_names_line_and_problem)
{
	const char *y = "cluster_name: c\n"
	                "num_tokens: 4\n"
	                "seeds: \"unterminated\n"
	                "dc: x\n";
	struct cerr e = {0};
	cr_assert_eq(load(y, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:3: malformed YAML: while scanning a quoted scalar"),
	          "%s", e.msg);
	cr_expect(strstr(e.msg, "malformed YAML"), "%s", e.msg);
	cr_expect(strstr(e.msg, "found unexpected end of stream"), "%s", e.msg);

	cr_assert_eq(load("a: b\n  c: d\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:2:"), "%s", e.msg);
	cr_expect(strstr(e.msg, "mapping values are not allowed"), "%s", e.msg);
}

Test(config, top_level_must_be_a_mapping)
{
	struct cerr e = {0};
	cr_assert_eq(load("- a\n- b\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:1: expected a mapping"), "%s", e.msg);
	cr_assert_eq(load("", &e), 0, "an empty file means all defaults");
}

Test(config, list_where_a_value_is_expected)
{
	struct cerr e = {0};
	cr_assert_eq(load("cluster_name: c\nnum_tokens:\n  - 1\n  - 2\n", &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg,
	                 "colonnade.yaml:3: num_tokens: expected a single value, got a list");
}

Test(config, unknown_key_warns_with_line_and_suggestion)
{
	struct cerr e = {0};
	cr_assert_eq(load("cluster_name: c\nnum_token: 4\nfrobnicate: yes\n", &e), 0);
	const char *w = config_warnings(&cfg);
	cr_expect(strstr(w, "colonnade.yaml:2: unknown key 'num_token' ignored (did you mean "
	                    "'num_tokens'?)\n"),
	          "%s", w);
	cr_expect(strstr(w, "colonnade.yaml:3: unknown key 'frobnicate' ignored\n"), "%s", w);
	cr_expect_eq(cfg.num_tokens, 16);
}

Test(config, duplicate_key_warns_and_later_wins)
{
	struct cerr e = {0};
	cr_assert_eq(load("num_tokens: 4\nnum_tokens: 8\n", &e), 0);
	cr_expect_eq(cfg.num_tokens, 8);
	cr_expect(strstr(config_warnings(&cfg), "colonnade.yaml:2: num_tokens is set again (first "
	                                        "at line 1)"),
	          "%s", config_warnings(&cfg));
}

Test(config, empty_value_keeps_default)
{
	struct cerr e = {0};
	cr_assert_eq(load("hints_directory:\nnum_tokens: ~\n", &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0);
	cr_expect_eq(cfg.num_tokens, 16);
	cr_expect_str_eq(cfg.hints_directory, "./data/hints");
}

Test(config, nul_byte_in_value_refused)
{
	struct cerr e = {0};
	cr_assert_eq(load("cluster_name: \"a\\0b\"\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "NUL"), "%s", e.msg);
}

Test(config, precedence_flag_over_env_over_file_over_default)
{
	struct cerr e = {0};
	cr_assert_eq(load("num_tokens: 4\ncluster_name: fromfile\ndc: filedc\n", &e), 0);
	const char *env[] = {"COLONNADE_NUM_TOKENS=8", "COLONNADE_DC=envdc", "PATH=/bin",
	                     "COLONNADE_BIN=/x/colonnade", NULL};
	cr_assert_eq(config_apply_env(&cfg, env, &e), 0, "%s", e.msg);
	cr_assert_eq(config_set(&cfg, "num_tokens", "32", "flag --num_tokens", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), 0);
	cr_expect_eq(cfg.num_tokens, 32);
	cr_expect_str_eq(cfg.dc, "envdc");
	cr_expect_str_eq(cfg.cluster_name, "fromfile");
	cr_expect_str_eq(config_warnings(&cfg), "", "COLONNADE_BIN belongs to tools");
}

static void collect(const char *line, void *ctx)
{
	strncat((char *)ctx, line, 8191 - strlen((char *)ctx));
	strncat((char *)ctx, "\n", 8191 - strlen((char *)ctx));
}

Test(config, describe_names_each_origin)
{
	struct cerr e = {0};
	cr_assert_eq(load("num_tokens: 4\n", &e), 0);
	const char *env[] = {"COLONNADE_SEEDS=127.0.4.1,127.0.4.2:7001", NULL};
	cr_assert_eq(config_apply_env(&cfg, env, &e), 0);
	cr_assert_eq(config_set(&cfg, "gossip_interval", "40ms", "flag --gossip_interval", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), 0);
	char out[8192] = "";
	config_describe(&cfg, collect, out);
	cr_expect(strstr(out, "num_tokens"), "%s", out);
	cr_expect(strstr(out, "(colonnade.yaml:1)"), "%s", out);
	cr_expect(strstr(out, "127.0.4.1,127.0.4.2:7001"), "%s", out);
	cr_expect(strstr(out, "(environment COLONNADE_SEEDS)"), "%s", out);
	cr_expect(strstr(out, "40ms"), "%s", out);
	cr_expect(strstr(out, "(flag --gossip_interval)"), "%s", out);
	cr_expect(strstr(out, "(derived)"), "rpc_address is derived: %s", out);
	cr_expect(strstr(out, "max_hint_window                              3h"), "%s", out);
}

Test(config, env_errors_name_the_variable)
{
	struct cerr e = {0};
	const char *env[] = {"COLONNADE_NUM_TOKENS=lots", NULL};
	cr_assert_eq(config_apply_env(&cfg, env, &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg, "environment COLONNADE_NUM_TOKENS: num_tokens: expected an integer "
	                        "between 1 and 1024, got 'lots'");
	const char *env2[] = {"COLONNADE_NUM_TOKEN=4", NULL};
	cr_assert_eq(config_apply_env(&cfg, env2, &e), 0);
	cr_expect(strstr(config_warnings(&cfg), "environment COLONNADE_NUM_TOKEN: unknown key "
	                                        "'num_token' ignored (did you mean 'num_tokens'?)"),
	          "%s", config_warnings(&cfg));
}

Test(config, env_aliases_and_lists)
{
	struct cerr e = {0};
	const char *env[] = {"COLONNADE_DATA_DIRECTORY=/tmp/d1", "COLONNADE_RACK=r9",
	                     "COLONNADE_LISTEN_ADDRESS=127.0.4.3", "COLONNADE_CLUSTER_NAME=envc",
	                     NULL};
	cr_assert_eq(config_apply_env(&cfg, env, &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.data_directory, "/tmp/d1");
	cr_expect_str_eq(cfg.rack, "r9");
	cr_expect_str_eq(cfg.listen_address, "127.0.4.3");
	cr_expect_str_eq(cfg.rpc_address, "127.0.4.3");
	cr_expect_str_eq(cfg.cluster_name, "envc");
}

Test(config, flag_unknown_key_is_an_error)
{
	struct cerr e = {0};
	cr_assert_eq(config_set(&cfg, "num_tokes", "4", "flag --num_tokes", &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg, "flag --num_tokes: unknown key 'num_tokes' (did you mean "
	                        "'num_tokens'?)");
	cr_assert_eq(config_set(&cfg, "seed_provider", "x", "flag --seed_provider", &e),
	             COL_ECONFIG);
	cr_expect(strstr(e.msg, "use 'seeds'"), "%s", e.msg);
}

Test(config, wildcard_rpc_needs_broadcast_rpc)
{
	struct cerr e = {0};
	cr_assert_eq(load("rpc_address: 0.0.0.0\n", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "colonnade.yaml:1: rpc_address is 0.0.0.0, so "
	                        "broadcast_rpc_address must be set"),
	          "%s", e.msg);
	cr_assert_eq(load("broadcast_rpc_address: 127.0.4.9\n", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.broadcast_rpc_address, "127.0.4.9");
}

Test(config, wildcard_listen_refused)
{
	struct cerr e = {0};
	cr_assert_eq(load("listen_address: 0.0.0.0\n", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "listen_address: cannot be the wildcard"), "%s", e.msg);
}

Test(config, colliding_ports_refused)
{
	struct cerr e = {0};
	cr_assert_eq(load("admin_port: 7000\n", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "storage_port and admin_port are both 7000"), "%s", e.msg);
}

Test(config, simple_snitch_overrides_dc_with_warning)
{
	struct cerr e = {0};
	cr_assert_eq(load("endpoint_snitch: SimpleSnitch\ndc: mine\n", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), 0);
	cr_expect_str_eq(cfg.dc, "datacenter1");
	cr_expect_str_eq(cfg.rack, "rack1");
	cr_expect(strstr(config_warnings(&cfg), "SimpleSnitch"), "%s", config_warnings(&cfg));
}

Test(config, several_data_dirs_warn)
{
	struct cerr e = {0};
	cr_assert_eq(load("data_file_directories: [/a, /b]\n", &e), 0);
	cr_assert_eq(config_finish(&cfg, &e), 0);
	cr_expect_str_eq(cfg.data_directory, "/a");
	cr_expect(strstr(config_warnings(&cfg), "uses one (/a)"), "%s", config_warnings(&cfg));
	cr_expect_eq(load("data_file_directories: {a: b}\n", &e), COL_ECONFIG);
	cr_expect_eq(load("data_file_directories: []\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "at least one directory"), "%s", e.msg);
}

Test(config, file_errors_name_the_path)
{
	char path[] = "/tmp/colonnade-config-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	const char *y = "cluster_name: c\nnum_tokens: -3\n";
	cr_assert_eq(write(fd, y, strlen(y)), (ssize_t)strlen(y));
	close(fd);
	struct cerr e = {0};
	cr_assert_eq(config_load_file(&cfg, path, &e), COL_ECONFIG);
	char want[256];
	snprintf(want, sizeof(want), "%s:2: num_tokens: expected an integer", path);
	cr_expect(strstr(e.msg, want), "%s", e.msg);
	unlink(path);
	cr_assert_eq(config_load_file(&cfg, "/nonexistent/colonnade.yaml", &e), COL_ECONFIG);
	cr_expect_str_eq(e.msg, "cannot open config file /nonexistent/colonnade.yaml: No such "
	                        "file or directory");
}

/* The sample config shipped in deploy/conf/ loads cleanly and says the defaults. */
Test(config, shipped_sample_is_valid)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s", __FILE__);
	char *cut = strstr(path, "tests/unit/");
	cr_assert_not_null(cut, "cannot locate the source tree from %s", __FILE__);
	snprintf(cut, sizeof(path) - (size_t)(cut - path), "deploy/conf/colonnade.yaml");
	struct cerr e = {0};
	cr_assert_eq(config_load_file(&cfg, path, &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(config_warnings(&cfg), "", "%s", config_warnings(&cfg));
	struct config d;
	cr_assert_eq(config_init(&d), 0);
	cr_assert_eq(config_finish(&d, &e), 0);
	cr_expect_str_eq(cfg.cluster_name, d.cluster_name);
	cr_expect_eq(cfg.num_tokens, d.num_tokens);
	cr_expect_eq(cfg.gossip_interval_ms, d.gossip_interval_ms);
	cr_expect_eq(cfg.max_hint_window_ms, d.max_hint_window_ms);
	cr_expect_eq(cfg.native_transport_max_frame_size, d.native_transport_max_frame_size);
	cr_expect_str_eq(cfg.data_directory, d.data_directory);
	cr_expect_eq(cfg.n_seeds, 1);
	config_release(&d);
}

Test(config, addresses_from_the_environment_the_container_way)
{
	/* The image sets listen_address auto; the others follow it unless set. */
	const char *env[] = {"COLONNADE_LISTEN_ADDRESS=auto",
	                     "COLONNADE_SEEDS=dc1-n1,dc2-n1:7001",
	                     "COLONNADE_DC=dc2",
	                     "COLONNADE_RACK=r3",
	                     "COLONNADE_CLUSTER_NAME=compose",
	                     NULL};
	struct cerr e = {0};
	cr_assert_eq(config_apply_env(&cfg, env, &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.listen_address, "auto");
	cr_expect_str_eq(cfg.rpc_address, "auto");
	cr_expect_str_eq(cfg.broadcast_address, "auto");
	cr_expect_str_eq(cfg.broadcast_rpc_address, "auto");
	cr_expect_str_eq(cfg.dc, "dc2");
	cr_expect_str_eq(cfg.rack, "r3");
	cr_expect_str_eq(cfg.cluster_name, "compose");
	cr_assert_eq(cfg.n_seeds, 2);
	cr_expect_str_eq(cfg.seeds[0].host, "dc1-n1");
	cr_expect_eq(cfg.seeds[0].port, 0);
	cr_expect_str_eq(cfg.seeds[1].host, "dc2-n1");
	cr_expect_eq(cfg.seeds[1].port, 7001);
}

Test(config, broadcast_address_behind_nat_is_kept_apart_from_listen)
{
	const char *env[] = {"COLONNADE_LISTEN_ADDRESS=auto",
	                     "COLONNADE_BROADCAST_ADDRESS=203.0.113.7",
	                     "COLONNADE_RPC_ADDRESS=0.0.0.0",
	                     "COLONNADE_BROADCAST_RPC_ADDRESS=203.0.113.7", NULL};
	struct cerr e = {0};
	cr_assert_eq(config_apply_env(&cfg, env, &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.listen_address, "auto");
	cr_expect_str_eq(cfg.broadcast_address, "203.0.113.7");
	cr_expect_str_eq(cfg.rpc_address, "0.0.0.0");
	cr_expect_str_eq(cfg.broadcast_rpc_address, "203.0.113.7");
}

/* admin_address: loopback follows listen_address, anything else defaults to 127.0.0.1. */
Test(config, admin_address_defaults_to_this_host_only)
{
	struct cerr e = {0};
	cr_assert_eq(load("listen_address: 127.0.0.7\n", &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.admin_address, "127.0.0.7");
	config_release(&cfg);
	cr_assert_eq(config_init(&cfg), 0);
	cr_assert_eq(load("listen_address: 10.1.2.3\n", &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.admin_address, "127.0.0.1");
	config_release(&cfg);
	cr_assert_eq(config_init(&cfg), 0);
	cr_assert_eq(load("listen_address: 10.1.2.3\nadmin_address: 10.1.2.3\n", &e), 0, "%s",
	             e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.admin_address, "10.1.2.3");
}

/* The token comes from the key or a file; it is never printed; it must fit a header. */
Test(config, admin_token_from_file_never_printed)
{
	struct cerr e = {0};
	char path[] = "/tmp/colonnade-token-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "s3cr3t-from-file \n", 18), 18);
	close(fd);
	char yaml[128];
	snprintf(yaml, sizeof(yaml), "admin_token_file: %s\n", path);
	cr_assert_eq(load(yaml, &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.admin_token, "s3cr3t-from-file");
	static char out[8192];
	out[0] = 0;
	config_describe(&cfg, collect, out);
	cr_expect(!strstr(out, "s3cr3t"), "the token is printed: %s", out);
	cr_expect(strstr(out, "(set, not shown)"), "%s", out);
	/* an empty file, a missing file, a token with a space: each refused, naming why */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	config_release(&cfg);
	cr_assert_eq(config_init(&cfg), 0);
	cr_assert_eq(load(yaml, &e), 0, "%s", e.msg);
	cr_expect_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "admin_token_file") && strstr(e.msg, "holds no secret"), "%s",
	          e.msg);
	unlink(path);
	config_release(&cfg);
	cr_assert_eq(config_init(&cfg), 0);
	cr_assert_eq(load(yaml, &e), 0, "%s", e.msg);
	cr_expect_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "cannot read") && strstr(e.msg, path), "%s", e.msg);
	config_release(&cfg);
	cr_assert_eq(config_init(&cfg), 0);
	cr_assert_eq(load("admin_token: \"two words\"\n", &e), 0, "%s", e.msg);
	cr_expect_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "visible ASCII"), "%s", e.msg);
}

/* The storage write path's knobs: RocksDB's names and defaults, the stall triggers' order. */
Test(config, storage_write_keys)
{
	struct cerr e = {0};
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_eq(cfg.rocksdb_write_buffer_size, 64LL << 20);
	cr_expect_eq(cfg.rocksdb_db_write_buffer_size, 128LL << 20);
	cr_expect_eq(cfg.rocksdb_block_cache_size, 128LL << 20);
	cr_expect_eq(cfg.max_coordinated_requests, 65536);
	cr_expect_eq(cfg.rocksdb_max_write_buffer_number, 2);
	cr_expect_eq(cfg.rocksdb_level0_file_num_compaction_trigger, 4);
	cr_expect_eq(cfg.rocksdb_level0_slowdown_writes_trigger, 20);
	cr_expect_eq(cfg.rocksdb_level0_stop_writes_trigger, 36);
	cr_expect_eq(cfg.storage_write_queue, 4096);
	cr_expect(cfg.storage_write_inline);
	cr_assert_eq(load("rocksdb_write_buffer_size: 64KiB\n"
	                  "rocksdb_db_write_buffer_size: 0B\n"
	                  "rocksdb_block_cache_size: 1GiB\n"
	                  "max_coordinated_requests: 4096\n"
	                  "rocksdb_max_write_buffer_number: 3\n"
	                  "rocksdb_level0_file_num_compaction_trigger: 2\n"
	                  "rocksdb_level0_slowdown_writes_trigger: 3\n"
	                  "rocksdb_level0_stop_writes_trigger: 4\n"
	                  "storage_write_queue: 256\n"
	                  "storage_write_inline: false\n",
	                  &e),
	             0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), 0, "%s", e.msg);
	cr_expect_eq(cfg.rocksdb_write_buffer_size, 64 << 10);
	cr_expect_eq(cfg.rocksdb_db_write_buffer_size, 0);
	cr_expect_eq(cfg.rocksdb_block_cache_size, 1LL << 30);
	cr_expect_eq(cfg.max_coordinated_requests, 4096);
	cr_expect_eq(cfg.rocksdb_max_write_buffer_number, 3);
	cr_expect_eq(cfg.rocksdb_level0_stop_writes_trigger, 4);
	cr_expect_eq(cfg.storage_write_queue, 256);
	cr_expect_not(cfg.storage_write_inline);
	cr_expect_eq(load("rocksdb_write_buffer_size: 1KiB\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "rocksdb_write_buffer_size"), "%s", e.msg);
	cr_expect_eq(load("rocksdb_block_cache_size: 64KiB\n", &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "rocksdb_block_cache_size"), "%s", e.msg);
	cr_expect_eq(load("max_coordinated_requests: 10\n", &e), COL_ECONFIG);
	cr_expect_eq(load("storage_write_queue: 0\n", &e), COL_ECONFIG);
	cr_assert_eq(load("rocksdb_level0_slowdown_writes_trigger: 40\n", &e), 0, "%s", e.msg);
	cr_assert_eq(config_finish(&cfg, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "rocksdb_level0_stop_writes_trigger (4) does not hold"), "%s",
	          e.msg);
}

/* client/server_encryption_options: cassandra.yaml's nested form, the environment and flags. */
Test(config, encryption_options_nested_env_and_flags)
{
	struct cerr e = {0};
	cr_assert_eq(load("client_encryption_options:\n"
	                  "  enabled: true\n"
	                  "  optional: true\n"
	                  "  certificate: /etc/c.pem\n"
	                  "  private_key: /etc/c.key\n"
	                  "  accepted_protocols: [TLSv1.2, TLSv1.3]\n"
	                  "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
	                  "  store_type: JKS\n"
	                  "server_encryption_options:\n"
	                  "  internode_encryption: dc\n"
	                  "  truststore: /etc/ca.pem\n",
	                  &e),
	             0, "%s", e.msg);
	cr_expect(cfg.client_tls.enabled);
	cr_expect(cfg.client_tls.optional);
	cr_expect_str_eq(cfg.client_tls.certificate, "/etc/c.pem");
	cr_expect_str_eq(cfg.client_tls.accepted_protocols, "TLSv1.2,TLSv1.3");
	cr_expect_str_eq(cfg.client_tls.cipher_suites, "TLS_AES_128_GCM_SHA256");
	cr_expect_str_eq(cfg.server_tls.internode_encryption, "dc");
	cr_expect(cfg.server_tls.require_client_auth, "internode TLS is mutual by default");
	cr_expect_not(cfg.client_tls.require_client_auth);
	/* an entry we do not know is a warning naming the section and the line */
	cr_expect(strstr(config_warnings(&cfg), "client_encryption_options.store_type"), "%s",
	          config_warnings(&cfg));
	cr_expect(strstr(config_warnings(&cfg), "colonnade.yaml:8"), "%s", config_warnings(&cfg));
	const char *env[] = {"COLONNADE_SERVER_ENCRYPTION_OPTIONS_INTERNODE_ENCRYPTION=all",
	                     "COLONNADE_CLIENT_ENCRYPTION_OPTIONS_KEYSTORE_PASSWORD=pw", NULL};
	cr_assert_eq(config_apply_env(&cfg, env, &e), 0, "%s", e.msg);
	cr_expect_str_eq(cfg.server_tls.internode_encryption, "all");
	cr_expect_str_eq(cfg.client_tls.keystore_password, "pw");
	cr_assert_eq(config_set(&cfg, "client_encryption_options.enabled", "false", "flag", &e), 0);
	cr_expect_not(cfg.client_tls.enabled);
	cr_expect_neq(config_set(&cfg, "client_encryption_options.nope", "1", "flag", &e), 0);
}
