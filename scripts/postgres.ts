import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from './lib/postgres.ts';
import { portOption, stopOnInterrupt } from './lib/throwaway-server.ts';

/**
 * `npm run postgres`: a PostgreSQL server (Debian's postgresql package) on 127.0.0.1 on a
 * throwaway data directory; Ctrl-C stops it and removes it.
 */
const port = portOption(5432, 'usage: npm run postgres -- [--port 5432]\nStarts PostgreSQL on 127.0.0.1 until Ctrl-C, on a temporary data directory.\n');
const dir = mkdtempSync(join(tmpdir(), 'paystate-postgres-'));
const cluster = await startPostgres(dir, port);
process.stdout.write(`PostgreSQL is up at ${cluster.url} (data in ${dir}).\nCtrl-C stops it and removes its data.\n`);
stopOnInterrupt(cluster.stop, dir);
