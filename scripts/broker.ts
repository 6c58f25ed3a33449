import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from './lib/rabbitmq.ts';
import { portOption, stopOnInterrupt } from './lib/throwaway-server.ts';

/**
 * `npm run broker`: a RabbitMQ broker (Debian's rabbitmq-server) on 127.0.0.1 for trying
 * Paystate with AMQP_URL, on a throwaway data directory; Ctrl-C stops it and removes it.
 */
const port = portOption(5672, 'usage: npm run broker -- [--port 5672]\nStarts RabbitMQ on 127.0.0.1 until Ctrl-C; prints the AMQP_URL to give the service.\n');
const dir = mkdtempSync(join(tmpdir(), 'paystate-broker-'));
const broker = await startBroker(dir, port);
process.stdout.write(`RabbitMQ is up. Start the service with:\n  AMQP_URL=${broker.url} npm start\nCtrl-C stops the broker.\n`);
stopOnInterrupt(broker.stop, dir);
