import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from './lib/rabbitmq.ts';

/**
 * `npm run broker`: a RabbitMQ broker (Debian's rabbitmq-server) on 127.0.0.1 for trying
 * Paystate with AMQP_URL, on a throwaway data directory; Ctrl-C stops it and removes it.
 */
const { values } = parseArgs({ options: { port: { type: 'string', default: '5672' }, help: { type: 'boolean' } } });
if (values.help) {
  process.stdout.write('usage: npm run broker -- [--port 5672]\nStarts RabbitMQ on 127.0.0.1 until Ctrl-C; prints the AMQP_URL to give the service.\n');
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`--port must be a TCP port, not ${values.port}\n`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'paystate-broker-'));
const broker = await startBroker(dir, port);
process.stdout.write(`RabbitMQ is up. Start the service with:\n  AMQP_URL=${broker.url} npm start\nCtrl-C stops the broker.\n`);

const shutdown = () => {
  broker
    .stop()
    .finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
