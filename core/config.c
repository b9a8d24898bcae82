/*
 * config.c — colonnade.yaml (libyaml document API), env and flag layers.
 *
 * Every key is one row of `keys[]`: its name, the type that parses it, where
 * it lands in struct config, its bounds and its default as text.  Defaults go
 * through the same parser as the file, so the table is the single truth that
 * docs/CONFIG.md describes.  Legacy names (`*_in_ms`, `*_in_mb`) and short
 * aliases are rows whose `canon` points at the key they set.
 */
#include "core/config.h"
#include "core/config_int.h"

#include "core/buf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define OFF(f) offsetof(struct config, f)

/*
 * Bounds: ports are ports; num_tokens stops at 1024 because the ring and the
 * TOKENS gossip state grow with it and Cassandra's own ceiling for vnodes is
 * in that range; phi 5..16 is Cassandra's DatabaseDescriptor check; gossip
 * interval down to 10 ms for tests, up to a minute.
 */
static const struct keydef keys[] = {
        {"cluster_name", NULL, K_STR, OFF(cluster_name), 0, 0, 0, 0, "Test Cluster"},
        {"num_tokens", NULL, K_INT, OFF(num_tokens), 1, 1024, 0, 0, "16"},
        {"seeds", NULL, K_SEEDS, 0, 0, 0, 0, 0, "127.0.0.1"},
        {"seed_provider", "seeds", K_SEED_PROVIDER, 0, 0, 0, 0, 0, NULL},
        {"listen_address", NULL, K_STR, OFF(listen_address), 0, 0, 0, 0, "127.0.0.1"},
        {"rpc_address", NULL, K_STR, OFF(rpc_address), 0, 0, 0, 0, NULL},
        {"broadcast_address", NULL, K_STR, OFF(broadcast_address), 0, 0, 0, 0, NULL},
        {"broadcast_rpc_address", NULL, K_STR, OFF(broadcast_rpc_address), 0, 0, 0, 0, NULL},
        {"replace_address_first_boot", NULL, K_STR, OFF(replace_address_first_boot), 0, 0, 0, 0,
         ""},
        {"storage_port", NULL, K_INT, OFF(storage_port), 1, 65535, 0, 0, "7000"},
        {"native_transport_port", NULL, K_INT, OFF(native_transport_port), 1, 65535, 0, 0, "9042"},
        {"admin_port", NULL, K_INT, OFF(admin_port), 1, 65535, 0, 0, "7199"},
        {"admin_address", NULL, K_STR, OFF(admin_address), 0, 0, 0, 0, NULL},
        {"admin_token", NULL, K_SECRET, OFF(admin_token), 0, 0, 0, 0, NULL},
        {"admin_token_file", NULL, K_STR, OFF(admin_token_file), 0, 0, 0, 0, NULL},
        {"authenticator", NULL, K_STR, OFF(authenticator), 0, 0, 0, 0, "AllowAllAuthenticator"},
        {"auth_superuser", NULL, K_STR, OFF(auth_superuser), 0, 0, 0, 0, "cassandra"},
        {"auth_superuser_password", NULL, K_SECRET, OFF(auth_superuser_password), 0, 0, 0, 0, NULL},
        {"auth_superuser_password_file", NULL, K_STR, OFF(auth_superuser_password_file), 0, 0, 0, 0,
         NULL},
        {"credentials_validity", NULL, K_DURATION, OFF(credentials_validity_ms), 0, HOUR_MS, 0, 0,
         "2000ms"},
        {"authorizer", NULL, K_STR, OFF(authorizer), 0, 0, 0, 0, "AllowAllAuthorizer"},
        {"permissions_validity", NULL, K_DURATION, OFF(permissions_validity_ms), 0, HOUR_MS, 0, 0,
         "2000ms"},
        {"internode_authenticator_secret", NULL, K_SECRET, OFF(internode_secret), 0, 0, 0, 0, NULL},
        {"internode_authenticator_secret_file", NULL, K_STR, OFF(internode_secret_file), 0, 0, 0, 0,
         NULL},
        {"client_encryption_options.enabled", NULL, K_BOOL, OFF(client_tls.enabled), 0, 0, 0, 0,
         "false"},
        {"client_encryption_options.optional", NULL, K_BOOL, OFF(client_tls.optional), 0, 0, 0, 0,
         "false"},
        {"client_encryption_options.require_client_auth", NULL, K_BOOL,
         OFF(client_tls.require_client_auth), 0, 0, 0, 0, "false"},
        {"client_encryption_options.keystore", NULL, K_STR, OFF(client_tls.keystore), 0, 0, 0, 0,
         ""},
        {"client_encryption_options.certificate", NULL, K_STR, OFF(client_tls.certificate), 0, 0, 0,
         0, ""},
        {"client_encryption_options.private_key", NULL, K_STR, OFF(client_tls.private_key), 0, 0, 0,
         0, ""},
        {"client_encryption_options.truststore", NULL, K_STR, OFF(client_tls.truststore), 0, 0, 0,
         0, ""},
        {"client_encryption_options.keystore_password", NULL, K_SECRET,
         OFF(client_tls.keystore_password), 0, 0, 0, 0, ""},
        {"client_encryption_options.protocol", NULL, K_STR, OFF(client_tls.protocol), 0, 0, 0, 0,
         "TLS"},
        {"client_encryption_options.accepted_protocols", NULL, K_LIST,
         OFF(client_tls.accepted_protocols), 0, 0, 0, 0, ""},
        {"client_encryption_options.cipher_suites", NULL, K_LIST, OFF(client_tls.cipher_suites), 0,
         0, 0, 0, ""},
        {"server_encryption_options.internode_encryption", NULL, K_STR,
         OFF(server_tls.internode_encryption), 0, 0, 0, 0, "none"},
        {"server_encryption_options.optional", NULL, K_BOOL, OFF(server_tls.optional), 0, 0, 0, 0,
         "false"},
        {"server_encryption_options.require_client_auth", NULL, K_BOOL,
         OFF(server_tls.require_client_auth), 0, 0, 0, 0, "true"},
        {"server_encryption_options.keystore", NULL, K_STR, OFF(server_tls.keystore), 0, 0, 0, 0,
         ""},
        {"server_encryption_options.certificate", NULL, K_STR, OFF(server_tls.certificate), 0, 0, 0,
         0, ""},
        {"server_encryption_options.private_key", NULL, K_STR, OFF(server_tls.private_key), 0, 0, 0,
         0, ""},
        {"server_encryption_options.truststore", NULL, K_STR, OFF(server_tls.truststore), 0, 0, 0,
         0, ""},
        {"server_encryption_options.keystore_password", NULL, K_SECRET,
         OFF(server_tls.keystore_password), 0, 0, 0, 0, ""},
        {"server_encryption_options.protocol", NULL, K_STR, OFF(server_tls.protocol), 0, 0, 0, 0,
         "TLS"},
        {"server_encryption_options.accepted_protocols", NULL, K_LIST,
         OFF(server_tls.accepted_protocols), 0, 0, 0, 0, ""},
        {"server_encryption_options.cipher_suites", NULL, K_LIST, OFF(server_tls.cipher_suites), 0,
         0, 0, 0, ""},
        {"admin_encryption_options.enabled", NULL, K_BOOL, OFF(admin_tls.enabled), 0, 0, 0, 0,
         "false"},
        {"admin_encryption_options.certificate", NULL, K_STR, OFF(admin_tls.certificate), 0, 0, 0,
         0, ""},
        {"admin_encryption_options.private_key", NULL, K_STR, OFF(admin_tls.private_key), 0, 0, 0,
         0, ""},
        {"admin_encryption_options.truststore", NULL, K_STR, OFF(admin_tls.truststore), 0, 0, 0, 0,
         ""},
        {"data_file_directories", NULL, K_DIRS, 0, 0, 0, 0, 0, "./data"},
        {"data_directory", "data_file_directories", K_DIRS, 0, 0, 0, 0, 0, NULL},
        {"hints_directory", NULL, K_STR, OFF(hints_directory), 0, 0, 0, 0, NULL},
        {"commitlog_sync", NULL, K_COMMITLOG_SYNC, OFF(commitlog_sync), 0, 0, 0, 0, "periodic"},
        {"commitlog_sync_period", NULL, K_DURATION, OFF(commitlog_sync_period_ms), 1, HOUR_MS, 0, 0,
         "10000ms"},
        {"commitlog_sync_period_in_ms", "commitlog_sync_period", K_DURATION_MS,
         OFF(commitlog_sync_period_ms), 1, HOUR_MS, 0, 0, NULL},
        {"rocksdb_write_buffer_size", NULL, K_SIZE, OFF(rocksdb_write_buffer_size), 64 * 1024,
         4 * GIB, 0, 0, "64MiB"},
        {"rocksdb_db_write_buffer_size", NULL, K_SIZE, OFF(rocksdb_db_write_buffer_size), 0, TIB, 0,
         0, "128MiB"},
        {"rocksdb_block_cache_size", NULL, K_SIZE, OFF(rocksdb_block_cache_size), 1 << 20, TIB, 0,
         0, "128MiB"},
        {"rocksdb_max_write_buffer_number", NULL, K_INT, OFF(rocksdb_max_write_buffer_number), 2,
         64, 0, 0, "2"},
        {"rocksdb_level0_file_num_compaction_trigger", NULL, K_INT,
         OFF(rocksdb_level0_file_num_compaction_trigger), 1, 1000, 0, 0, "4"},
        {"rocksdb_level0_slowdown_writes_trigger", NULL, K_INT,
         OFF(rocksdb_level0_slowdown_writes_trigger), 1, 1000, 0, 0, "20"},
        {"rocksdb_level0_stop_writes_trigger", NULL, K_INT, OFF(rocksdb_level0_stop_writes_trigger),
         1, 1000, 0, 0, "36"},
        {"storage_write_queue", NULL, K_INT, OFF(storage_write_queue), 16, 1 << 20, 0, 0, "4096"},
        {"storage_write_queue_bytes", NULL, K_SIZE, OFF(storage_write_queue_bytes), MIB, TIB, 0, 0,
         "64MiB"},
        {"storage_write_inline", NULL, K_BOOL, OFF(storage_write_inline), 0, 0, 0, 0, "true"},
        {"storage_adaptive_background_priority", NULL, K_BOOL,
         OFF(storage_adaptive_background_priority), 0, 0, 0, 0, "true"},
        {"hinted_handoff_enabled", NULL, K_BOOL, OFF(hinted_handoff_enabled), 0, 0, 0, 0, "true"},
        {"max_hint_window", NULL, K_DURATION, OFF(max_hint_window_ms), 0, 30 * DAY_MS, 0, 0, "3h"},
        {"max_hint_window_in_ms", "max_hint_window", K_DURATION_MS, OFF(max_hint_window_ms), 0,
         30 * DAY_MS, 0, 0, NULL},
        {"hinted_handoff_disabled_datacenters", NULL, K_LIST,
         OFF(hinted_handoff_disabled_datacenters), 0, 0, 0, 0, ""},
        {"hinted_handoff_throttle", NULL, K_KIB, OFF(hinted_handoff_throttle_kib), 0,
         1024 * 1024 * 1024, 0, 0, "1024"},
        {"hinted_handoff_throttle_in_kb", "hinted_handoff_throttle", K_KIB,
         OFF(hinted_handoff_throttle_kib), 0, 1024 * 1024 * 1024, 0, 0, NULL},
        {"max_hints_delivery_threads", NULL, K_INT, OFF(max_hints_delivery_threads), 1, 64, 0, 0,
         "2"},
        {"hints_flush_period", NULL, K_DURATION, OFF(hints_flush_period_ms), 10, HOUR_MS, 0, 0,
         "10000ms"},
        {"hints_flush_period_in_ms", "hints_flush_period", K_DURATION_MS,
         OFF(hints_flush_period_ms), 10, HOUR_MS, 0, 0, NULL},
        {"repair_interval", NULL, K_DURATION, OFF(repair_interval_ms), 0, 365 * DAY_MS, 0, 0, "1d"},
        {"repair_request_timeout", NULL, K_DURATION, OFF(repair_request_timeout_ms), 100, HOUR_MS,
         0, 0, "30s"},
        {"repair_throttle", NULL, K_SIZE, OFF(repair_throttle_bytes), 0, TIB, 0, 0, "64MiB"},
        {"tombstone_gc", NULL, K_STR, OFF(tombstone_gc), 0, 0, 0, 0, "repair"},
        {"max_hints_size_per_host", NULL, K_SIZE, OFF(max_hints_size_per_host), 0, TIB, 0, 0, "0B"},
        {"phi_convict_threshold", NULL, K_DOUBLE, OFF(phi_convict_threshold), 0, 0, 5.0, 16.0, "8"},
        {"gossip_interval", NULL, K_DURATION, OFF(gossip_interval_ms), 10, 60000, 0, 0, "1000ms"},
        {"write_request_timeout", NULL, K_DURATION, OFF(write_request_timeout_ms), 1, HOUR_MS, 0, 0,
         "2000ms"},
        {"write_request_timeout_in_ms", "write_request_timeout", K_DURATION_MS,
         OFF(write_request_timeout_ms), 1, HOUR_MS, 0, 0, NULL},
        {"read_request_timeout", NULL, K_DURATION, OFF(read_request_timeout_ms), 1, HOUR_MS, 0, 0,
         "5000ms"},
        {"read_request_timeout_in_ms", "read_request_timeout", K_DURATION_MS,
         OFF(read_request_timeout_ms), 1, HOUR_MS, 0, 0, NULL},
        {"range_request_timeout", NULL, K_DURATION, OFF(range_request_timeout_ms), 1, HOUR_MS, 0, 0,
         "10000ms"},
        {"range_request_timeout_in_ms", "range_request_timeout", K_DURATION_MS,
         OFF(range_request_timeout_ms), 1, HOUR_MS, 0, 0, NULL},
        {"truncate_request_timeout", NULL, K_DURATION, OFF(truncate_request_timeout_ms), 1, HOUR_MS,
         0, 0, "60000ms"},
        {"truncate_request_timeout_in_ms", "truncate_request_timeout", K_DURATION_MS,
         OFF(truncate_request_timeout_ms), 1, HOUR_MS, 0, 0, NULL},
        {"schema_agreement_timeout", NULL, K_DURATION, OFF(schema_agreement_timeout_ms), 0, HOUR_MS,
         0, 0, "10000ms"},
        {"batchlog_test_delay", NULL, K_DURATION, OFF(batchlog_test_delay_ms), 0, HOUR_MS, 0, 0,
         "0ms"},
        {"endpoint_snitch", NULL, K_SNITCH, OFF(endpoint_snitch), 0, 0, 0, 0,
         "GossipingPropertyFileSnitch"},
        {"dc", NULL, K_STR, OFF(dc), 0, 0, 0, 0, "dc1"},
        {"rack", NULL, K_STR, OFF(rack), 0, 0, 0, 0, "rack1"},
        {"io_threads", NULL, K_INT, OFF(io_threads), 0, 64, 0, 0, "1"},
        {"io_coalescing_window_us", NULL, K_INT, OFF(io_coalescing_window_us), 0, 10000, 0, 0, "0"},
        {"log_level", NULL, K_LOG_LEVEL, OFF(log_level), 0, 0, 0, 0, "info"},
        {"native_transport_max_frame_size", NULL, K_SIZE, OFF(native_transport_max_frame_size),
         1024, 256 * MIB, 0, 0, "16MiB"},
        {"native_transport_max_frame_size_in_mb", "native_transport_max_frame_size", K_SIZE_MB,
         OFF(native_transport_max_frame_size), 1024, 256 * MIB, 0, 0, NULL},
        {"native_transport_max_concurrent_connections", NULL, K_INT,
         OFF(native_transport_max_concurrent_connections), 1, 1000000, 0, 0, "1024"},
        {"max_connections", "native_transport_max_concurrent_connections", K_INT,
         OFF(native_transport_max_concurrent_connections), 1, 1000000, 0, 0, NULL},
        {"native_transport_max_concurrent_requests", NULL, K_INT,
         OFF(native_transport_max_concurrent_requests), 16, 1000000, 0, 0, "1024"},
        {"max_coordinated_requests", NULL, K_INT, OFF(max_coordinated_requests), 64, 1000000, 0, 0,
         "65536"},
        {"max_coordinated_mutation_bytes", NULL, K_SIZE, OFF(max_coordinated_mutation_bytes), MIB,
         TIB, 0, 0, "64MiB"},
        {"native_transport_latency_target", NULL, K_DURATION,
         OFF(native_transport_latency_target_ms), 0, 60000, 0, 0, "4ms"},
        {"native_transport_max_queue_wait", NULL, K_DURATION,
         OFF(native_transport_max_queue_wait_ms), 0, 60000, 0, 0, "5ms"},
        {"native_transport_throw_on_overload", NULL, K_BOOL,
         OFF(native_transport_throw_on_overload), 0, 0, 0, 0, "false"},
        {"internode_send_queue_capacity", NULL, K_SIZE, OFF(internode_send_queue_capacity), MIB,
         4 * GIB, 0, 0, "32MiB"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
const struct keydef *const config_keys = keys;
const size_t config_nkeys = NKEYS;

/* COLONNADE_* variables that belong to tools and tests, not to the node. */
static const char *const env_ignored[] = {
        "COLONNADE_BIN",         "COLONNADE_TEST_NET",  "COLONNADE_SRC",       "COLONNADE_SANITIZE",
        "COLONNADE_CONFIG",      "COLONNADE_HOST",      "COLONNADE_KEEP",      "COLONNADE_BUILD",
        "COLONNADE_CLUSTER_DIR", "COLONNADE_LOCAL_NET", "COLONNADE_SKIP_DEPS", "COLONNADE_WAIT_S",
        "COLONNADE_CQL_HELPER",
};

struct config_priv {
	char *origin[NKEYS];  /* per canonical row: "default", "file:12", "flag --x" */
	struct buf warnings;  /* NUL-terminated text, one warning per line */
	int file_line[NKEYS]; /* line where the current file set the key (dup check) */
};

static size_t key_index(const struct keydef *k)
{
	return (size_t)(k - keys);
}

/* A section's key ("client_encryption_options.enabled") also answers to '_' for the dot
 * (COLONNADE_CLIENT_ENCRYPTION_OPTIONS_ENABLED). */
static bool key_name_eq(const char *key, const char *name)
{
	for (; *key && *name; key++, name++)
		if (*key != *name && !(*key == '.' && *name == '_'))
			return false;
	return *key == *name;
}

static const struct keydef *key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (key_name_eq(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* Is `name` a section (keys "name.x" exist), given as a YAML mapping? */
static bool key_is_section(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < NKEYS; i++)
		if (!strncmp(keys[i].name, name, n) && keys[i].name[n] == '.')
			return true;
	return false;
}

/* The row whose origin a row records: itself, or its canonical key. */
static const struct keydef *key_canon(const struct keydef *k)
{
	return k->canon ? key_find(k->canon) : k;
}

const char *config_origin_at(const struct config *c, size_t i)
{
	return c->priv->origin[i];
}

bool config_key_known(const char *key)
{
	return key_find(key) != NULL;
}

static void warn(struct config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct config *c, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	struct buf *w = &c->priv->warnings;
	if (w->len > 0)
		w->len--; /* drop the terminating NUL */
	buf_put_str(w, line);
	buf_put_u8(w, '\n');
	buf_put_u8(w, 0);
}

const char *config_warnings(const struct config *c)
{
	const struct buf *w = &c->priv->warnings;
	return w->len ? (const char *)w->data : "";
}

/* ---- value parsers (numbers with units: config_units.c) ---------------- */

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return COL_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return COL_OK;
		}
	}
	return COL_EINVAL;
}

