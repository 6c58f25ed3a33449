import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from './lib/postgres.ts';

/**
 * `npm run postgres`: a PostgreSQL server (Debian's postgresql package) on 127.0.0.1 on a
 * throwaway data directory; Ctrl-C stops it and removes it.
 */
const { values } = parseArgs({ options: { port: { type: 'string', default: '5432' }, help: { type: 'boolean' } } });
if (values.help) {
  process.stdout.write('usage: npm run postgres -- [--port 5432]\nStarts PostgreSQL on 127.0.0.1 until Ctrl-C, on a temporary data directory.\n');
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`--port must be a TCP port, not ${values.port}\n`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'paystate-postgres-'));
const cluster = await startPostgres(dir, port);
process.stdout.write(`PostgreSQL is up at ${cluster.url} (data in ${dir}).\nCtrl-C stops it and removes its data.\n`);

// pg_ctl runs the server detached: without this the script would end at once, leaving it up.
const waiting = setInterval(() => undefined, 60_000);

const shutdown = () => {
  clearInterval(waiting);
  cluster
    .stop()
    .finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
