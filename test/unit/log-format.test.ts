import { describe, expect, it } from 'vitest';
import { formatRecord } from '../../src/log-format.ts';
import { createLogger } from '../../src/logger.ts';

/** A record's time as the formatter shows it: the local time of day. */
const AT = new Date(2026, 0, 2, 9, 4, 5, 67).getTime();

/** Lines a logger of the given format writes, captured instead of printed. */
function capture(format: 'pretty' | 'json') {
  const lines: string[] = [];
  const logger = createLogger('info', 'paystate', { format, destination: { write: (text) => lines.push(text) } });
  return { logger, lines };
}

describe('pretty log lines', () => {
  it('puts time, level, component and message first, then the fields as key=value', () => {
    const record = { level: 30, time: AT, pid: 1, hostname: 'vm', name: 'paystate', component: 'payment-host', msg: 'payment at rest', paymentId: 'pay_1', amount: 30000, failureCode: null };
    expect(formatRecord(record)).toBe('09:04:05.067 INFO  [payment-host] payment at rest paymentId=pay_1 amount=30000 failureCode=null\n');
  });

  it('names the logger when there is no component, and tells the mock PG apart', () => {
    expect(formatRecord({ level: 40, time: AT, name: 'paystate', msg: 'pg call failed' })).toBe('09:04:05.067 WARN  [paystate] pg call failed\n');
    expect(formatRecord({ level: 20, time: AT, name: 'mock-pg', component: 'mock-pg', msg: 'charge requested', outcome: 'ok' })).toBe(
      '09:04:05.067 DEBUG [mock-pg] charge requested outcome=ok\n',
    );
  });

  it('quotes strings that have spaces, quotes or equals signs, and writes objects as JSON', () => {
    const record = { level: 30, time: AT, name: 'paystate', msg: 'x', reason: 'changed my mind', query: 'a=b', chaos: { failureRate: 0.5 }, ids: [1, 2] };
    expect(formatRecord(record)).toBe('09:04:05.067 INFO  [paystate] x reason="changed my mind" query="a=b" chaos={"failureRate":0.5} ids=[1,2]\n');
  });

  it("shows an error's message, and its stack only at error level", () => {
    const err = { type: 'Error', message: 'database is locked', stack: 'Error: database is locked\n    at commit (group-commit.ts:1:1)' };
    expect(formatRecord({ level: 40, time: AT, name: 'paystate', msg: 'lease release failed', err })).toBe(
      '09:04:05.067 WARN  [paystate] lease release failed err="database is locked"\n',
    );
    expect(formatRecord({ level: 50, time: AT, name: 'paystate', msg: 'snapshot write failed', paymentId: 'pay_1', err })).toBe(
      '09:04:05.067 ERROR [paystate] snapshot write failed paymentId=pay_1 err="database is locked"\n' +
        '    Error: database is locked\n' +
        '        at commit (group-commit.ts:1:1)\n',
    );
  });

  it('writes one line per record through the logger, with billing keys and credentials masked', () => {
    const { logger, lines } = capture('pretty');
    logger.child({ component: 'mock-pg' }).info({ billingKey: 'bk_live_0123456789', order: { billingKey: 'bk_live_abcdef' } }, 'charge requested');
    logger.info({ headers: { authorization: 'PortOne local-mock-pg-secret' } }, 'call');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  \[mock-pg\] charge requested billingKey=\*{4}6789 order=\{"billingKey":"\*{4}cdef"\}\n$/);
    expect(lines[1]).toMatch(/ INFO  \[paystate\] call headers=\{"authorization":"\*{4}cret"\}\n$/);
    expect(lines.join('')).not.toMatch(/bk_live|local-mock-pg-secret/);
  });

  it('lets no terminal escape through: control characters in the message, values and stacks are written escaped', () => {
    const err = { type: 'Error', message: 'bad \u001b[2J', stack: 'Error: bad \u001b[2J\n    at x (\u009b31m)' };
    const line = formatRecord({ level: 50, time: AT, name: 'paystate', msg: 'hello \u001b[31mred', name2: 'a\u009bb', plain: 'ok', err });
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(line).toContain('hello \\u001b[31mred');
    expect(line).toContain('name2="a\\u009bb"');
    expect(line).toContain('plain=ok');
    expect(line).toContain('    at x (\\u009b31m)');
  });

  it('keeps JSON as pino writes it when asked for json', () => {
    const { logger, lines } = capture('json');
    logger.info({ billingKey: 'bk_live_0123456789' }, 'charge requested');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 30, name: 'paystate', msg: 'charge requested', billingKey: '****6789' });
  });
});
