'use strict';

const { SLIP, SLIPS } = require('./config');
const { Store } = require('./store');
const { createApp } = require('./app');

async function main() {
  if (SLIP && !SLIPS.has(SLIP)) {
    console.error(`Unknown INTEROP_SLIP "${SLIP}"; known: ${[...SLIPS].join(', ')}`);
    process.exit(2);
  }
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8000);

  const store = new Store();
  await store.addUser('alice@example.com', 'alice-Secret-1');
  await store.addUser('bob@example.com', 'bob-Secret-2');
  await store.addUser('sso.user@example.com', null);

  createApp(store).listen(port, '127.0.0.1', (err) => {
    if (err) throw err;
    console.error(`token API listening on http://127.0.0.1:${port}${SLIP ? ` (slip: ${SLIP})` : ''}`);
  });
}

main();