static void trim_copy(char *dst, size_t cap, const char *src, size_t len)
{
	while (len > 0 && isspace((unsigned char)*src)) {
		src++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)src[len - 1]))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = 0;
}

static void seeds_clear(struct config *c)
{
	for (int i = 0; i < c->n_seeds; i++)
		free(c->seeds[i].host);
	c->n_seeds = 0;
}

/* "a, b:7000, [::1]:7001" -> seeds.  On error `why` says what is wrong. */
static int parse_seeds(struct config *c, const char *s, char *why, size_t whylen)
{
	struct config_seed tmp[CONFIG_MAX_SEEDS];
	int n = 0;
	const char *p = s;
	int rc = COL_OK;
	while (rc == COL_OK) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[256];
		if (len >= sizeof(item)) {
			snprintf(why, whylen, "a seed is longer than %zu characters",
			         sizeof(item) - 1);
			rc = COL_EINVAL;
			break;
		}
		trim_copy(item, sizeof(item), p, len);
		if (item[0]) {
			if (n == CONFIG_MAX_SEEDS) {
				snprintf(why, whylen, "more than %d seeds", CONFIG_MAX_SEEDS);
				rc = COL_EINVAL;
				break;
			}
			char *host = item;
			char *port = NULL;
			if (item[0] == '[') { /* [v6]:port */
				char *close = strchr(item, ']');
				if (!close || (close[1] && close[1] != ':')) {
					snprintf(why, whylen, "seed '%s': unbalanced '['", item);
					rc = COL_EINVAL;
					break;
				}
				*close = 0;
				host = item + 1;
				if (close[1] == ':')
					port = close + 2;
			} else {
				char *colon = strchr(item, ':');
				/* One colon: host:port.  More: a bare IPv6 address. */
				if (colon && !strchr(colon + 1, ':')) {
					*colon = 0;
					port = colon + 1;
				}
			}
			int64_t pv = 0;
			if (port && (config_parse_i64(port, &pv) || pv < 1 || pv > 65535)) {
				snprintf(why, whylen, "seed '%s': port must be 1..65535, got '%s'",
				         host, port);
				rc = COL_EINVAL;
				break;
			}
			if (!host[0]) {
				snprintf(why, whylen, "a seed has an empty host");
				rc = COL_EINVAL;
				break;
			}
			tmp[n].host = strdup(host);
			tmp[n].port = (uint16_t)pv;
			if (!tmp[n].host) {
				rc = COL_ENOMEM;
				break;
			}
			n++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (rc == COL_OK && n == 0) {
		snprintf(why, whylen, "expected at least one seed (\"host[:port], ...\")");
		rc = COL_EINVAL;
	}
	if (rc != COL_OK) {
		for (int i = 0; i < n; i++)
			free(tmp[i].host);
		return rc;
	}
	seeds_clear(c);
	memcpy(c->seeds, tmp, sizeof(tmp[0]) * (size_t)n);
	c->n_seeds = n;
	return COL_OK;
}

static void dirs_clear(struct config *c)
{
	for (int i = 0; i < c->n_data_dirs; i++)
		free(c->data_file_directories[i]);
	c->n_data_dirs = 0;
}

/* dirs given as an array of strings (YAML list, or split text). */
static int set_dirs(struct config *c, char **items, int n, char *why, size_t whylen)
{
	if (n == 0) {
		snprintf(why, whylen, "expected at least one directory");
		return COL_EINVAL;
	}
	if (n > CONFIG_MAX_DATA_DIRS) {
		snprintf(why, whylen, "more than %d directories", CONFIG_MAX_DATA_DIRS);
		return COL_EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (!items[i][0]) {
			snprintf(why, whylen, "a directory is an empty string");
			return COL_EINVAL;
		}
	}
	char *copy[CONFIG_MAX_DATA_DIRS];
	for (int i = 0; i < n; i++) {
		copy[i] = strdup(items[i]);
		if (!copy[i]) {
			while (i-- > 0)
				free(copy[i]);
			return COL_ENOMEM;
		}
	}
	dirs_clear(c);
	for (int i = 0; i < n; i++)
		c->data_file_directories[i] = copy[i];
	c->n_data_dirs = n;
	return COL_OK;
}

/* Comma-separated directories (env and flags). */
static int parse_dirs_text(struct config *c, const char *s, char *why, size_t whylen)
{
	char *items[CONFIG_MAX_DATA_DIRS + 1];
	char store[CONFIG_MAX_DATA_DIRS + 1][1024];
	int n = 0;
	const char *p = s;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len >= sizeof(store[0])) {
			snprintf(why, whylen, "a directory path is longer than %zu characters",
			         sizeof(store[0]) - 1);
			return COL_EINVAL;
		}
		if (n == CONFIG_MAX_DATA_DIRS + 1) {
			snprintf(why, whylen, "more than %d directories", CONFIG_MAX_DATA_DIRS);
			return COL_EINVAL;
		}
		trim_copy(store[n], sizeof(store[n]), p, len);
		items[n] = store[n];
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	return set_dirs(c, items, n, why, whylen);
}

