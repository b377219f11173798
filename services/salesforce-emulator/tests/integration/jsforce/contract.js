// Contract steps run with jsforce 3 (a second client besides simple-salesforce) against the emulator.
//   node contract.js <step> '<json args>'    env: SF_LOGIN_URL, SF_USERNAME, SF_PASSWORD, NODE_EXTRA_CA_CERTS
// Prints one JSON document: {"ok": result} or {"error": {"name", "errorCode", "message"}}.
// jsforce comes from the test's npm cache (NODE_PATH); nothing here is installed into the repository.
'use strict';
const jsforce = require('jsforce');

function collect(stream) {
  return new Promise((resolve, reject) => {
    const out = [];
    stream.on('record', (r) => out.push(r)).on('error', reject).on('end', () => resolve(out));
  });
}

async function login() {
  const conn = new jsforce.Connection({ loginUrl: process.env.SF_LOGIN_URL, version: '59.0' });
  const user = await conn.login(process.env.SF_USERNAME, process.env.SF_PASSWORD);
  return { conn, user };
}

const steps = {
  async logoutThenUse() {
    const { conn } = await login();
    const token = conn.accessToken;
    await conn.logout();
    const stale = new jsforce.Connection({ instanceUrl: process.env.SF_LOGIN_URL, accessToken: token, version: '59.0' });
    try {
      await stale.query('SELECT Id FROM User LIMIT 1');
      return { staleWorked: true };
    } catch (e) {
      return { staleWorked: false, errorCode: e.errorCode || e.name };
    }
  },
  async identity() {
    const { conn, user } = await login();
    return { login: user, identity: await conn.identity() };
  },
  async userinfo() {
    const { conn, user } = await login();
    return { login: user, userinfo: await conn.request('/services/oauth2/userinfo') };
  },
  async versionRoot() {
    const { conn } = await login();
    const root = await conn.request('/services/data/v59.0');
    const resources = await conn.request('/services/data/v59.0/');
    return { root, resources };
  },
  async query({ soql }) {
    const { conn } = await login();
    return await conn.query(soql);
  },
  async create({ sobject, records }) {
    const { conn } = await login();
    return await conn.sobject(sobject).create(records, { allOrNone: false });
  },
  async recent({ limit }) {
    const { conn } = await login();
    return await conn.recent(limit);
  },
  async search({ sosl }) {
    const { conn } = await login();
    return await conn.search(sosl);
  },
  async bulkLoad({ sobject, operation, records, extIdField }) {
    const { conn } = await login();
    conn.bulk.pollTimeout = 30000;
    conn.bulk.pollInterval = 50;
    const opts = extIdField ? { extIdField } : {};
    return await conn.bulk.load(sobject, operation, opts, records);
  },
  async bulkQuery({ soql }) {
    const { conn } = await login();
    conn.bulk.pollTimeout = 30000;
    conn.bulk.pollInterval = 50;
    return await collect(await conn.bulk.query(soql));
  },
};

(async () => {
  const [step, args] = process.argv.slice(2);
  try {
    const result = await steps[step](JSON.parse(args || '{}'));
    process.stdout.write(JSON.stringify({ ok: result === undefined ? null : result }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: { name: e.name, errorCode: e.errorCode || null, message: String(e.message) } }));
  }
})();
