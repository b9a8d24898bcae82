// The node driver logs in with PlainTextAuthProvider as a role made by
// tests/cluster/roles_test.sh; a wrong password fails with AuthenticationError.
'use strict';
const cassandra = require('cassandra-driver');
const host = process.env.CQL_HOST;

async function main() {
  const ok = new cassandra.Client({
    contactPoints: [host],
    localDataCenter: 'dc1',
    authProvider: new cassandra.auth.PlainTextAuthProvider('bob', process.env.BOB_PW),
    socketOptions: { connectTimeout: 10000, readTimeout: 30000 },
  });
  await ok.connect();
  const row = (await ok.execute('SELECT v FROM ks.t WHERE k = 1')).first();
  if (!row || row.v !== 'secret row') throw new Error('bob cannot read ks.t: ' + JSON.stringify(row));
  console.log('roles_test: node driver logged in as bob and read ks.t');
  await ok.shutdown();
  const bad = new cassandra.Client({
    contactPoints: [host],
    localDataCenter: 'dc1',
    authProvider: new cassandra.auth.PlainTextAuthProvider('bob', 'wrong'),
  });
  try {
    await bad.connect();
    throw new Error('a wrong password got a session');
  } catch (e) {
    const inner = e.innerErrors ? Object.values(e.innerErrors)[0] : e;
    if (!(inner instanceof cassandra.errors.AuthenticationError) && !/incorrect/.test(String(inner)))
      throw e;
    console.log('roles_test: node driver, wrong password: ' + String(inner.message).slice(0, 120));
  } finally {
    await bad.shutdown();
  }
}

main().catch((e) => {
  console.log('roles_test: FAIL: ' + e);
  process.exit(1);
});