static char **str_field(struct config *c, const struct keydef *k)
{
	return (char **)((char *)c + k->off);
}

/* "expected <what> between <lo><unit> and <hi><unit>" */
static void expect_range(char *buf, size_t len, const char *what, long long lo, long long hi,
                         const char *unit)
{
	snprintf(buf, len, "expected %s between %lld%s and %lld%s", what, lo, unit, hi, unit);
}

static const char *type_expectation(const struct keydef *k, char *buf, size_t len)
{
	switch (k->type) {
	case K_INT: expect_range(buf, len, "an integer", k->min, k->max, ""); break;
	case K_BOOL: snprintf(buf, len, "expected true or false"); break;
	case K_DOUBLE:
		snprintf(buf, len, "expected a number between %g and %g", k->dmin, k->dmax);
		break;
	case K_DURATION:
		expect_range(buf, len,
		             "a duration like '500ms', '10s', '3h' (units d, h, m, s, ms, us, ns)",
		             k->min, k->max, "ms");
		break;
	case K_DURATION_MS:
		expect_range(buf, len, "a number of milliseconds", k->min, k->max, "");
		break;
	case K_SIZE: {
		char lo[32], hi[32];
		config_format_size(lo, sizeof(lo), k->min);
		config_format_size(hi, sizeof(hi), k->max);
		snprintf(buf, len,
		         "expected a size like '16MiB' (units B, KiB, MiB, GiB, TiB) between %s "
		         "and %s",
		         lo, hi);
		break;
	}
	case K_SIZE_MB:
		expect_range(buf, len, "a number of MiB", (k->min + MIB - 1) / MIB, k->max / MIB,
		             "");
		break;
	case K_KIB:
		snprintf(
		        buf, len,
		        "expected a number of KiB or a size like '1MiB', between %lld and %lld KiB",
		        (long long)k->min, (long long)k->max);
		break;
	case K_COMMITLOG_SYNC: snprintf(buf, len, "expected 'periodic' or 'batch'"); break;
	case K_SNITCH:
		snprintf(buf, len, "expected 'GossipingPropertyFileSnitch' or 'SimpleSnitch'");
		break;
	case K_LOG_LEVEL:
		snprintf(buf, len, "expected one of error, warn, info, debug, trace");
		break;
	default: snprintf(buf, len, "invalid value"); break;
	}
	return buf;
}

