/*
 * tls.c — see tls.h.  OpenSSL 3: one SSL_CTX per struct tls_ctx (its
 * reference count is OpenSSL's own: every SSL made from it holds one), one
 * SSL per struct tls_conn.
 */
#include "core/tls.h"

#include <errno.h>
#include <stdatomic.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tls_ctx {
	SSL_CTX *ctx;
	enum tls_role role;
	atomic_int refs; /* contexts are shared by the loops of a node */
	char *key_password;
};

struct tls_conn {
	SSL *ssl;
	BIO *mem_in, *mem_out; /* memory sessions only */
	bool done;
	char err[256];
};

/* ---- contexts ----------------------------------------------------------------------------- */

/* The last OpenSSL error in words (queue cleared), or `fallback`. */
static void ossl_reason(char *out, size_t cap, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	if (e) {
		const char *r = ERR_reason_error_string(e);
		if (r)
			snprintf(out, cap, "%s", r);
		else
			ERR_error_string_n(e, out, cap);
	} else {
		snprintf(out, cap, "%s", fallback);
	}
	ERR_clear_error();
}

static int file_check(const char *what, const char *key, const char *path, struct cerr *err)
{
	if (access(path, R_OK) != 0)
		return cerr_set(err, COL_ECONFIG, "%s: %s %s: %s", what, key, path,
		                strerror(errno));
	return COL_OK;
}

static int parse_version(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int v;
	} names[] = {{"TLSv1.2", TLS1_2_VERSION},
	             {"TLSv1.3", TLS1_3_VERSION},
	             {"TLSv1.1", TLS1_1_VERSION},
	             {"TLSv1", TLS1_VERSION},
	             {"TLSv1.0", TLS1_VERSION}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n && !strncasecmp(s, names[i].name, n))
			return names[i].v;
	return 0;
}

/* Next comma-separated item of *p (blanks trimmed): its start and length, or false at the end. */
static bool next_item(const char **p, const char **item, size_t *n)
{
	const char *s = *p;
	while (*s == ',' || *s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	const char *e = s;
	while (*e && *e != ',')
		e++;
	*p = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*item = s;
	*n = (size_t)(e - s);
	return true;
}

/*
 * accepted_protocols (or protocol, when it names one version) as a min..max
 * range; versions inside the range that are not listed are switched off.
 * TLS 1.0 and 1.1 are accepted only when listed.
 */
static int set_protocols(SSL_CTX *ctx, const struct tls_options *o, struct cerr *err)
{
	const char *list = o->accepted_protocols;
	const char *proto = o->protocol && *o->protocol ? o->protocol : "TLS";
	if ((!list || !*list) && strcasecmp(proto, "TLS") != 0)
		list = proto;
	if (!list || !*list)
		list = "TLSv1.2,TLSv1.3";
	int lo = 0, hi = 0;
	bool on[5] = {false}; /* index: version - TLS1_VERSION */
	const char *p = list, *it;
	size_t n;
	while (next_item(&p, &it, &n)) {
		int v = parse_version(it, n);
		if (!v)
			return cerr_set(err, COL_ECONFIG,
			                "%s: accepted_protocols: '%.*s' is not TLSv1.2 or TLSv1.3",
			                o->what, (int)n, it);
		on[v - TLS1_VERSION] = true;
		lo = lo && lo < v ? lo : v;
		hi = hi > v ? hi : v;
	}
	if (!lo)
		return cerr_set(err, COL_ECONFIG, "%s: accepted_protocols: no version listed",
		                o->what);
	if (!SSL_CTX_set_min_proto_version(ctx, lo) || !SSL_CTX_set_max_proto_version(ctx, hi))
		return cerr_set(err, COL_ECONFIG, "%s: accepted_protocols: OpenSSL refused %s",
		                o->what, list);
	static const uint64_t off[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2,
	                               SSL_OP_NO_TLSv1_3};
	for (int v = lo; v <= hi; v++)
		if (!on[v - TLS1_VERSION] && v - TLS1_VERSION < 4)
			SSL_CTX_set_options(ctx, off[v - TLS1_VERSION]);
	return COL_OK;
}

/* One suite name (IANA/JSSE or OpenSSL) to OpenSSL's name; TLS 1.3 suites flagged. */
static bool cipher_lookup(STACK_OF(SSL_CIPHER) * all, const char *name, size_t n, char *out,
                          size_t cap, bool *v13)
{
	for (int i = 0; i < sk_SSL_CIPHER_num(all); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(all, i);
		const char *std = SSL_CIPHER_standard_name(c);
		const char *os = SSL_CIPHER_get_name(c);
		if ((std && strlen(std) == n && !strncmp(std, name, n)) ||
		    (os && strlen(os) == n && !strncmp(os, name, n))) {
			snprintf(out, cap, "%s", os);
			*v13 = strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
			return true;
		}
	}
	return false;
}

static int set_ciphers(SSL_CTX *ctx, const struct tls_options *o, struct cerr *err)
{
	if (!o->cipher_suites || !*o->cipher_suites)
		return COL_OK;
	/* Every suite this OpenSSL knows, to translate names. */
	SSL_CTX *probe = SSL_CTX_new(TLS_method());
	if (!probe)
		return cerr_set(err, COL_ENOMEM, "%s: out of memory", o->what);
	SSL_CTX_set_min_proto_version(probe, TLS1_VERSION);
	SSL_CTX_set_cipher_list(probe, "ALL:@SECLEVEL=0");
	STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(probe);
	char l12[2048] = "", l13[1024] = "", name[128];
	const char *p = o->cipher_suites, *it;
	size_t n;
	int rc = COL_OK;
	while (rc == COL_OK && next_item(&p, &it, &n)) {
		bool v13 = false;
		if (!cipher_lookup(all, it, n, name, sizeof(name), &v13)) {
			rc = cerr_set(
			        err, COL_ECONFIG,
			        "%s: cipher_suites: '%.*s' is not a cipher suite this OpenSSL "
			        "(%s) knows",
			        o->what, (int)n, it, OpenSSL_version(OPENSSL_VERSION));
			break;
		}
		char *l = v13 ? l13 : l12;
		size_t cap = v13 ? sizeof(l13) : sizeof(l12), len = strlen(l);
		snprintf(l + len, cap - len, "%s%s", len ? ":" : "", name);
	}
	SSL_CTX_free(probe);
	if (rc)
		return rc;
	/* An empty list of one kind switches that kind off (a 1.2-only list disables 1.3). */
	if (!SSL_CTX_set_cipher_list(ctx, l12[0] ? l12 : "!ALL") && l12[0])
		return cerr_set(err, COL_ECONFIG, "%s: cipher_suites: OpenSSL refused '%s'",
		                o->what, l12);
	if (!SSL_CTX_set_ciphersuites(ctx, l13))
		return cerr_set(err, COL_ECONFIG, "%s: cipher_suites: OpenSSL refused '%s'",
		                o->what, l13);
	ERR_clear_error();
	return COL_OK;
}

static int password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pw = u;
	if (!pw)
		return 0;
	size_t n = strlen(pw);
	if (n > (size_t)size)
		return 0;
	memcpy(buf, pw, n);
	return (int)n;
}

