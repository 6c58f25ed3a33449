import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, withDiagrams } from '../../scripts/diagram.ts';
import { paymentMachine } from '../../machines/payment.machine.ts';
import { toMermaid } from '../../src/diagram/mermaid.ts';

describe("the README's machine diagrams", () => {
  it('are the ones `npm run diagram` draws from the machines now', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toContain('<!-- diagram:payment -->');
    expect(withDiagrams(readme) === readme, 'run `npm run diagram`').toBe(true);
  });

  it('draw every state and every transition, the eventless ones included', () => {
    const diagram = toMermaid(paymentMachine);
    expect(diagram).toContain('state "watching" as failed__watching');
    expect(diagram).toContain('failed__ended --> failed__watching: always [chargeMayLandLate]');
    expect(diagram).toContain('charging__calling --> finalizing: chargePayment done [chargePaid]');
    expect(diagram).toContain('failed__watching --> cancelled: pg.status [pgSaysReturned]');
    expect(diagram).toContain('cancelled --> [*]');
  });
});