/*
 * An integer, duration or size row's value from text, within [k->min, k->max]: 0,
 * COL_ETOOBIG (a number and unit too large for int64_t) or COL_EINVAL (anything else;
 * *below_ms set for a nonzero duration under 1 ms).
 */
static int parse_ranged(const struct keydef *k, const char *v, int64_t *out, bool *below_ms)
{
	int64_t x;
	*below_ms = false;
	int rc = k->type == K_DURATION ? config_parse_duration(v, &x, below_ms)
	         : k->type == K_SIZE   ? config_parse_size_bytes(v, &x)
	                               : config_parse_i64(v, &x);
	if (rc)
		return rc;
	if (x < k->min || x > k->max)
		return COL_EINVAL;
	*out = x;
	return 0;
}

/* Set row k from text.  On failure `why` holds the problem (without origin). */
static int set_text(struct config *c, const struct keydef *k, const char *v, char *why,
                    size_t whylen)
{
	char expect[256];
	int64_t i64;
	int prc = 0; /* COL_ETOOBIG: the value overflows before its bounds are checked */
	/* a nonzero duration under 1 ms, which would read as 0 */
	bool below_ms = false;
	switch (k->type) {
	case K_STR:
	case K_SECRET:
	case K_LIST: {
		char *dup = strdup(v);
		if (!dup)
			return COL_ENOMEM;
		char **f = str_field(c, k);
		free(*f);
		*f = dup;
		return COL_OK;
	}
	case K_INT:
		if (parse_ranged(k, v, &i64, &below_ms))
			break;
		*(int *)((char *)c + k->off) = (int)i64;
		return COL_OK;
	case K_BOOL: {
		bool b;
		if (parse_bool(v, &b))
			break;
		*(bool *)((char *)c + k->off) = b;
		return COL_OK;
	}
	case K_DOUBLE: {
		errno = 0;
		char *end;
		const char *s = config_skip_space(v);
		double d = strtod(s, &end);
		if (errno || end == s || *config_skip_space(end) || !isfinite(d) || d < k->dmin ||
		    d > k->dmax)
			break;
		*(double *)((char *)c + k->off) = d;
		return COL_OK;
	}
	case K_DURATION:
	case K_DURATION_MS:
	case K_SIZE:
		if ((prc = parse_ranged(k, v, &i64, &below_ms)) != 0)
			break;
		*(int64_t *)((char *)c + k->off) = i64;
		return COL_OK;
	case K_SIZE_MB:
		if (config_parse_i64(v, &i64) || i64 < 1 || i64 > k->max / MIB)
			break;
		*(int64_t *)((char *)c + k->off) = i64 * MIB;
		return COL_OK;
	case K_KIB:
		if (config_parse_i64(v, &i64) != 0) {
			if ((prc = config_parse_size_bytes(v, &i64)) != 0)
				break;
			i64 /= 1024;
		}
		if (i64 < k->min || i64 > k->max)
			break;
		*(int64_t *)((char *)c + k->off) = i64;
		return COL_OK;
	case K_COMMITLOG_SYNC:
		if (strcmp(v, "periodic") == 0)
			c->commitlog_sync = CONFIG_SYNC_PERIODIC;
		else if (strcmp(v, "batch") == 0)
			c->commitlog_sync = CONFIG_SYNC_BATCH;
		else if (strcmp(v, "group") == 0) {
			snprintf(
			        why, whylen,
			        "'group' (Cassandra 4.0's group commit) is not supported; expected "
			        "'periodic' or 'batch'");
			return COL_EINVAL;
		} else
			break;
		return COL_OK;
	case K_SNITCH: {
		/* Accept the class name with or without its Java package. */
		const char *dot = strrchr(v, '.');
		const char *name = dot ? dot + 1 : v;
		if (strcmp(name, "GossipingPropertyFileSnitch") == 0)
			c->endpoint_snitch = CONFIG_SNITCH_GOSSIPING_PROPERTY_FILE;
		else if (strcmp(name, "SimpleSnitch") == 0)
			c->endpoint_snitch = CONFIG_SNITCH_SIMPLE;
		else
			break;
		return COL_OK;
	}
	case K_LOG_LEVEL: {
		enum log_level l;
		if (log_level_parse(v, &l))
			break;
		c->log_level = l;
		return COL_OK;
	}
	case K_SEEDS: return parse_seeds(c, v, why, whylen);
	case K_DIRS: return parse_dirs_text(c, v, why, whylen);
	case K_SEED_PROVIDER:
		snprintf(why, whylen,
		         "seed_provider is a YAML structure; on the command line or in the "
		         "environment use 'seeds'");
		return COL_EINVAL;
	}
	if (below_ms) {
		snprintf(why, whylen,
		         "'%s' is below the 1 ms resolution of this key (it would read as 0); %s",
		         v, type_expectation(k, expect, sizeof(expect)));
		return COL_EINVAL;
	}
	snprintf(why, whylen, "%s, got '%s'%s", type_expectation(k, expect, sizeof(expect)), v,
	         prc == COL_ETOOBIG ? ", too large for a 64-bit count" : "");
	return COL_EINVAL;
}

