import { createActor, type Actor, type EventObject, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { Database } from '../../db/connection.ts';
import {
  acquireLease,
  acquireLeases,
  findPayment,
  insertPayment,
  newPaymentView,
  releaseLeases,
  renewLeases,
  writeSnapshot,
  type NewPaymentRow,
  type PaymentRow,
  type PaymentViewRow,
} from '../../db/payments-repo.ts';
import { LeaseLost } from '../../db/lease-fence.ts';
import type { Tx } from '../../db/sql.ts';
import {
  PAYMENT_MACHINE_VERSION,
  type PaymentEmitted,
  type PaymentEvent,
  type PaymentInput,
  type PaymentMachine,
} from '../../machines/payment.machine.ts';
import { publicStatusOf, RESTING, statePath, WAITING, type PublicStatus } from '../../machines/payment-status.ts';
import type { Logger } from '../logger.ts';
import type { OpsStore } from '../ops-store.ts';
import { arrivedAtRest, buildWrite, mergeWrites, type HostWrite } from './host-write.ts';
import type { Order, OrderCache } from './order-cache.ts';
import type { SnapshotReader } from './snapshot-reader.ts';
import { isTransient } from './step-errors.ts';

type PaymentActor = Actor<PaymentMachine>;
type PaymentSnapshot = SnapshotFrom<PaymentMachine>;

interface LiveActor {
  actor: PaymentActor;
  /** State path last queued for writing: transitions are logged against it. */
  lastPath: string;
  /** Public status last queued for writing. */
  lastStatus: PublicStatus;
  /** Merged writes their group-commit job has not taken yet. */
  pending: HostWrite | null;
  /** The snapshot behind the newest queued write. */
  lastQueued: PaymentSnapshot | null;
  /** Emitted since the last snapshot, attached to the transition that raised them. */
  emitted: PaymentEmitted[];
  /** Settles with the group-commit job holding the pending write: true once committed, false if refused. */
  pendingCommit: Promise<boolean>;
}

/** What became of an event offered to a payment. */
export type Delivery = 'accepted' | 'refused' | 'unavailable' | 'not_committed';

/** After a write that failed for a reason that may pass (busy database), the payment is resumed this much later. */
const RESUME_AFTER_FAILED_WRITE_MS = 1_000;

type Waiter = () => void;

export interface PaymentHostDeps {
  db: Database;
  /** The payment machine with its side effects provided. */
  machine: PaymentMachine;
  clock: () => number;
  logger: Logger;
  ops: OpsStore;
  /** This process's lease owner id. */
  owner: string;
  leaseTtlMs: number;
  /** Holds the order of every payment whose actor runs here, for its steps. */
  orders: OrderCache;
  /** Reads a stored snapshot of any machine version this code resumes (see snapshot-reader.ts). */
  readSnapshot: SnapshotReader;
  /**
   * Runs inside the transaction that commits a payment's transitions: the one place
   * where rows that must agree with the state change (dead letters, alerts, payment
   * events) are written.
   */
  onTransitions?: (tx: Tx, write: HostWrite, orderOf: () => Promise<Order>) => Promise<void>;
  /** Runs inside the transaction that commits a new payment (its first payment event), with the payment as inserted. */
  onCreated?: (tx: Tx, payment: PaymentViewRow, at: number) => Promise<void>;
  /** Also shows the payment's actor to a developer's inspector (Stately), when it is one of those watched. */
  inspectorFor?: (paymentId: string) => ((event: InspectionEvent) => void) | undefined;
}

/** The payment row fields the caller decides; the host adds snapshot, state, status and lease. */
export type NewPayment = Omit<
  NewPaymentRow,
  'snapshot' | 'state' | 'status' | 'machineVersion' | 'dueAt' | 'leaseOwner' | 'leaseExpiresAt'
>;

/**
 * The only way to reach a payment actor (rule 8). It creates and rehydrates actors,
 * writes every transition through the group commit (rule 4) and evicts actors that
 * rest or wait, so memory holds only payments that are doing something (rule 5).
 */
export class PaymentHost {
  private readonly live = new Map<string, LiveActor>();
  /** Payments being brought into memory: concurrent callers share one hydration. */
  private readonly hydrating = new Map<string, Promise<LiveActor | undefined>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /** Payments that left memory whose leases the queued release job gives up (see releaseLater). */
  private readonly toRelease = new Set<string>();
  private releaseQueued = false;
  /** Set by stop(): nothing is brought into memory or scheduled to be any more. */
  private stopping = false;
  private readonly log: Logger;

  constructor(private readonly deps: PaymentHostDeps) {
    this.log = deps.logger.child({ component: 'payment-host' });
  }

  /**
   * Commits the new payment with its initial snapshot, then starts its actor; resolves
   * with the row it committed, as the payment resource shows it. Rejects with
   * IdempotencyKeyHeld, committing nothing, when another payment holds its idempotency key
   * (a concurrent request with the same key won): the caller answers with that payment.
   */
  async create(payment: NewPayment, input: PaymentInput): Promise<PaymentViewRow> {
    const actor = this.newActor(payment.id, { input });
    const snapshot = actor.actor.getSnapshot();
    const path = statePath(snapshot.value);
    const now = this.deps.clock();
    const row = {
      ...payment,
      metadata: payment.metadata ?? null,
      snapshot: JSON.stringify(actor.actor.getPersistedSnapshot()),
      state: path,
      status: publicStatusOf(snapshot),
      machineVersion: PAYMENT_MACHINE_VERSION,
      dueAt: null,
      active: 1,
      leaseOwner: this.deps.owner,
      leaseExpiresAt: now + this.deps.leaseTtlMs,
    };
    const view = newPaymentView(row);
    await this.deps.db.commit.run(async (tx) => {
      await insertPayment(tx, row, { type: 'api.create', from: null, to: path, at: now });
      await this.deps.onCreated?.(tx, view, now);
    });
    this.deps.orders.remember(row);
    this.start(payment.id, actor);
    return view;
  }

  /** Sends an event, waking the actor from the database if it hibernates. False: no such payment. */
  async send(paymentId: string, event: PaymentEvent): Promise<boolean> {
    return (await this.offer(paymentId, event)) !== 'unavailable';
  }

  /**
   * Sends an event only if the payment's current state takes it. `unavailable`: no such
   * payment, or another process holds its lease. Resolve `committed()` afterwards to
   * report the resulting state.
   */
  async offer(paymentId: string, event: PaymentEvent): Promise<'accepted' | 'refused' | 'unavailable'> {
    const sent = await this.sendIfTaken(paymentId, event);
    if (!sent) return 'unavailable';
    return sent.taken ? 'accepted' : 'refused';
  }

  /**
   * Sends an event the payment's state takes, and resolves once the write it caused is
   * committed: `not_committed` when that very write was refused (lost lease, database),
   * so a caller never reports a change that did not happen (rule 4).
   */
  async deliver(paymentId: string, event: PaymentEvent): Promise<Delivery> {
    const sent = await this.sendIfTaken(paymentId, event);
    if (!sent) return 'unavailable';
    if (!sent.taken) return 'refused';
    return (await sent.committed) ? 'accepted' : 'not_committed';
  }

  /** Resolves when every write queued so far, including the last event's, is committed. */
  committed(): Promise<void> {
    return this.deps.db.commit.flush();
  }

  /** Brings a payment back into memory so that its current step runs again. */
  async resume(paymentId: string): Promise<boolean> {
    return (await this.hydrate(paymentId)) !== undefined;
  }

  /** Restarts a live actor from its last committed snapshot (the reconciler's cure for a stuck step). */
  restart(paymentId: string): Promise<boolean> {
    const live = this.live.get(paymentId);
    if (live) this.evict(paymentId, live, false);
    return this.resume(paymentId);
  }

  /** Extends the leases of the payments this process runs; called well within the TTL. */
  renewLeases(): Promise<number> {
    const running = [...this.live.keys()];
    return this.deps.db.commit.run((tx) => renewLeases(tx, this.deps.owner, running, this.deps.clock(), this.deps.leaseTtlMs));
  }

  /**
   * Resolves with the committed row once `done(row)` holds or `timeoutMs` passes,
   * whichever is first. Only committed state is ever reported (rule 4).
   */
  async waitFor(paymentId: string, done: (row: PaymentRow) => boolean, timeoutMs: number): Promise<PaymentRow | undefined> {
    const read = () => findPayment(this.deps.db.read, paymentId);
    const first = await read();
    if (!first || done(first) || timeoutMs <= 0) return first;
    return new Promise((resolve, reject) => {
      const end = () => {
        clearTimeout(timer);
        unwatch();
      };
      const finish = (row: PaymentRow | undefined) => {
        end();
        resolve(row);
      };
      const fail = (error: unknown) => {
        end();
        reject(error);
      };
      const unwatch = this.watch(paymentId, () => {
        read().then((row) => {
          if (!row || done(row)) finish(row);
        }, fail);
      });
      const timer = setTimeout(() => read().then(finish, fail), timeoutMs);
    });
  }

  /**
   * Calls `listener` after every commit of the payment's writes in this process (another
   * process's are not seen: poll for those). Returns the function that stops it.
   */
  watch(paymentId: string, listener: Waiter): () => void {
    const waiters = this.waiters.get(paymentId) ?? new Set<Waiter>();
    this.waiters.set(paymentId, waiters);
    waiters.add(listener);
    return () => {
      waiters.delete(listener);
      if (waiters.size === 0 && this.waiters.get(paymentId) === waiters) this.waiters.delete(paymentId);
    };
  }

  get liveCount(): number {
    return this.live.size;
  }

  isLive(paymentId: string): boolean {
    return this.live.has(paymentId);
  }

  /** Stops every actor and commits what was queued. In-flight steps resume after restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    // An actor being hydrated now (a resume timer that already fired) would start after the evictions.
    await Promise.allSettled(this.hydrating.values());
    const leaving = [...this.live];
    for (const [paymentId, live] of leaving) this.evict(paymentId, live, true);
    // Their releases are queued once their last writes are committed.
    await Promise.all(leaving.map(([, live]) => live.pendingCommit));
    await this.deps.db.commit.flush();
  }

  /**
   * Brings many payments into memory (a crashed process's at start-up, the scheduler's
   * due ones): their leases are taken in one statement rather than one commit each.
   * `wake`, if given, is sent to each of them the moment its actor starts (and to those
   * already running here): a woken actor that waits would otherwise leave memory again once
   * its start is committed, before a caller's later send reached it. Returns how many were
   * resumed.
   */
  async resumeMany(paymentIds: string[], wake?: PaymentEvent): Promise<number> {
    if (paymentIds.length === 0 || this.stopping) return 0;
    if (wake) for (const id of paymentIds) this.sendToLive(this.live.get(id), wake);
    // Those live or being hydrated already are someone else's to count.
    const wanted = paymentIds.filter((id) => !this.live.has(id) && !this.hydrating.has(id));
    const now = this.deps.clock();
    const leasing = this.deps.db.commit
      .run((tx) => acquireLeases(tx, wanted, this.deps.owner, now, this.deps.leaseTtlMs))
      .then((ids) => new Set(ids));
    const resumed = await Promise.all(
      wanted.map((id) => this.shareHydration(id, leasing.then((leased) => (leased.has(id) ? this.hydrateLeased(id, wake) : undefined)))),
    );
    return resumed.filter((live) => live !== undefined).length;
  }

  /**
   * Sends `event` if the payment's state takes it; undefined when the payment cannot be had
   * here. `committed` settles with the write the event caused (see `pendingCommit`).
   */
  private async sendIfTaken(
    paymentId: string,
    event: PaymentEvent,
  ): Promise<{ taken: false } | { taken: true; committed: Promise<boolean> } | undefined> {
    for (;;) {
      const live = this.live.get(paymentId) ?? (await this.hydrate(paymentId));
      if (!live) return undefined;
      // Hydrated while this waited, it may have come to rest and left memory again: wake it anew.
      if (this.live.get(paymentId) !== live) continue;
      if (!live.actor.getSnapshot().can(event)) return { taken: false };
      live.actor.send(event);
      return { taken: true, committed: live.pendingCommit };
    }
  }

  private hydrate(paymentId: string): Promise<LiveActor | undefined> {
    const existing = this.live.get(paymentId);
    if (existing) return Promise.resolve(existing);
    if (this.stopping) return Promise.resolve(undefined);
    const inFlight = this.hydrating.get(paymentId);
    if (inFlight) return inFlight;
    const leased = this.deps.db.commit.run((tx) =>
      acquireLease(tx, paymentId, this.deps.owner, this.deps.clock(), this.deps.leaseTtlMs),
    );
    return this.shareHydration(paymentId, leased.then((ok) => (ok ? this.hydrateLeased(paymentId) : undefined)));
  }

  /** Registers a hydration under way, so that a concurrent one of the same payment waits for it instead. */
  private shareHydration(paymentId: string, hydration: Promise<LiveActor | undefined>): Promise<LiveActor | undefined> {
    const shared = hydration.finally(() => {
      if (this.hydrating.get(paymentId) === shared) this.hydrating.delete(paymentId);
    });
    this.hydrating.set(paymentId, shared);
    return shared;
  }

  private async hydrateLeased(paymentId: string, wake?: PaymentEvent): Promise<LiveActor | undefined> {
    // Read after taking the lease (committed): no other process can move the payment on now.
    const row = await findPayment(this.deps.db.read, paymentId);
    if (!row) return undefined;
    const snapshot = this.deps.readSnapshot(row.snapshot, row.machineVersion);
    if (snapshot === undefined) {
      this.log.error({ paymentId, machineVersion: row.machineVersion }, 'snapshot of a machine version this code cannot read');
      await this.deps.db.commit.run((tx) => releaseLeases(tx, [paymentId], this.deps.owner));
      return undefined;
    }
    const live = this.newActor(paymentId, { snapshot: snapshot as ReturnType<PaymentActor['getPersistedSnapshot']> });
    live.lastPath = row.state;
    live.lastStatus = row.status as PublicStatus;
    this.deps.orders.remember(row);
    this.start(paymentId, live);
    if (wake) this.sendToLive(live, wake);
    return live;
  }

  /** Sends `event` to a running actor whose state takes it. */
  private sendToLive(live: LiveActor | undefined, event: PaymentEvent): void {
    if (live?.actor.getSnapshot().can(event)) live.actor.send(event);
  }

  private newActor(
    paymentId: string,
    options: { input: PaymentInput } | { snapshot: ReturnType<PaymentActor['getPersistedSnapshot']> },
  ): LiveActor {
    const live: LiveActor = {
      actor: undefined as unknown as PaymentActor,
      lastPath: '',
      lastStatus: 'processing',
      pending: null,
      lastQueued: null,
      emitted: [],
      pendingCommit: Promise.resolve(true),
    };
    // Input is read only when a machine starts fresh; a restored actor takes its context from the snapshot.
    const start = 'input' in options ? options : { snapshot: options.snapshot, input: undefined as unknown as PaymentInput };
    const watched = this.deps.inspectorFor?.(paymentId);
    live.actor = createActor(this.deps.machine, {
      ...start,
      inspect: (inspection) => {
        if (inspection.type === '@xstate.snapshot' && inspection.actorRef === live.actor) {
          this.onSnapshot(paymentId, live, inspection.event, inspection.snapshot as PaymentSnapshot);
        }
        watched?.(inspection);
      },
    });
    live.actor.on('*', (emitted) => live.emitted.push(emitted));
    live.lastPath = statePath(live.actor.getSnapshot().value);
    live.lastStatus = publicStatusOf(live.actor.getSnapshot());
    return live;
  }

  private start(paymentId: string, live: LiveActor): void {
    this.live.set(paymentId, live);
    this.deps.ops.trigger.actorStarted();
    live.actor.subscribe({
      error: (error) => this.log.error({ paymentId, err: error }, 'payment actor failed'),
    });
    live.actor.start();
    // Nothing to write (its snapshot is the stored one): a resting or waiting actor
    // still leaves memory once everything queued so far is committed (or failed to be).
    if (live.pending === null) {
      const settle = () => this.afterCommit(paymentId, live, live.actor.getSnapshot());
      this.deps.db.commit.flush().then(settle, settle);
    }
  }

  private onSnapshot(paymentId: string, live: LiveActor, event: EventObject, snapshot: PaymentSnapshot): void {
    if (this.live.get(paymentId) !== live) return; // a stopped actor's last words
    // Starting (fresh or restored) changes nothing the database does not already hold.
    if (event.type === 'xstate.init') return;
    const emitted = live.emitted;
    live.emitted = [];
    const write = buildWrite({
      paymentId,
      from: live.lastPath,
      fromStatus: live.lastStatus,
      emitted,
      event,
      snapshot,
      persisted: JSON.stringify(live.actor.getPersistedSnapshot()),
      now: this.deps.clock(),
    });
    live.lastPath = write.state;
    live.lastStatus = write.status;
    live.lastQueued = snapshot;
    if (live.pending) {
      live.pending = mergeWrites(live.pending, write);
      return;
    }
    live.pending = write;
    let taken: { merged: HostWrite; latest: PaymentSnapshot } | undefined;
    live.pendingCommit = this.deps.db.commit
      .run(async (tx) => {
        // Taken before the first await: a snapshot arriving while this job runs starts the
        // next write. Taken once: the group commit may run the job again.
        taken ??= this.takePending(live);
        const { merged, latest } = taken;
        await writeSnapshot(tx, merged, this.deps.owner);
        await this.deps.onTransitions?.(tx, merged, () => this.deps.orders.require(paymentId, tx));
        return { latest, arrived: arrivedAtRest(merged, latest) };
      })
      .then(
        ({ latest, arrived }) => {
          if (arrived) this.logAtRest(latest);
          this.afterCommit(paymentId, live, latest);
          return true;
        },
        (error: unknown) => {
          this.onWriteFailed(paymentId, live, error);
          return false;
        },
      );
  }

  /** The write waiting for its job, and the snapshot it brings the payment to; a later snapshot starts the next write. */
  private takePending(live: LiveActor): { merged: HostWrite; latest: PaymentSnapshot } {
    const merged = live.pending as HostWrite;
    live.pending = null;
    return { merged, latest: live.lastQueued as PaymentSnapshot };
  }

  /**
   * The write was refused: memory is ahead of the truth, so the actor goes and the
   * payment resumes from its last committed state. Lost lease: another process runs it
   * now. A failure that may pass (busy database, I/O): this process resumes it shortly.
   * Any other failure would fail again at once: the reconciler retries it on its round.
   */
  private onWriteFailed(paymentId: string, live: LiveActor, error: unknown): void {
    live.pending = null;
    this.deps.ops.trigger.snapshotWriteFailed();
    this.evict(paymentId, live, false);
    if (error instanceof LeaseLost) {
      this.log.warn({ paymentId }, 'lease lost to another process; dropping the actor');
      return;
    }
    this.log.error({ paymentId, err: error }, 'snapshot write failed; the payment resumes from its last committed state');
    if (!isTransient(error) || this.stopping) return;
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      void this.resume(paymentId).catch((resumeError: unknown) => {
        // The reconciler takes it from here (the payment is still leased to us), or another
        // process once the lease, no longer renewed, lapses.
        this.log.error({ paymentId, err: resumeError }, 'resume after a failed write failed');
      });
    }, RESUME_AFTER_FAILED_WRITE_MS);
    timer.unref();
    this.resumeTimers.add(timer);
  }

  private afterCommit(paymentId: string, live: LiveActor, committed: PaymentSnapshot | null): void {
    const waiters = this.waiters.get(paymentId);
    if (waiters) for (const check of [...waiters]) check();
    const current = live.actor.getSnapshot();
    const settled = current === committed && live.pending === null;
    if (settled && (current.hasTag(RESTING) || current.hasTag(WAITING)) && this.live.get(paymentId) === live) {
      this.evict(paymentId, live, true);
    }
  }

  /** One line per payment that came to rest: how it ended, for a person reading the log. */
  private logAtRest(snapshot: PaymentSnapshot): void {
    const { context } = snapshot;
    this.log.info(
      {
        paymentId: context.paymentId,
        status: publicStatusOf(snapshot),
        state: statePath(snapshot.value),
        amount: context.amount,
        cancelledAmount: context.cancelledAmount || undefined,
        failureCode: context.failureCode ?? undefined,
      },
      'payment at rest',
    );
  }

  /** Stops an actor; with `release`, its lease too, so any process may pick the payment up. */
  private evict(paymentId: string, live: LiveActor, release: boolean): void {
    if (this.live.get(paymentId) !== live) return;
    this.live.delete(paymentId);
    this.deps.orders.forget(paymentId);
    live.actor.stop();
    this.deps.ops.trigger.actorStopped();
    // After its last write: that write's rows are written after the other jobs of its
    // batch, so a release in the same batch would come first and their lease check refuse them.
    if (release) void live.pendingCommit.then(() => this.releaseLater(paymentId));
  }

  /**
   * Gives up the lease of a payment that left memory, with the others that left since the
   * last release: one job and one statement for them all.
   */
  private releaseLater(paymentId: string): void {
    this.toRelease.add(paymentId);
    if (this.releaseQueued) return;
    this.releaseQueued = true;
    let taken: string[] | undefined;
    this.deps.db.commit
      .run(async (tx) => {
        // Taken once: the group commit may run the job again.
        taken ??= this.takeReleases();
        // Being brought back (an event arrived since): the lease is in use again.
        const idle = taken.filter((id) => !this.live.has(id) && !this.hydrating.has(id));
        await releaseLeases(tx, idle, this.deps.owner);
      })
      .catch((error: unknown) => {
        // Refused before it ran (the batch failed to begin): the next eviction queues a new job.
        taken ??= this.takeReleases();
        // No longer renewed (the actors are gone), the leases expire within LEASE_TTL_MS.
        this.log.warn({ paymentIds: taken, err: error }, 'lease release failed; the leases expire instead');
      });
  }

  private takeReleases(): string[] {
    const taken = [...this.toRelease];
    this.toRelease.clear();
    this.releaseQueued = false;
    return taken;
  }
}
