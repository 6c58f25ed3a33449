import { setTimeout as delay } from 'node:timers/promises';
import { connect, type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
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

const STOP_PART_MS = 5_000;

function boundedWait(work: Promise<unknown>): Promise<unknown> {
  return Promise.race([work.catch(() => undefined), delay(STOP_PART_MS, undefined, { ref: false })]);
}

/**
 * amqplib's recovery reruns `setup` only once the whole connection is lost. A channel the
 * broker closed (a publish to a missing exchange, an ack it refused) or one the consumer
 * closed (the broker cancelled it) would stay dead on a live connection: closing the
 * connection makes recovery connect again and set everything up anew.
 */
function reconnectWhenChannelCloses(model: ChannelModel, log: Logger) {
  let connected = true;
  model.once('close', () => (connected = false));
  return (channel: Channel, name: string) => {
    channel.once('close', () => {
      // A closing connection closes its channels first, then reports its own close: wait for that.
      setImmediate(() => {
        if (!connected) return;
        log.warn({ channel: name }, 'channel closed; reconnecting to set it up again');
        model.close().catch(() => undefined);
      });
    });
  };
}

/**
 * The service's RabbitMQ connection (amqplib's own recovery: it reconnects forever with
 * backoff). On every connect the topology is declared, a confirm channel is opened for
 * publishing and another starts consuming the inbox; either channel closing reconnects.
 * While the broker is away the outbox keeps the events and the inbox messages wait in the
 * broker: nothing is lost.
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
        const watch = reconnectWhenChannelCloses(model, log);
        const channel = await model.createConfirmChannel();
        channel.on('error', (error: Error) => log.warn({ err: error }, 'publishing channel error'));
        channel.on('close', () => {
          if (publishing === channel) publishing = undefined;
        });
        watch(channel, 'publishing');
        await assertTopology(channel, names, consumer.retryDelaysMs);
        const consuming = await model.createConfirmChannel();
        consuming.on('error', (error: Error) => log.warn({ err: error }, 'consuming channel error'));
        watch(consuming, 'consuming');
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
    /**
     * Each part gets a bounded time: a round may wait for confirms a blocked broker holds
     * back, and amqplib's close never settles when the socket dies while it closes. What
     * is cut short is published again (the outbox keeps it) or redelivered (never acked).
     */
    async stop() {
      await boundedWait(loop.stop());
      await boundedWait(publisher.release());
      await boundedWait(connection.close());
    },
  };
}