static int set_origin(struct config *c, const struct keydef *k, const char *origin)
{
	size_t i = key_index(key_canon(k));
	char *o = strdup(origin);
	if (!o)
		return COL_ENOMEM;
	free(c->priv->origin[i]);
	c->priv->origin[i] = o;
	return COL_OK;
}

/* Set from text, with the origin used in errors and in config_describe. */
static int set_key(struct config *c, const struct keydef *k, const char *v, const char *origin,
                   struct cerr *err)
{
	char why[CERR_MSG_MAX];
	why[0] = 0;
	int rc = set_text(c, k, v, why, sizeof(why));
	if (rc == COL_ENOMEM)
		return cerr_set(err, COL_ENOMEM, "%s: %s: out of memory", origin, k->name);
	if (rc)
		return cerr_set(err, COL_ECONFIG, "%s: %s: %s", origin, k->name, why);
	rc = set_origin(c, k, origin);
	if (rc)
		return cerr_set(err, rc, "%s: %s: out of memory", origin, k->name);
	return COL_OK;
}

/* ---- lifecycle -------------------------------------------------------- */

int config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->priv = calloc(1, sizeof(*c->priv));
	if (!c->priv)
		return COL_ENOMEM;
	buf_init(&c->priv->warnings);
	for (size_t i = 0; i < NKEYS; i++) {
		if (!keys[i].defval)
			continue;
		struct cerr e = {0};
		int rc = set_key(c, &keys[i], keys[i].defval, "default", &e);
		if (rc) {
			/* Only an allocation can fail here: the defaults are pinned by tests. */
			config_release(c);
			return rc;
		}
	}
	return COL_OK;
}

void config_release(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		if ((keys[i].type == K_STR || keys[i].type == K_SECRET || keys[i].type == K_LIST) &&
		    !keys[i].canon) {
			char **f = str_field(c, &keys[i]);
			free(*f);
			*f = NULL;
		}
	}
	seeds_clear(c);
	dirs_clear(c);
	free(c->data_directory);
	c->data_directory = NULL;
	if (c->priv) {
		for (size_t i = 0; i < NKEYS; i++)
			free(c->priv->origin[i]);
		buf_release(&c->priv->warnings);
		free(c->priv);
		c->priv = NULL;
	}
}

/* ---- YAML -------------------------------------------------------------- */

static int levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	int prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

static const char *suggest(const char *name)
{
	const char *best = NULL;
	int bestd = 3; /* a suggestion further than 2 edits away is noise */
	for (size_t i = 0; i < NKEYS; i++) {
		int d = levenshtein(name, keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = keys[i].name;
		}
	}
	return best;
}

static void warn_unknown(struct config *c, const char *where, const char *name)
{
	const char *s = suggest(name);
	if (s)
		warn(c, "%s: unknown key '%s' ignored (did you mean '%s'?)", where, name, s);
	else
		warn(c, "%s: unknown key '%s' ignored", where, name);
}

struct yctx {
	struct config *c;
	yaml_document_t *doc;
	const char *name;
	struct cerr *err;
};

