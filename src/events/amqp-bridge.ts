import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from '../logger.ts';
import { startPollingLoop } from '../polling-loop.ts';
import type { AmqpConsumer } from './amqp-consumer.ts';
import type { AmqpPublisher } from './amqp-publisher.ts';
import { assertTopology, type AmqpNames } from './amqp-topology.ts';

export interface AmqpBridgeDeps {
  url: string;
  names: AmqpNames;
  publisher: AmqpPublisher;
  consumer: AmqpConsumer;
  /** How often the outbox is checked for events to publish. */
  pollMs: number;
  logger: Logger;
}

/**
 * The service's RabbitMQ connection (amqplib's own recovery: it reconnects forever with
 * backoff). On every connect the topology is declared, a confirm channel is opened for
 * publishing and another starts consuming the inbox. While the broker is away the outbox
 * keeps the events and the inbox messages wait in the broker: nothing is lost.
 */
export async function startAmqpBridge({ url, names, publisher, consumer, pollMs, logger }: AmqpBridgeDeps) {
  const log = logger.child({ component: 'amqp' });
  let publishing: ConfirmChannel | undefined;
  const connection = await connect(url, {
    recovery: {
      waitForConnect: false,
      initialDelay: 200,
      maxDelay: 5_000,
      async setup(model: ChannelModel) {
        const channel = await model.createConfirmChannel();
        channel.on('error', (error: Error) => log.warn({ err: error }, 'publishing channel error'));
        channel.on('close', () => {
          if (publishing === channel) publishing = undefined;
        });
        await assertTopology(channel, names);
        const consuming = await model.createConfirmChannel();
        consuming.on('error', (error: Error) => log.warn({ err: error }, 'consuming channel error'));
        await consumer.consume(consuming);
        publishing = channel;
        log.info('connected to the broker');
      },
    },
  });
  connection.on('error', (error: Error) => log.warn({ err: error }, 'broker connection error'));
  connection.on('disconnect', (error: Error) => {
    publishing = undefined;
    log.warn({ reason: error?.message }, 'broker connection lost; reconnecting');
  });

  const loop = startPollingLoop(
    () => (publishing ? publisher.publishPending(publishing) : Promise.resolve(0)),
    pollMs,
    (error) => log.warn({ err: error }, 'publishing stopped; the outbox keeps the events'),
  );

  return {
    async stop() {
      await loop.stop();
      await publisher.release().catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}
