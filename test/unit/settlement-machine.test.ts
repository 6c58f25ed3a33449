import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { RESTING, WAITING } from '../../machines/payment-status.ts';
import { settlementMachine, settlementStatusOf, type SettlementRetry } from '../../machines/settlement.machine.ts';

const retry: SettlementRetry = { baseMs: 1_000, capMs: 60_000, urgentAfter: 3 };
const input = { date: '2026-12-01', retry };

type Snapshot = ReturnType<typeof initialTransition<typeof settlementMachine>>[0];
type Action = ReturnType<typeof initialTransition<typeof settlementMachine>>[1][number];
type Step = { done: string; output?: unknown } | { error: string } | { type: 'run' | 'timer.due' };

function toEvent(step: Step) {
  if ('done' in step) return { type: `xstate.done.actor.${step.done}`, output: step.output } as never;
  if ('error' in step) return { type: `xstate.error.actor.${step.error}`, error: new Error('PG list unavailable') } as never;
  return step;
}

function drive(...steps: Step[]): { snapshot: Snapshot; actions: Action[] } {
  let [snapshot, actions] = initialTransition(settlementMachine, input);
  for (const step of steps) [snapshot, actions] = transition(settlementMachine, snapshot, toEvent(step));
  return { snapshot, actions };
}

const started = (actions: Action[]) =>
  actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a as unknown as { params: { src: unknown; input: unknown } }).params);
const alerts = (actions: Action[]) =>
  actions
    .filter((a) => (a.type as string) === 'xstate.emit')
    .map((a) => (a as unknown as { params: { event: { severity: string; details: Record<string, unknown> } } }).params.event);

const run = { type: 'run' } as const;
const due = { type: 'timer.due' } as const;
const figured = { done: 'computeFigures', output: { settlements: 2, lines: 10 } };
const checked = { done: 'crossCheck', output: { discrepancies: 0 } };
const checkFailed = { error: 'crossCheck' };

describe('settlement run', () => {
  it('waits, requested, until it is asked to run; then adds up the figures first', () => {
    expect(settlementStatusOf(drive().snapshot)).toBe('requested');
    expect(started(drive().actions)).toEqual([]);
    const { snapshot, actions } = drive(run);
    expect(snapshot.value).toEqual({ processing: 'computing' });
    expect(settlementStatusOf(snapshot)).toBe('processing');
    expect(started(actions)).toMatchObject([{ src: 'computeFigures', input: { date: '2026-12-01' } }]);
  });

  it('checks the figures against the PG before it completes', () => {
    const checking = drive(run, figured);
    expect(checking.snapshot.value).toEqual({ processing: 'checking' });
    expect(started(checking.actions)).toMatchObject([{ src: 'crossCheck', input: { date: '2026-12-01' } }]);
    const { snapshot } = drive(run, figured, checked);
    expect(snapshot.value).toBe('completed');
    expect(snapshot.hasTag(RESTING)).toBe(true);
  });

  it('fails and waits when the PG list cannot be fetched, then runs again from the figures', () => {
    const { snapshot, actions } = drive(run, figured, checkFailed);
    expect(settlementStatusOf(snapshot)).toBe('failed');
    expect(snapshot.hasTag(WAITING)).toBe(true);
    expect(snapshot.context).toMatchObject({ failures: 1, lastError: 'PG list unavailable' });
    expect(snapshot.context.waitMs).toBeGreaterThanOrEqual(0);
    expect(snapshot.context.waitMs).toBeLessThanOrEqual(2_000);
    expect(alerts(actions)).toMatchObject([{ severity: 'warning', details: { date: '2026-12-01', failures: 1 } }]);
    const again = drive(run, figured, checkFailed, due);
    expect(again.snapshot.value).toEqual({ processing: 'computing' });
    expect(started(again.actions)).toMatchObject([{ src: 'computeFigures' }]);
  });

  it('fails the same way when the figures cannot be written', () => {
    const { snapshot } = drive(run, { error: 'computeFigures' });
    expect(snapshot.value).toBe('failed');
  });

  it('keeps retrying, with one warning and one urgent alert, and never completes without the check', () => {
    const steps: Step[] = [run];
    const raised: string[] = [];
    for (let i = 0; i < 6; i++) {
      steps.push(figured, checkFailed);
      raised.push(...alerts(drive(...steps).actions).map((a) => a.severity));
      expect(drive(...steps).snapshot.value).toBe('failed');
      steps.push(due);
    }
    expect(raised).toEqual(['warning', 'urgent']);
    expect(drive(...steps, figured, checked).snapshot.context).toMatchObject({ failures: 0, lastError: null });
  });

  it('grows its wait with each failure, up to the cap', () => {
    const waits: number[] = [];
    const steps: Step[] = [run];
    for (let i = 0; i < 12; i++) {
      steps.push({ error: 'computeFigures' });
      waits.push(drive(...steps).snapshot.context.waitMs);
      steps.push(due);
    }
    expect(Math.max(...waits)).toBeLessThanOrEqual(retry.capMs);
    expect(Math.max(...waits.slice(6))).toBeGreaterThan(Math.max(...waits.slice(0, 2)));
  });

  it('runs a completed date again when asked, and an operator may cut a failed wait short', () => {
    expect(drive(run, figured, checked, run).snapshot.value).toEqual({ processing: 'computing' });
    expect(drive(run, figured, checkFailed, run).snapshot.value).toEqual({ processing: 'computing' });
  });

  // The runner keeps such a request pending and starts the next run when this one ends.
  it('takes no second run event while it runs', () => {
    const { snapshot, actions } = drive(run, run);
    expect(snapshot.value).toEqual({ processing: 'computing' });
    expect(started(actions)).toEqual([]);
  });
});