static int node_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static bool scalar_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static int scalar_text(struct yctx *y, const yaml_node_t *n, const char *key, const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return cerr_set(y->err, COL_ECONFIG, "%s:%d: %s: expected a single value, got a %s",
		                y->name, node_line(n), key,
		                n->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return cerr_set(y->err, COL_ECONFIG, "%s:%d: %s: value contains a NUL byte",
		                y->name, node_line(n), key);
	*out = (const char *)n->data.scalar.value;
	return COL_OK;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/*
 * seed_provider:
 *   - class_name: org.apache.cassandra.locator.SimpleSeedProvider
 *     parameters:
 *       - seeds: "127.0.0.1:7000,127.0.0.2"
 */
static int load_seed_provider(struct yctx *y, const struct keydef *k, yaml_node_t *v)
{
	const char *shape = "expected a list holding {class_name: ..., parameters: [{seeds: "
	                    "\"a,b\"}]}";
	if (v->type != YAML_SEQUENCE_NODE)
		return cerr_set(y->err, COL_ECONFIG, "%s:%d: seed_provider: %s", y->name,
		                node_line(v), shape);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *prov = yaml_document_get_node(y->doc, *it);
		if (!prov || prov->type != YAML_MAPPING_NODE)
			return cerr_set(y->err, COL_ECONFIG, "%s:%d: seed_provider: %s", y->name,
			                node_line(prov ? prov : v), shape);
		yaml_node_t *cls = map_get(y->doc, prov, "class_name");
		if (cls && cls->type == YAML_SCALAR_NODE) {
			const char *cn = (const char *)cls->data.scalar.value;
			const char *dot = strrchr(cn, '.');
			if (strcmp(dot ? dot + 1 : cn, "SimpleSeedProvider") != 0)
				warn(y->c,
				     "%s:%d: seed_provider: class '%s' is not supported; reading "
				     "its "
				     "'seeds' parameter as SimpleSeedProvider does",
				     y->name, node_line(cls), cn);
		}
		yaml_node_t *params = map_get(y->doc, prov, "parameters");
		if (!params || params->type != YAML_SEQUENCE_NODE)
			return cerr_set(
			        y->err, COL_ECONFIG,
			        "%s:%d: seed_provider: 'parameters' missing or not a list; %s",
			        y->name, node_line(params ? params : prov), shape);
		for (yaml_node_item_t *pi = params->data.sequence.items.start;
		     pi < params->data.sequence.items.top; pi++) {
			yaml_node_t *pm = yaml_document_get_node(y->doc, *pi);
			if (!pm || pm->type != YAML_MAPPING_NODE)
				continue;
			yaml_node_t *seeds = map_get(y->doc, pm, "seeds");
			if (!seeds)
				continue;
			const char *text = NULL;
			int rc = scalar_text(y, seeds, "seed_provider.seeds", &text);
			if (rc)
				return rc;
			char origin[600];
			snprintf(origin, sizeof(origin), "%s:%d", y->name, node_line(seeds));
			char why[CERR_MSG_MAX];
			int rc2 = parse_seeds(y->c, text, why, sizeof(why));
			if (rc2 == COL_ENOMEM)
				return cerr_set(y->err, COL_ENOMEM,
				                "%s: seed_provider: out of memory", origin);
			if (rc2)
				return cerr_set(y->err, COL_ECONFIG, "%s: seed_provider: seeds: %s",
				                origin, why);
			return set_origin(y->c, k, origin);
		}
	}
	return cerr_set(y->err, COL_ECONFIG, "%s:%d: seed_provider: no 'seeds' parameter found; %s",
	                y->name, node_line(v), shape);
}

static int load_dirs(struct yctx *y, const struct keydef *k, yaml_node_t *v)
{
	char origin[600];
	snprintf(origin, sizeof(origin), "%s:%d", y->name, node_line(v));
	if (v->type == YAML_SCALAR_NODE) {
		const char *text = NULL;
		int rc = scalar_text(y, v, k->name, &text);
		if (rc)
			return rc;
		char *one = (char *)text;
		char why[CERR_MSG_MAX];
		rc = set_dirs(y->c, &one, 1, why, sizeof(why));
		if (rc)
			return cerr_set(y->err, COL_ECONFIG, "%s: %s: %s", origin, k->name, why);
		return set_origin(y->c, k, origin);
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return cerr_set(y->err, COL_ECONFIG, "%s: %s: expected a list of directories",
		                origin, k->name);
	char *items[CONFIG_MAX_DATA_DIRS + 1];
	int n = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *d = yaml_document_get_node(y->doc, *it);
		const char *text = NULL;
		int rc = scalar_text(y, d, k->name, &text);
		if (rc)
			return rc;
		if (n == CONFIG_MAX_DATA_DIRS + 1)
			break;
		items[n++] = (char *)text;
	}
	char why[CERR_MSG_MAX];
	int rc = set_dirs(y->c, items, n, why, sizeof(why));
	if (rc)
		return cerr_set(y->err, COL_ECONFIG, "%s: %s: %s", origin, k->name, why);
	return set_origin(y->c, k, origin);
}

/* hinted_handoff_disabled_datacenters:\n  - dc1\n  - dc2   ->  "dc1,dc2" */
static int load_list(struct yctx *y, const struct keydef *k, yaml_node_t *v)
{
	struct buf b;
	buf_init(&b);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *d = yaml_document_get_node(y->doc, *it);
		const char *text = NULL;
		int rc = scalar_text(y, d, k->name, &text);
		if (rc) {
			buf_release(&b);
			return rc;
		}
		if (strchr(text, ',')) {
			buf_release(&b);
			return cerr_set(y->err, COL_ECONFIG, "%s:%d: %s: '%s' holds a comma",
			                y->name, node_line(d), k->name, text);
		}
		if (b.len)
			buf_put_u8(&b, ',');
		buf_put_str(&b, text);
	}
	buf_put_u8(&b, 0);
	if (!buf_ok(&b)) {
		buf_release(&b);
		return cerr_set(y->err, COL_ENOMEM, "%s: out of memory", k->name);
	}
	char origin[600];
	snprintf(origin, sizeof(origin), "%s:%d", y->name, node_line(v));
	int rc = set_key(y->c, k, (const char *)b.data, origin, y->err);
	buf_release(&b);
	return rc;
}

static int load_value(struct yctx *y, const struct keydef *k, const char *name, yaml_node_t *vn)
{
	if (k->type == K_SEED_PROVIDER)
		return load_seed_provider(y, k, vn);
	if (k->type == K_DIRS)
		return load_dirs(y, k, vn);
	if (k->type == K_LIST && vn->type == YAML_SEQUENCE_NODE)
		return load_list(y, k, vn);
	const char *text = NULL;
	int rc = scalar_text(y, vn, name, &text);
	if (rc == COL_OK) {
		char origin[600];
		snprintf(origin, sizeof(origin), "%s:%d", y->name, node_line(vn));
		rc = set_key(y->c, k, text, origin, y->err);
	}
	return rc;
}

/* client_encryption_options: {enabled: true, ...}: each entry is the key "section.entry". */
static int load_section(struct yctx *y, const char *section, yaml_node_t *map)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(y->doc, p->value);
		if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
			continue;
		char name[160], where[600];
		snprintf(name, sizeof(name), "%s.%s", section, (const char *)kn->data.scalar.value);
		snprintf(where, sizeof(where), "%s:%d", y->name, node_line(kn));
		const struct keydef *k = key_find(name);
		if (!k) {
			warn_unknown(y->c, where, name);
			continue;
		}
		if (scalar_is_null(vn))
			continue;
		int rc = load_value(y, k, name, vn);
		if (rc)
			return rc;
	}
	return COL_OK;
}

static int load_document(struct yctx *y)
{
	yaml_node_t *root = yaml_document_get_root_node(y->doc);
	if (!root)
		return COL_OK; /* empty file: all defaults */
	if (root->type != YAML_MAPPING_NODE)
		return cerr_set(y->err, COL_ECONFIG,
		                "%s:%d: expected a mapping of 'key: value' lines at the top level",
		                y->name, node_line(root));
	for (size_t i = 0; i < NKEYS; i++)
		y->c->priv->file_line[i] = 0;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(y->doc, p->value);
		if (!kn || !vn)
			continue;
		if (kn->type != YAML_SCALAR_NODE)
			return cerr_set(y->err, COL_ECONFIG, "%s:%d: a key must be a plain name",
			                y->name, node_line(kn));
		const char *name = (const char *)kn->data.scalar.value;
		int line = node_line(kn);
		char where[600];
		snprintf(where, sizeof(where), "%s:%d", y->name, line);
		if (vn->type == YAML_MAPPING_NODE && key_is_section(name)) {
			int rc = load_section(y, name, vn);
			if (rc)
				return rc == COL_ENOMEM ? rc : COL_ECONFIG;
			continue;
		}
		const struct keydef *k = key_find(name);
		if (!k) {
			warn_unknown(y->c, where, name);
			continue;
		}
		size_t ci = key_index(key_canon(k));
		if (y->c->priv->file_line[ci])
			warn(y->c, "%s: %s is set again (first at line %d); the later value wins",
			     where, name, y->c->priv->file_line[ci]);
		y->c->priv->file_line[ci] = line;
		if (scalar_is_null(vn))
			continue; /* "key:" with no value keeps the default, as in cassandra.yaml */
		int rc = load_value(y, k, name, vn);
		if (rc)
			return rc == COL_ENOMEM ? rc : COL_ECONFIG;
	}
	return COL_OK;
}

