/*
 * config.h — the node's configuration: colonnade.yaml, environment, flags.
 *
 * One `struct config` holds every setting a node reads at start-up.  It is a
 * plain value struct (fields are read directly by every module; nothing
 * changes it after config_finish()), filled in four layers, each overriding
 * the one before:
 *
 *   default  <  colonnade.yaml  <  env COLONNADE_<KEY>  <  flag --<key>=value
 *
 * Key names are cassandra.yaml's where Cassandra has one (cluster_name,
 * num_tokens, listen_address, native_transport_port, data_file_directories,
 * write_request_timeout, ...).  Durations take Cassandra 4.1's units ("10s",
 * "500ms", "3h", "2d", "100us"); the legacy `*_in_ms` keys take plain numbers
 * of milliseconds.  Sizes take "16MiB"/"512KiB"/"1GiB"/"100B" ("*_in_mb":
 * plain MiB).  Seeds come either from Cassandra's
 *   seed_provider: [{class_name: ..., parameters: [{seeds: "a,b:7000"}]}]
 * or from a plain `seeds: "a,b"`.  The full table is docs/CONFIG.md.
 *
 * Errors name where the bad value came from and what was expected:
 *   colonnade.yaml:12: num_tokens: expected an integer between 1 and 1024, got 'many'
 *   environment COLONNADE_NUM_TOKENS: num_tokens: expected an integer ...
 *   flag --num_tokens: expected an integer ...
 * A key we do not know is a warning (Cassandra refuses it; a typo in a
 * container's env should not keep a node down, but it is logged with its line),
 * collected in config_warnings() for the caller to log.
 *
 * Ownership: strings in the struct are owned by it (config_release frees them).
 */
#ifndef COLONNADE_CORE_CONFIG_H
#define COLONNADE_CORE_CONFIG_H

#include "core/err.h"
#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum config_commitlog_sync {
	CONFIG_SYNC_PERIODIC = 0, /* fsync the WAL every commitlog_sync_period */
	CONFIG_SYNC_BATCH = 1,    /* fsync before acknowledging a write */
};

enum config_snitch {
	CONFIG_SNITCH_GOSSIPING_PROPERTY_FILE = 0, /* dc/rack from the dc/rack keys */
	CONFIG_SNITCH_SIMPLE = 1,                  /* everyone in datacenter1/rack1 */
};

#define CONFIG_MAX_SEEDS     64
#define CONFIG_MAX_DATA_DIRS 8

struct config_seed {
	char *host;    /* hostname or address, resolved at every gossip try */
	uint16_t port; /* 0 = the cluster's storage_port */
};

/*
 * client_encryption_options / server_encryption_options, as cassandra.yaml
 * (docs/SECURITY.md): YAML mappings, or one key per entry on the command line
 * (--client_encryption_options.enabled=true) and in the environment
 * (COLONNADE_CLIENT_ENCRYPTION_OPTIONS_ENABLED=true).  Certificates are PEM:
 * `keystore` holds chain and key in one file, or `certificate` + `private_key`.
 */
struct config_tls {
	bool enabled;               /* client: TLS on the native port */
	char *internode_encryption; /* server: none | dc | rack | all */
	bool optional;              /* TLS and plaintext on the same port */
	bool require_client_auth;   /* verify the peer's certificate (server side) */
	char *keystore, *keystore_password, *certificate, *private_key, *truststore;
	char *protocol, *accepted_protocols, *cipher_suites;
};

struct config {
	char *cluster_name;
	int num_tokens;

	struct config_seed seeds[CONFIG_MAX_SEEDS];
	int n_seeds;

