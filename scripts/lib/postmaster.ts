import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The process id of a running cluster's postmaster: the first line of its data directory's postmaster.pid. */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/**
 * Last resort on exit, error or Ctrl-C, synchronous (it works in an 'exit' handler): SIGQUIT
 * is PostgreSQL's immediate shutdown. pg_ctl detaches the server, so nothing else would stop it.
 */
export function killPostmaster(pid: number): void {
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    // Already gone.
  }
}