int config_load_string(struct config *c, const char *name, const char *text, size_t len,
                       struct cerr *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return cerr_set(err, COL_ENOMEM, "%s: cannot initialise the YAML parser", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		int line = (int)parser.problem_mark.line + 1;
		int col = (int)parser.problem_mark.column + 1;
		int rc;
		/* The context mark says where the broken construct began (an opening
		 * quote), which is the line a person has to fix. */
		if (parser.context)
			rc = cerr_set(err, COL_ECONFIG,
			              "%s:%d: malformed YAML: %s %s (at line %d, column %d)", name,
			              (int)parser.context_mark.line + 1, parser.context,
			              parser.problem ? parser.problem : "error", line, col);
		else
			rc = cerr_set(err, COL_ECONFIG, "%s:%d:%d: malformed YAML: %s", name, line,
			              col, parser.problem ? parser.problem : "error");
		yaml_parser_delete(&parser);
		return rc;
	}
	struct yctx y = {.c = c, .doc = &doc, .name = name, .err = err};
	int rc = load_document(&y);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/* A config file is small; anything past this bound is not a config file. */
#define CONFIG_FILE_MAX (4 * 1024 * 1024)

int config_load_file(struct config *c, const char *path, struct cerr *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return cerr_set(err, COL_ECONFIG, "cannot open config file %s: %s", path,
		                strerror(errno));
	struct buf b;
	buf_init(&b);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_put(&b, chunk, n);
		if (b.len > CONFIG_FILE_MAX) {
			fclose(f);
			buf_release(&b);
			return cerr_set(err, COL_ECONFIG, "config file %s is larger than %d bytes",
			                path, CONFIG_FILE_MAX);
		}
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr || !buf_ok(&b)) {
		buf_release(&b);
		return cerr_set(err, COL_ECONFIG, "cannot read config file %s", path);
	}
	int rc = config_load_string(c, path, b.data ? (const char *)b.data : "", b.len, err);
	buf_release(&b);
	return rc;
}

/* ---- env and flags ---------------------------------------------------- */

int config_apply_env(struct config *c, const char *const *envp, struct cerr *err)
{
	if (!envp)
		return COL_OK;
	static const char prefix[] = "COLONNADE_";
	for (const char *const *e = envp; *e; e++) {
		if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t nlen = (size_t)(eq - *e);
		char var[128];
		if (nlen >= sizeof(var))
			continue;
		memcpy(var, *e, nlen);
		var[nlen] = 0;
		bool ignored = false;
		for (size_t i = 0; i < sizeof(env_ignored) / sizeof(env_ignored[0]); i++)
			ignored |= strcmp(var, env_ignored[i]) == 0;
		if (ignored)
			continue;
		char key[128];
		size_t klen = nlen - (sizeof(prefix) - 1);
		for (size_t i = 0; i < klen; i++)
			key[i] = (char)tolower((unsigned char)var[sizeof(prefix) - 1 + i]);
		key[klen] = 0;
		char origin[160];
		snprintf(origin, sizeof(origin), "environment %s", var);
		const struct keydef *k = key_find(key);
		if (!k) {
			warn_unknown(c, origin, key);
			continue;
		}
		int rc = set_key(c, k, eq + 1, origin, err);
		if (rc)
			return rc;
	}
	return COL_OK;
}

int config_set(struct config *c, const char *key, const char *value, const char *origin,
               struct cerr *err)
{
	const struct keydef *k = key_find(key);
	if (!k) {
		const char *s = suggest(key);
		if (s)
			return cerr_set(err, COL_ECONFIG,
			                "%s: unknown key '%s' (did you mean '%s'?)", origin, key,
			                s);
		return cerr_set(err, COL_ECONFIG, "%s: unknown key '%s'", origin, key);
	}
	return set_key(c, k, value, origin, err);
}

/* ---- derived values and cross-checks ------------------------------------ */

static bool is_wildcard(const char *a)
{
	return !strcmp(a, "0.0.0.0") || !strcmp(a, "::");
}

static const char *origin_of(const struct config *c, const char *key);

/* 127.0.0.0/8, ::1, localhost: reachable only from this host. */
static bool is_loopback_name(const char *a)
{
	return !strncmp(a, "127.", 4) || !strcmp(a, "::1") || !strcmp(a, "localhost");
}

/*
 * A secret named by a file (`file_key`): its first line, trailing blanks
 * trimmed, replaces *secret unless the secret itself was given.  The file
 * may hold at most 4 KiB; an empty one is an error (a secret nobody meant).
 */
static int load_secret_file(struct config *c, char **secret, const char *file_key, const char *path,
                            struct cerr *err)
{
	if (!path || !*path || (*secret && **secret))
		return COL_OK;
	FILE *f = fopen(path, "re");
	if (!f)
		return cerr_set(err, COL_ECONFIG, "%s: %s: cannot read %s: %s",
		                origin_of(c, file_key), file_key, path, strerror(errno));
	char line[4097];
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	bool more = n == sizeof(line) - 1 && fgetc(f) != EOF;
	fclose(f);
	if (more)
		return cerr_set(err, COL_ECONFIG, "%s: %s: %s is larger than 4 KiB",
		                origin_of(c, file_key), file_key, path);
	line[n] = 0;
	line[strcspn(line, "\r\n")] = 0;
	n = strlen(line);
	while (n && isspace((unsigned char)line[n - 1]))
		line[--n] = 0;
	if (!n)
		return cerr_set(err, COL_ECONFIG, "%s: %s: %s holds no secret (first line empty)",
		                origin_of(c, file_key), file_key, path);
	char *d = strdup(line);
	explicit_bzero(line, sizeof(line));
	if (!d)
		return cerr_set(err, COL_ENOMEM, "config: out of memory");
	free(*secret);
	*secret = d;
	return COL_OK;
}

