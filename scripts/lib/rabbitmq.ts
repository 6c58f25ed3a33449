import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/** Debian's rabbitmq-server, run directly (its /usr/sbin wrapper wants the rabbitmq user). */
const SERVER = process.env.RABBITMQ_SERVER ?? '/usr/lib/rabbitmq/bin/rabbitmq-server';
const READY = /Starting broker\.\.\. completed/;

export interface Broker {
  /** amqp://guest:guest@127.0.0.1:PORT */
  url: string;
  /** Stops the broker; its durable queues and messages stay in its directory. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (after `stop`). */
  start(): Promise<void>;
}

/**
 * A throwaway RabbitMQ broker on 127.0.0.1 with its own data directory, node name and
 * ports (AMQP, Erlang distribution, epmd), so several can run at once without touching
 * a system broker. For tests, benchmarks and `npm run broker`.
 */
export async function startBroker(dir: string, amqpPort?: number): Promise<Broker> {
  const port = amqpPort ?? (await freePort());
  const [distPort, epmdPort] = [await freePort(), await freePort()];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\n`);
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: `paystate${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const proc = spawn(SERVER, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`RabbitMQ did not start within 60 s:\n${output.slice(-2_000)}`)), 60_000);
      const read = (chunk: Buffer) => {
        output += String(chunk);
        if (READY.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', read);
      proc.stderr?.on('data', read);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RabbitMQ exited with ${code} while starting:\n${output.slice(-2_000)}`));
      });
    });
    // Keep draining its output, or a full pipe would stall the broker.
    proc.stdout?.resume();
    proc.stderr?.resume();
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc && proc.exitCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    // Its port mapper outlives it as a daemon: stop that too.
    spawnSync('epmd', ['-kill'], { env, stdio: 'ignore' });
  }

  await start();
  return { url: `amqp://guest:guest@127.0.0.1:${port}`, stop, start };
}