/* The certificate chain and key: keystore (both in one PEM) or certificate + private_key. */
static int load_identity(struct tls_ctx *t, const struct tls_options *o, struct cerr *err)
{
	const char *cert = o->keystore && *o->keystore ? o->keystore : o->certificate;
	const char *key = o->keystore && *o->keystore ? o->keystore : o->private_key;
	const char *ckey = o->keystore && *o->keystore ? "keystore" : "certificate";
	const char *kkey = o->keystore && *o->keystore ? "keystore" : "private_key";
	bool has_cert = cert && *cert, has_key = key && *key;
	if (!has_cert && !has_key) {
		if (t->role == TLS_SERVER)
			return cerr_set(err, COL_ECONFIG,
			                "%s: no certificate: set keystore (one PEM file with the "
			                "certificate chain and private key) or certificate and "
			                "private_key",
			                o->what);
		return COL_OK;
	}
	if (!has_cert || !has_key)
		return cerr_set(err, COL_ECONFIG, "%s: %s is set but %s is not", o->what,
		                has_cert ? "certificate" : "private_key",
		                has_cert ? "private_key" : "certificate");
	int rc = file_check(o->what, ckey, cert, err);
	if (!rc)
		rc = file_check(o->what, kkey, key, err);
	if (rc)
		return rc;
	char why[200];
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
		ossl_reason(why, sizeof(why), "unreadable");
		return cerr_set(err, COL_ECONFIG, "%s: %s %s: no PEM certificate (%s)", o->what,
		                ckey, cert, why);
	}
	if (o->key_password && *o->key_password) {
		t->key_password = strdup(o->key_password);
		if (!t->key_password)
			return cerr_set(err, COL_ENOMEM, "%s: out of memory", o->what);
	}
	SSL_CTX_set_default_passwd_cb(t->ctx, password_cb);
	SSL_CTX_set_default_passwd_cb_userdata(t->ctx, t->key_password);
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
		ossl_reason(why, sizeof(why), "unreadable");
		if (strstr(why, "mismatch"))
			return cerr_set(err, COL_ECONFIG,
			                "%s: the private key in %s does not match the certificate "
			                "in %s",
			                o->what, key, cert);
		return cerr_set(err, COL_ECONFIG, "%s: %s %s: no usable PEM private key (%s%s)",
		                o->what, kkey, key, why,
		                t->key_password ? ""
		                                : "; an encrypted key needs keystore_password");
	}
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		ossl_reason(why, sizeof(why), "mismatch");
		return cerr_set(
		        err, COL_ECONFIG,
		        "%s: the private key in %s does not match the certificate in %s (%s)",
		        o->what, key, cert, why);
	}
	return COL_OK;
}