	char *listen_address;             /* internode bind + source address */
	char *rpc_address;                /* CQL bind address (default: listen_address) */
	char *broadcast_address;          /* what peers are told (default: listen_address) */
	char *broadcast_rpc_address;      /* what clients are told (default: rpc_address) */
	char *replace_address_first_boot; /* DOWN node a new node replaces; "" none */
	int storage_port;                 /* 7000 */
	int native_transport_port;        /* 9042 */
	int admin_port;                   /* 7199, bound on admin_address */
	char *admin_address;           /* default: listen_address when loopback, else 127.0.0.1 */
	char *admin_token;             /* admin bearer token ("" none); admin_token_file fills it */
	char *admin_token_file;        /* file holding admin_token (first line, trimmed) */
	char *authenticator;           /* AllowAllAuthenticator | PasswordAuthenticator */
	bool password_auth;            /* derived: authenticator is PasswordAuthenticator */
	char *auth_superuser;          /* the first superuser's name ["cassandra"] */
	char *auth_superuser_password; /* its password on the first start (no default) */
	char *auth_superuser_password_file;
	int64_t credentials_validity_ms; /* credentials cache; 0 = off */
	char *authorizer;                /* AllowAllAuthorizer | CassandraAuthorizer */
	bool cassandra_authz;            /* derived: authorizer is CassandraAuthorizer */
	int64_t permissions_validity_ms; /* permissions cache */
	char *internode_secret; /* internode_authenticator_secret: shared by the cluster, or NULL */
	char *internode_secret_file; /* file holding it (first line, trimmed) */

	struct config_tls client_tls; /* client_encryption_options.* */
	struct config_tls server_tls; /* server_encryption_options.* */
	struct config_tls admin_tls;  /* admin_encryption_options.*: HTTPS on the admin port */

	char *data_file_directories[CONFIG_MAX_DATA_DIRS];
	int n_data_dirs;
	char *data_directory; /* = data_file_directories[0]; the one we use */
	char *hints_directory;

	enum config_commitlog_sync commitlog_sync;
	int64_t commitlog_sync_period_ms;
	/* the storage engine's write path (docs/STORAGE.md, "Group commit" and "Write stalls") */
	int64_t rocksdb_write_buffer_size;    /* bytes per table memtable */
	int64_t rocksdb_db_write_buffer_size; /* all memtables together; 0 = no budget */
	int64_t rocksdb_block_cache_size;     /* the block cache shared by every table */
	int rocksdb_max_write_buffer_number;  /* memtables per table before writes stop */
	int rocksdb_level0_file_num_compaction_trigger;
	int rocksdb_level0_slowdown_writes_trigger;
	int rocksdb_level0_stop_writes_trigger;
	int storage_write_queue;           /* mutations waiting for the writer before Overloaded */
	int64_t storage_write_queue_bytes; /* and their bytes */
	bool storage_write_inline; /* a loop writes its group itself when that cannot block */
	/* RocksDB's flush and compaction threads at a lower CPU priority until they fall
	 * behind (storage.h, store_background_priority_tick) */
	bool storage_adaptive_background_priority;

	bool hinted_handoff_enabled;
	int64_t max_hint_window_ms;
	char *hinted_handoff_disabled_datacenters; /* comma-separated DC names, "" none */
	int64_t hinted_handoff_throttle_kib;       /* KiB/s over the cluster, 0 = unthrottled */
	int max_hints_delivery_threads;            /* targets served at once */
	int64_t hints_flush_period_ms;
	int64_t max_hints_size_per_host; /* bytes, 0 = unbounded */

	int64_t repair_interval_ms;        /* background repair of primary ranges, 0 = off */
	int64_t repair_request_timeout_ms; /* one repair message (tree, chunk) */
	int64_t repair_throttle_bytes;     /* per second, streamed and hashed; 0 = unthrottled */
	char *tombstone_gc;                /* "repair" (default) or "timeout" */

	double phi_convict_threshold;
	int64_t gossip_interval_ms;

	int64_t write_request_timeout_ms;
	int64_t read_request_timeout_ms;
	int64_t range_request_timeout_ms;
	int64_t truncate_request_timeout_ms;
	int64_t schema_agreement_timeout_ms; /* a DDL's wait for every live node's version */
	int64_t batchlog_test_delay_ms;      /* tests: LOGGED batch mutations held after logging */

	enum config_snitch endpoint_snitch;
	char *dc;
	char *rack;

