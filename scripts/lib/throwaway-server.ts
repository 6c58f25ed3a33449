import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** The `--port` of a script that runs a throwaway server until Ctrl-C (`--help` prints `usage` and exits). */
export function portOption(defaultPort: number, usage: string): number {
  const { values } = parseArgs({ options: { port: { type: 'string', default: String(defaultPort) }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    process.stderr.write(`--port must be a TCP port, not ${values.port}\n`);
    process.exit(2);
  }
  return port;
}

/** On Ctrl-C (or SIGTERM) stops the server and removes its data directory; until then the script waits. */
export function stopOnInterrupt(stop: () => Promise<void>, dir: string): void {
  // A server that runs detached (pg_ctl) holds nothing open here: without this the script would end at once.
  const waiting = setInterval(() => undefined, 60_000);
  const shutdown = () => {
    clearInterval(waiting);
    stop().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