static int load_trust(struct tls_ctx *t, const struct tls_options *o, struct cerr *err)
{
	bool has = o->truststore && *o->truststore;
	if (t->role == TLS_SERVER && o->require_client_auth && !has)
		return cerr_set(err, COL_ECONFIG,
		                "%s: require_client_auth needs a truststore (the CA bundle client "
		                "certificates must chain to)",
		                o->what);
	if (!has) {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
		return COL_OK;
	}
	int rc = file_check(o->what, "truststore", o->truststore, err);
	if (rc)
		return rc;
	char why[200];
	if (SSL_CTX_load_verify_locations(t->ctx, o->truststore, NULL) != 1) {
		ossl_reason(why, sizeof(why), "unreadable");
		return cerr_set(err, COL_ECONFIG, "%s: truststore %s: no PEM CA certificate (%s)",
		                o->what, o->truststore, why);
	}
	if (t->role == TLS_CLIENT) {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
		return COL_OK;
	}
	if (!o->require_client_auth)
		return COL_OK;
	STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(o->truststore);
	if (cas)
		SSL_CTX_set_client_CA_list(t->ctx, cas);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	static const unsigned char sid[] = "colonnade";
	SSL_CTX_set_session_id_context(t->ctx, sid, sizeof(sid) - 1);
	ERR_clear_error();
	return COL_OK;
}

int tls_ctx_new(const struct tls_options *o, enum tls_role role, struct tls_ctx **out,
                struct cerr *err)
{
	struct tls_options opts = *o;
	if (!opts.what)
		opts.what = "tls";
	struct tls_ctx *t = calloc(1, sizeof(*t));
	if (!t)
		return cerr_set(err, COL_ENOMEM, "%s: out of memory", opts.what);
	t->role = role;
	atomic_init(&t->refs, 1);
	t->ctx = SSL_CTX_new(role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
	if (!t->ctx) {
		free(t);
		return cerr_set(err, COL_ENOMEM, "%s: cannot create an OpenSSL context", opts.what);
	}
	SSL_CTX_set_options(t->ctx,
	                    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                            SSL_OP_IGNORE_UNEXPECTED_EOF |
	                            (role == TLS_SERVER ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
	/* The caller's output buffer may move between a partial write and its retry. */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                                 SSL_MODE_RELEASE_BUFFERS);
	int rc = set_protocols(t->ctx, &opts, err);
	if (!rc)
		rc = set_ciphers(t->ctx, &opts, err);
	if (!rc)
		rc = load_identity(t, &opts, err);
	if (!rc)
		rc = load_trust(t, &opts, err);
	if (rc) {
		tls_ctx_unref(t);
		ERR_clear_error();
		return rc;
	}
	*out = t;
	return COL_OK;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void tls_ctx_unref(struct tls_ctx *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) > 1)
		return;
	SSL_CTX_free(t->ctx); /* sessions made from it keep it alive until they end */
	if (t->key_password) {
		explicit_bzero(t->key_password, strlen(t->key_password));
		free(t->key_password);
	}
	free(t);
}

enum tls_role tls_ctx_role(const struct tls_ctx *t)
{
	return t->role;
}

void tls_ctx_describe(const struct tls_ctx *t, char *out, size_t cap)
{
	X509 *x = SSL_CTX_get0_certificate(t->ctx);
	if (!x) {
		snprintf(out, cap, "no certificate");
		return;
	}
	char subj[256];
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	char until[64] = "?";
	BIO *b = BIO_new(BIO_s_mem());
	if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
		int n = BIO_read(b, until, (int)sizeof(until) - 1);
		until[n > 0 ? n : 0] = 0;
	}
	BIO_free(b);
	snprintf(out, cap, "%s, valid until %s", subj, until);
}

/* ---- sessions ----------------------------------------------------------------------------- */

static struct tls_conn *conn_make(struct tls_ctx *t)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl) {
		free(c);
		return NULL;
	}
	if (t->role == TLS_SERVER)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	return c;
}

struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd)
{
	struct tls_conn *c = conn_make(t);
	if (c && SSL_set_fd(c->ssl, fd) != 1) {
		tls_conn_free(c);
		return NULL;
	}
	return c;
}

