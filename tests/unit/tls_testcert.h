/*
 * tls_testcert.h — test certificates made at run time with OpenSSL (never
 * committed), for the TLS unit tests and the TLS fuzz target.  In `dir`:
 *   ca.pem                    the test CA
 *   leaf.pem, leaf.key        CN=leaf, signed by the CA, IP SAN `ip`, server and client use
 *   leaf2.pem, leaf2.key      CN=leaf2, same CA (a renewed certificate)
 *   rogue-ca.pem              another CA
 *   rogue.pem, rogue.key      CN=rogue, signed by the other CA
 * EC P-256 keys, valid one day.  Header-only: include it in one file.
 */
#ifndef COLONNADE_TESTS_TLS_TESTCERT_H
#define COLONNADE_TESTS_TLS_TESTCERT_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>

static int tc_save(const char *dir, const char *name, EVP_PKEY *key, X509 *cert)
{
	char path[512];
	FILE *f;
	if (key) {
		snprintf(path, sizeof(path), "%s/%s.key", dir, name);
		f = fopen(path, "w");
		if (!f || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
			return -1;
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	f = fopen(path, "w");
	if (!f || PEM_write_X509(f, cert) != 1)
		return -1;
	fclose(f);
	return 0;
}

static int tc_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!e)
		return -1;
	int ok = X509_add_ext(cert, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : -1;
}

/* A certificate for `key` named `cn`, signed by issuer/issuer_key (NULL: self-signed). */
static X509 *tc_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                     const char *ip, long serial)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509 *is = issuer ? issuer : x;
	int rc = tc_ext(x, is, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (!rc && ca)
		rc = tc_ext(x, is, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (!rc && !ca)
		rc = tc_ext(x, is, NID_ext_key_usage, "serverAuth,clientAuth");
	if (!rc && ip) {
		char san[80];
		snprintf(san, sizeof(san), "IP:%s", ip);
		rc = tc_ext(x, is, NID_subject_alt_name, san);
	}
	if (rc || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* 0, or -1 when OpenSSL or the file system failed. */
static int tls_testcerts_make(const char *dir, const char *ip)
{
	EVP_PKEY *cak = EVP_EC_gen("P-256"), *rk = EVP_EC_gen("P-256");
	EVP_PKEY *lk = EVP_EC_gen("P-256"), *l2k = EVP_EC_gen("P-256"), *rlk = EVP_EC_gen("P-256");
	X509 *ca = NULL, *rca = NULL, *leaf = NULL, *leaf2 = NULL, *rogue = NULL;
	int rc = -1;
	if (!cak || !rk || !lk || !l2k || !rlk)
		goto out;
	ca = tc_cert(cak, "test CA", NULL, NULL, true, NULL, 1);
	rca = tc_cert(rk, "other CA", NULL, NULL, true, NULL, 2);
	if (!ca || !rca)
		goto out;
	leaf = tc_cert(lk, "leaf", ca, cak, false, ip, 3);
	leaf2 = tc_cert(l2k, "leaf2", ca, cak, false, ip, 4);
	rogue = tc_cert(rlk, "rogue", rca, rk, false, ip, 5);
	if (!leaf || !leaf2 || !rogue)
		goto out;
	if (tc_save(dir, "ca", NULL, ca) || tc_save(dir, "rogue-ca", NULL, rca) ||
	    tc_save(dir, "leaf", lk, leaf) || tc_save(dir, "leaf2", l2k, leaf2) ||
	    tc_save(dir, "rogue", rlk, rogue))
		goto out;
	rc = 0;
out:
	X509_free(ca);
	X509_free(rca);
	X509_free(leaf);
	X509_free(leaf2);
	X509_free(rogue);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(l2k);
	EVP_PKEY_free(rlk);
	return rc;
}

#endif
