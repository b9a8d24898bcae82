// Acceptance: npm's cassandra-driver, unmodified, against one Colonnade node.
// Run by tests/cluster/node_driver_test.sh with CQL_HOST set.
'use strict';
const cassandra = require('cassandra-driver');
const { types } = cassandra;
const host = process.env.CQL_HOST || '127.0.0.1';
let checks = 0;

function check(cond, what) {
  if (!cond) {
    console.log('FAIL: ' + what);
    process.exit(1);
  }
  checks++;
  console.log('ok: ' + what);
}

async function expectError(promise, code, what) {
  try {
    await promise;
    check(false, what + ' raised');
  } catch (e) {
    check(e.code === code, `${what} -> code 0x${(e.code || 0).toString(16)}: ${e.message}`);
    return e;
  }
}

async function main() {
  const client = new cassandra.Client({
    contactPoints: [host],
    localDataCenter: 'datacenter1',
    socketOptions: { connectTimeout: 10000, readTimeout: 30000 },
  });
  await client.connect();
  check(client.controlConnection.protocolVersion === 4, 'negotiated protocol v4');
  const local = (await client.execute("SELECT * FROM system.local WHERE key='local'")).first();
  check(local.release_version.startsWith('4.0.'), 'system.local release_version');

  await client.execute('DROP KEYSPACE IF EXISTS nodedrv');
  await client.execute("CREATE KEYSPACE nodedrv WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  await client.execute('CREATE TABLE nodedrv.events (k int, c int, v text, PRIMARY KEY (k, c))');
  const tm = await client.metadata.getTable('nodedrv', 'events');
  check(tm && tm.partitionKeys.map((c) => c.name).join() === 'k', 'table metadata: partition key');
  check(tm.clusteringKeys.map((c) => c.name).join() === 'c', 'table metadata: clustering key');

  await client.execute("INSERT INTO nodedrv.events (k, c, v) VALUES (1, 1, 'literal')");
  // real bound values in QUERY (flag 0x01), not inlined
  await client.execute('INSERT INTO nodedrv.events (k, c, v) VALUES (?, ?, ?)', [1, 2, 'bound'],
    { hints: ['int', 'int', 'text'] });
  await client.execute('INSERT INTO nodedrv.events (k, c, v) VALUES (?, ?, ?)', [1, 3, 'prepared'],
    { prepare: true });
  const one = types.consistencies.one;
  const quorum = types.consistencies.quorum;
  for (const cl of [one, quorum]) {
    const rs = await client.execute('SELECT c, v FROM nodedrv.events WHERE k = ?', [1],
      { prepare: true, consistency: cl });
    check(rs.rows.map((r) => `${r.c}:${r.v}`).join() === '1:literal,2:bound,3:prepared',
      `read back at ${cl === one ? 'ONE' : 'QUORUM'}`);
  }
  // named values (flag 0x40) in a QUERY
  const named = await client.execute('SELECT v FROM nodedrv.events WHERE k = :kk AND c = :cc',
    { cc: 2, kk: 1 }, { hints: { kk: 'int', cc: 'int' } });
  check(named.rows.length === 1 && named.rows[0].v === 'bound', 'named bound values in QUERY');
  const ins = 'INSERT INTO nodedrv.events (k, c, v) VALUES (?, ?, ?)';
  await client.batch([
    { query: ins, params: [2, 1, 'b1'] },
    { query: ins, params: [2, 2, 'b2'] },
    { query: 'DELETE FROM nodedrv.events WHERE k = 1 AND c = 1' },
  ], { prepare: true });
  const rs = await client.execute('SELECT k, c, v FROM nodedrv.events WHERE k IN (1, 2)');
  check(rs.rows.map((r) => `${r.k}:${r.c}:${r.v}`).sort().join() ===
    '1:2:bound,1:3:prepared,2:1:b1,2:2:b2', 'BATCH applied');

  await client.execute('CREATE TABLE nodedrv.pages (k int, c int, v text, PRIMARY KEY (k, c))');
  const writes = [];
  for (let i = 0; i < 1000; i++)
    writes.push(client.execute('INSERT INTO nodedrv.pages (k, c, v) VALUES (?, ?, ?)', [0, i, 'v' + i],
      { prepare: true }));
  await Promise.all(writes);
  let pages = 0;
  let rows = [];
  let pageState;
  do {
    const r = await client.execute('SELECT c FROM nodedrv.pages WHERE k = ?', [0],
      { prepare: true, fetchSize: 100, pageState });
    pages++;
    check(r.rows.length <= 100, `page ${pages} has ${r.rows.length} <= 100 rows`);
    rows = rows.concat(r.rows.map((x) => x.c));
    pageState = r.pageState;
  } while (pageState);
  check(pages >= 10 && rows.length === 1000 && rows.every((c, i) => c === i),
    `1000 rows in ${pages} pages, in order`);
  let streamed = 0;
  await new Promise((resolve, reject) => {
    client.eachRow('SELECT k, c FROM nodedrv.pages', [], { fetchSize: 100, autoPage: true },
      () => { streamed++; }, (err) => (err ? reject(err) : resolve()));
  });
  check(streamed === 1000, `full-table scan with autoPage: ${streamed} rows`);

  await expectError(client.execute('SELEKT * FROM nodedrv.events'), 0x2000, 'syntax error');
  await expectError(client.execute('SELECT nope FROM nodedrv.events'), 0x2200, 'invalid query');
  await client.execute("CREATE KEYSPACE IF NOT EXISTS nodedrv3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}");
  await client.execute('CREATE TABLE IF NOT EXISTS nodedrv3.t (k int PRIMARY KEY, v int)');
  const e = await expectError(client.execute('INSERT INTO nodedrv3.t (k, v) VALUES (1, 1)', [],
    { consistency: quorum, retry: new cassandra.policies.retry.FallthroughRetryPolicy() }),
  0x1000, 'QUORUM with RF=3 on one node');
  check(e.required === 2 && e.alive === 1, 'Unavailable carries required=2 alive=1');
  await client.execute('DROP KEYSPACE nodedrv3');
  await client.shutdown();
  console.log(`${checks} passed, 0 failed`);
}

main().catch((e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
