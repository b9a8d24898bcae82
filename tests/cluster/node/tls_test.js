// TLS acceptance with npm's cassandra-driver: sslOptions with the cluster's CA
// (the server's certificate verified, its IP SAN checked), and, when
// CLIENT_CERT is set, a client certificate for require_client_auth.
// Run by tests/cluster/tls_test.sh with CQL_HOST, CA_FILE set.
'use strict';
const fs = require('fs');
const cassandra = require('cassandra-driver');
const host = process.env.CQL_HOST;

async function main() {
  const sslOptions = { ca: [fs.readFileSync(process.env.CA_FILE)], host, rejectUnauthorized: true };
  if (process.env.CLIENT_CERT) {
    sslOptions.cert = fs.readFileSync(process.env.CLIENT_CERT);
    sslOptions.key = fs.readFileSync(process.env.CLIENT_KEY);
  }
  const client = new cassandra.Client({
    contactPoints: [host], localDataCenter: process.env.CQL_DC || 'datacenter1', sslOptions,
  });
  await client.connect();
  const v = 'node-tls-' + process.pid;
  await client.execute('INSERT INTO tls.t (k, v) VALUES (?, ?)', [2, v], { prepare: true });
  const rs = await client.execute('SELECT v FROM tls.t WHERE k = ?', [2], { prepare: true });
  if (rs.rows.length !== 1 || rs.rows[0].v !== v) {
    console.log('FAIL: node driver over TLS read back ' + JSON.stringify(rs.rows));
    process.exit(1);
  }
  console.log('ok: node driver over TLS: wrote and read ' + v);
  await client.shutdown();
}
main().catch((e) => { console.log('FAIL: node driver over TLS: ' + e.message); process.exit(1); });