	int io_threads; /* event loops serving CQL clients; 0 = one per core (docs/ARCHITECTURE.md,
	                 * Threads) */
	/* after an iteration, wait this long for more frames while they come fast (core/net.h,
	 * net_loop_set_coalescing); 0 = never */
	int io_coalescing_window_us;
	enum log_level log_level;
	int64_t native_transport_max_frame_size; /* bytes */
	int native_transport_max_concurrent_connections;
	/* Overload (docs/PERFORMANCE.md): requests in flight, their latency target, the answer */
	int native_transport_max_concurrent_requests;
	/* requests a request loop coordinates at once, writes already answered but still
	 * owed replica acks (hints) included: bounds the coordinator's request state */
	int max_coordinated_requests;
	/* bytes of mutations a request loop's writes (and forwards) hold in flight */
	int64_t max_coordinated_mutation_bytes;
	int64_t native_transport_latency_target_ms; /* 0 = the hard cap only */
	int64_t native_transport_max_queue_wait_ms; /* socket wait refused Overloaded; 0 = off */
	bool native_transport_throw_on_overload; /* Overloaded for every client, not backpressure */
	int64_t internode_send_queue_capacity; /* bytes queued per peer; beyond: dropped, hinted */

	/* Private: where each key's value came from, warnings, bookkeeping. */
	struct config_priv *priv;
};

/*
 * Fill `c` with the defaults.  Must be called first; config_release() after.
 * Returns 0 or COL_ENOMEM.
 */
int config_init(struct config *c);
void config_release(struct config *c);

/*
 * Read a colonnade.yaml file over the current values.  A missing file, a YAML
 * syntax error (with the parser's line and problem), a value of the wrong
 * kind: COL_ECONFIG with the message in `err`.  Unknown keys add warnings.
 */
int config_load_file(struct config *c, const char *path, struct cerr *err);

/* Same, from text in memory; `name` stands for the file in messages. */
int config_load_string(struct config *c, const char *name, const char *text, size_t len,
                       struct cerr *err);

/*
 * Apply COLONNADE_<KEY> for every key (upper-cased), from `envp` (NULL-terminated
 * "NAME=value" strings, e.g. `environ`).  Variables with the prefix that name
 * no key add warnings (COLONNADE_BIN, COLONNADE_TEST_NET and the like used by
 * tools are ignored silently).
 */
int config_apply_env(struct config *c, const char *const *envp, struct cerr *err);

/*
 * Set one key from text, as a flag `--key=value` does.  `origin` is how the
 * value is named in errors and in the effective-config log ("flag --seeds").
 * Unknown key: COL_ECONFIG (a typo on a command line is caught at once).
 */
int config_set(struct config *c, const char *key, const char *value, const char *origin,
               struct cerr *err);

/*
 * Fill the derived values (rpc_address from listen_address, ...) and check the
 * values against each other.  Call once after the layers; COL_ECONFIG + err.
 */
int config_finish(struct config *c, struct cerr *err);

/* Warnings gathered so far, one per line ("" when none); owned by `c`. */
const char *config_warnings(const struct config *c);

/*
 * Write the effective configuration, one "key: value   (origin)" line per key,
 * each line through `emit(line, ctx)`.  Used for the start-up log.
 */
void config_describe(const struct config *c, void (*emit)(const char *line, void *ctx), void *ctx);

/* Is `key` a configuration key (canonical or legacy name)? */
bool config_key_known(const char *key);

/*
 * Parsers shared with tools and tests.  Each returns 0, COL_EINVAL (not a number
 * and a known unit) or COL_ETOOBIG (the result does not fit int64_t).
 * Durations: "<n><unit>" with unit d|h|m|s|ms|us|µs|ns, optional spaces;
 * result in milliseconds, rounded down; a nonzero duration under 1 ms ("500us", which
 * would read as 0) is COL_EINVAL.
 */
int config_parse_duration_ms(const char *s, int64_t *out_ms);
/* Sizes: "<n><unit>" with unit B|KiB|MiB|GiB|TiB (also KB/MB/GB/TB as binary). */
int config_parse_size_bytes(const char *s, int64_t *out_bytes);

#endif