struct tls_conn *tls_conn_new_mem(struct tls_ctx *t)
{
	struct tls_conn *c = conn_make(t);
	if (!c)
		return NULL;
	c->mem_in = BIO_new(BIO_s_mem());
	c->mem_out = BIO_new(BIO_s_mem());
	if (!c->mem_in || !c->mem_out) {
		BIO_free(c->mem_in);
		BIO_free(c->mem_out);
		c->mem_in = c->mem_out = NULL;
		tls_conn_free(c);
		return NULL;
	}
	BIO_set_mem_eof_return(c->mem_in, -1); /* empty = would block, not EOF */
	SSL_set_bio(c->ssl, c->mem_in, c->mem_out);
	return c;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl); /* frees the BIOs too */
	free(c);
	ERR_clear_error();
}

void tls_conn_verify_name(struct tls_conn *c, const char *name)
{
	if (!name || !*name)
		return;
	X509_VERIFY_PARAM *p = SSL_get0_param(c->ssl);
	X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_ip_asc(p, name) == 1)
		return;
	X509_VERIFY_PARAM_set1_host(p, name, 0);
	SSL_set_tlsext_host_name(c->ssl, name);
	ERR_clear_error();
}

/* Map an SSL_get_error() result; fill c->err on a failure. */
static int conn_result(struct tls_conn *c, int ret, int saved_errno)
{
	int e = SSL_get_error(c->ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ: return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE: return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN: return TLS_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (!saved_errno && !ERR_peek_error())
			return TLS_CLOSED;
		snprintf(c->err, sizeof(c->err), "%s",
		         saved_errno ? strerror(saved_errno) : "TLS transport failure");
		ERR_clear_error();
		return TLS_ERROR;
	default: break;
	}
	char why[200];
	ossl_reason(why, sizeof(why), "TLS failure");
	long vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK)
		snprintf(c->err, sizeof(c->err), "%s: %s", why, X509_verify_cert_error_string(vr));
	else
		snprintf(c->err, sizeof(c->err), "%s", why);
	return TLS_ERROR;
}

int tls_conn_handshake(struct tls_conn *c)
{
	if (c->done)
		return TLS_OK;
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->done = true;
		return TLS_OK;
	}
	int rc = conn_result(c, r, errno);
	if (rc == TLS_CLOSED) {
		snprintf(c->err, sizeof(c->err), "connection closed during the TLS handshake");
		rc = TLS_ERROR;
	}
	return rc;
}

bool tls_conn_established(const struct tls_conn *c)
{
	return c->done;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
	ERR_clear_error();
	errno = 0;
	size_t got = 0;
	int r = SSL_read_ex(c->ssl, buf, len, &got);
	if (r == 1)
		return (ssize_t)got;
	return conn_result(c, 0, errno);
}

ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len)
{
	ERR_clear_error();
	errno = 0;
	size_t put = 0;
	int r = SSL_write_ex(c->ssl, buf, len, &put);
	if (r == 1)
		return (ssize_t)put;
	int rc = conn_result(c, 0, errno);
	if (rc == TLS_CLOSED) {
		snprintf(c->err, sizeof(c->err), "the peer closed the TLS session");
		rc = TLS_ERROR;
	}
	return rc;
}

bool tls_conn_pending(const struct tls_conn *c)
{
	return SSL_has_pending(c->ssl) == 1;
}

void tls_conn_shutdown(struct tls_conn *c)
{
	if (c->done)
		(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->err[0] ? c->err : "TLS failure";
}

void tls_conn_peer_subject(const struct tls_conn *c, char *out, size_t cap)
{
	out[0] = 0;
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	if (x && SSL_get_verify_result(c->ssl) == X509_V_OK)
		X509_NAME_oneline(X509_get_subject_name(x), out, (int)cap);
}

void tls_conn_describe(const struct tls_conn *c, char *out, size_t cap)
{
	char subj[256];
	tls_conn_peer_subject(c, subj, sizeof(subj));
	snprintf(out, cap, "%s %s%s%s", SSL_get_version(c->ssl),
	         SSL_CIPHER_standard_name(SSL_get_current_cipher(c->ssl))
	                 ? SSL_CIPHER_standard_name(SSL_get_current_cipher(c->ssl))
	                 : "?",
	         subj[0] ? ", peer " : "", subj);
}

int tls_conn_bio_put(struct tls_conn *c, const void *data, size_t len)
{
	if (!c->mem_in || len > INT32_MAX)
		return COL_EINVAL;
	return BIO_write(c->mem_in, data, (int)len) == (int)len ? COL_OK : COL_ENOMEM;
}

size_t tls_conn_bio_take(struct tls_conn *c, void *out, size_t cap)
{
	if (!c->mem_out || cap > INT32_MAX)
		return 0;
	int n = BIO_read(c->mem_out, out, (int)cap);
	return n > 0 ? (size_t)n : 0;
}
