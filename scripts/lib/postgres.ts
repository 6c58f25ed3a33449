import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);

/** The superuser of a throwaway cluster; it trusts connections from 127.0.0.1 only. */
const USER = 'paystate';

export interface PostgresCluster {
  /** postgres://paystate@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** Its data directory (holds postmaster.pid, the server's process id, while it runs). */
  dataDir: string;
  /** Stops the server (fast shutdown); its data directory stays until the caller removes it. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (after `stop`). */
  start(): Promise<void>;
}

/** Debian's server binaries: /usr/lib/postgresql/<major>/bin, the newest installed (or PG_BIN). */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('PostgreSQL server binaries not found: install Debian\'s postgresql package (or set PG_BIN)');
  return join(root, newest, 'bin');
}

/**
 * PostgreSQL refuses to run as root: as root (CI, this sandbox) its commands run as the
 * `postgres` user the Debian package creates, which then owns the data directory.
 */
async function asServerUser(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const asRoot = process.getuid?.() === 0;
  return asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);
}

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 with its own data directory and port
 * (`initdb` then `pg_ctl start`), durable as production would be (fsync and
 * synchronous_commit on). For tests, benchmarks and `npm run postgres`; `settings` are
 * more `name=value` server settings (the bench's statement statistics).
 */
export async function startPostgres(dir: string, port?: number, settings: string[] = []): Promise<PostgresCluster> {
  const bin = postgresBin();
  const listenPort = port ?? (await freePort());
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    chownSync(dir, uid, -1);
  }
  if (!existsSync(join(data, 'PG_VERSION'))) {
    await asServerUser(join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  }
  const options = [
    `-h 127.0.0.1 -p ${listenPort} -k ${dir}`,
    '-c fsync=on -c synchronous_commit=on -c full_page_writes=on',
    // Several service processes, each with its pool, plus the test or bench client.
    '-c max_connections=300',
    ...settings.map((setting) => `-c ${setting}`),
  ].join(' ');

  async function start(): Promise<void> {
    try {
      await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
    } catch (error) {
      throw new Error(`PostgreSQL did not start (log: ${join(dir, 'server.log')}): ${(error as Error).message}`);
    }
  }

  async function stop(): Promise<void> {
    await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']).catch(() => undefined);
  }

  await start();
  return { url: `postgres://${USER}@127.0.0.1:${listenPort}/postgres`, port: listenPort, dataDir: data, stop, start };
}