/* Secrets from their files, the authenticator's name, secrets' own rules. */
static int finish_security(struct config *c, struct cerr *err)
{
	int src =
	        load_secret_file(c, &c->admin_token, "admin_token_file", c->admin_token_file, err);
	if (!src)
		src = load_secret_file(c, &c->internode_secret,
		                       "internode_authenticator_secret_file",
		                       c->internode_secret_file, err);
	if (!src)
		src = load_secret_file(c, &c->auth_superuser_password,
		                       "auth_superuser_password_file",
		                       c->auth_superuser_password_file, err);
	if (src)
		return src;
	const char *au = c->authenticator ? c->authenticator : "";
	if (!strncmp(au, "org.apache.cassandra.auth.", 26))
		au += 26;
	if (strcmp(au, "AllowAllAuthenticator") && strcmp(au, "PasswordAuthenticator"))
		return cerr_set(err, COL_ECONFIG,
		                "%s: authenticator: '%s' is not AllowAllAuthenticator or "
		                "PasswordAuthenticator",
		                origin_of(c, "authenticator"), c->authenticator);
	c->password_auth = !strcmp(au, "PasswordAuthenticator");
	const char *az = c->authorizer ? c->authorizer : "";
	if (!strncmp(az, "org.apache.cassandra.auth.", 26))
		az += 26;
	if (strcmp(az, "AllowAllAuthorizer") && strcmp(az, "CassandraAuthorizer"))
		return cerr_set(
		        err, COL_ECONFIG,
		        "%s: authorizer: '%s' is not AllowAllAuthorizer or CassandraAuthorizer",
		        origin_of(c, "authorizer"), c->authorizer);
	c->cassandra_authz = !strcmp(az, "CassandraAuthorizer");
	if (c->cassandra_authz && !c->password_auth)
		return cerr_set(err, COL_ECONFIG,
		                "%s: authorizer: CassandraAuthorizer needs authenticator: "
		                "PasswordAuthenticator (without logins there is no role to check)",
		                origin_of(c, "authorizer"));
	if (c->internode_secret && *c->internode_secret && strlen(c->internode_secret) < 16)
		return cerr_set(
		        err, COL_ECONFIG,
		        "%s: internode_authenticator_secret: %zu characters; at least 16 are "
		        "needed (e.g. `openssl rand -base64 32`)",
		        origin_of(c, c->internode_secret_file && *c->internode_secret_file
		                             ? "internode_authenticator_secret_file"
		                             : "internode_authenticator_secret"),
		        strlen(c->internode_secret));
	for (const char *p = c->admin_token ? c->admin_token : ""; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return cerr_set(
			        err, COL_ECONFIG,
			        "%s: admin_token: only visible ASCII characters (it travels in "
			        "an HTTP header)",
			        origin_of(c, c->admin_token_file && *c->admin_token_file
			                             ? "admin_token_file"
			                             : "admin_token"));
	return COL_OK;
}

static int derive(char **field, const char *from)
{
	if (*field && **field)
		return COL_OK;
	char *d = strdup(from);
	if (!d)
		return COL_ENOMEM;
	free(*field);
	*field = d;
	return COL_OK;
}

static const char *origin_of(const struct config *c, const char *key)
{
	const char *o = c->priv->origin[key_index(key_find(key))];
	return o ? o : "default";
}

int config_finish(struct config *c, struct cerr *err)
{
	if (!c->listen_address || !c->listen_address[0])
		return cerr_set(err, COL_ECONFIG, "%s: listen_address: must not be empty",
		                origin_of(c, "listen_address"));
	if (is_wildcard(c->listen_address))
		return cerr_set(
		        err, COL_ECONFIG,
		        "%s: listen_address: cannot be the wildcard address %s; peers need an "
		        "address they can reach",
		        origin_of(c, "listen_address"), c->listen_address);
	if (!c->cluster_name || !c->cluster_name[0])
		return cerr_set(err, COL_ECONFIG, "%s: cluster_name: must not be empty",
		                origin_of(c, "cluster_name"));
	if (derive(&c->rpc_address, c->listen_address) ||
	    derive(&c->broadcast_address, c->listen_address))
		return cerr_set(err, COL_ENOMEM, "config: out of memory");
	if (is_wildcard(c->broadcast_address))
		return cerr_set(err, COL_ECONFIG,
		                "%s: broadcast_address: cannot be the wildcard address %s",
		                origin_of(c, "broadcast_address"), c->broadcast_address);
	if (is_wildcard(c->rpc_address) &&
	    (!c->broadcast_rpc_address || !c->broadcast_rpc_address[0]))
		return cerr_set(
		        err, COL_ECONFIG,
		        "%s: rpc_address is %s, so broadcast_rpc_address must be set to the "
		        "address clients should use",
		        origin_of(c, "rpc_address"), c->rpc_address);
	if (derive(&c->broadcast_rpc_address, c->rpc_address))
		return cerr_set(err, COL_ENOMEM, "config: out of memory");
	if (is_wildcard(c->broadcast_rpc_address))
		return cerr_set(err, COL_ECONFIG,
		                "%s: broadcast_rpc_address: cannot be the wildcard address %s",
		                origin_of(c, "broadcast_rpc_address"), c->broadcast_rpc_address);
	if (derive(&c->admin_address,
	           is_loopback_name(c->listen_address) ? c->listen_address : "127.0.0.1"))
		return cerr_set(err, COL_ENOMEM, "config: out of memory");
	int src = finish_security(c, err);
	if (src)
		return src;
	if (c->storage_port == c->admin_port && !strcmp(c->admin_address, c->listen_address))
		return cerr_set(
		        err, COL_ECONFIG,
		        "storage_port and admin_port are both %d; they bind the same address",
		        c->storage_port);
	if (!strcmp(c->rpc_address, c->listen_address) &&
	    (c->native_transport_port == c->storage_port ||
	     c->native_transport_port == c->admin_port))
		return cerr_set(
		        err, COL_ECONFIG,
		        "native_transport_port %d collides with storage_port or admin_port on "
		        "%s",
		        c->native_transport_port, c->rpc_address);
	if (c->rocksdb_level0_file_num_compaction_trigger >
	            c->rocksdb_level0_slowdown_writes_trigger ||
	    c->rocksdb_level0_slowdown_writes_trigger > c->rocksdb_level0_stop_writes_trigger)
		return cerr_set(err, COL_ECONFIG,
		                "rocksdb_level0_file_num_compaction_trigger (%d) <= "
		                "rocksdb_level0_slowdown_writes_trigger (%d) <= "
		                "rocksdb_level0_stop_writes_trigger (%d) does not hold",
		                c->rocksdb_level0_file_num_compaction_trigger,
		                c->rocksdb_level0_slowdown_writes_trigger,
		                c->rocksdb_level0_stop_writes_trigger);
	if (c->n_data_dirs < 1)
		return cerr_set(err, COL_ECONFIG, "data_file_directories: no directory given");
	if (c->n_data_dirs > 1)
		warn(c,
		     "%s: data_file_directories lists %d directories; Colonnade uses one (%s) and "
		     "ignores the others",
		     origin_of(c, "data_file_directories"), c->n_data_dirs,
		     c->data_file_directories[0]);
	free(c->data_directory);
	c->data_directory = strdup(c->data_file_directories[0]);
	if (!c->data_directory)
		return cerr_set(err, COL_ENOMEM, "config: out of memory");
	if (!c->hints_directory || !c->hints_directory[0]) {
		char *h;
		if (asprintf(&h, "%s/hints", c->data_directory) < 0)
			return cerr_set(err, COL_ENOMEM, "config: out of memory");
		free(c->hints_directory);
		c->hints_directory = h;
	}
	if (c->endpoint_snitch == CONFIG_SNITCH_SIMPLE) {
		if (strcmp(origin_of(c, "dc"), "default") ||
		    strcmp(origin_of(c, "rack"), "default"))
			warn(c, "endpoint_snitch is SimpleSnitch, which puts every node in "
			        "datacenter1/rack1; the dc and rack keys are ignored");
		free(c->dc);
		free(c->rack);
		c->dc = strdup("datacenter1");
		c->rack = strdup("rack1");
		if (!c->dc || !c->rack)
			return cerr_set(err, COL_ENOMEM, "config: out of memory");
	}
	if (!c->dc || !c->dc[0])
		return cerr_set(err, COL_ECONFIG, "%s: dc: must not be empty", origin_of(c, "dc"));
	if (!c->rack || !c->rack[0])
		return cerr_set(err, COL_ECONFIG, "%s: rack: must not be empty",
		                origin_of(c, "rack"));
	return COL_OK;
}
