import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { defaultLogFormat } from './config.ts';

/**
 * `npm start`: the service, plus the local mock PG in its own process unless
 * PG_BASE_URL points at a PG already. The mock lives and dies with the service.
 */
async function startMockPg(): Promise<string> {
  const port = process.env.PORT ?? '3000';
  const entry = fileURLToPath(new URL('./mock-pg/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: {
      ...process.env,
      PG_WEBHOOK_URL: process.env.PG_WEBHOOK_URL ?? `http://127.0.0.1:${port}/v1/pg/webhooks`,
      // Its output is a pipe to this process, which shows it where this process's goes: same format.
      LOG_FORMAT: process.env.LOG_FORMAT ?? defaultLogFormat(process.stdout.isTTY === true),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.once('exit', () => child.kill('SIGTERM'));
  child.once('exit', (code) => {
    // Ctrl-C reaches both processes; only an unexpected crash of the mock stops the service.
    if (code !== null && code !== 0) {
      console.error(`mock PG exited with ${code}; stopping`);
      process.exit(1);
    }
  });
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mock PG did not start within 30 s')), 30_000);
    lines.on('line', (line) => {
      process.stdout.write(`${line}\n`);
      const match = /^mock-pg listening on (\S+)$/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
}

if (!process.env.PG_BASE_URL) {
  process.env.PG_BASE_URL = await startMockPg();
  // Our own mock: the console may show its chaos controls.
  process.env.PG_MOCK_CONTROLS ??= '1';
}
await import('./main.ts');
