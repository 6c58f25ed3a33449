import { describe, expect, it } from 'vitest';
import { addDays, assertTimeZone, dateAt, dayBounds, isCalendarDate } from '../../src/settlement/business-day.ts';

const SEOUL = 'Asia/Seoul';

describe('business days', () => {
  it('puts 23:59:59 KST and 00:00:00 KST on different dates', () => {
    // KST is UTC+9 all year: 2026-12-01 00:00 KST is 2026-11-30 15:00 UTC.
    expect(dateAt(Date.parse('2026-11-30T14:59:59.999Z'), SEOUL)).toBe('2026-11-30');
    expect(dateAt(Date.parse('2026-11-30T15:00:00.000Z'), SEOUL)).toBe('2026-12-01');
    expect(dayBounds('2026-12-01', SEOUL)).toEqual({
      start: Date.parse('2026-11-30T15:00:00.000Z'),
      end: Date.parse('2026-12-01T15:00:00.000Z'),
    });
  });

  it('gives a DST day its 23 or 25 hours', () => {
    const spring = dayBounds('2026-03-08', 'America/New_York');
    expect(spring.start).toBe(Date.parse('2026-03-08T05:00:00.000Z'));
    expect(spring.end - spring.start).toBe(23 * 3_600_000);
    const autumn = dayBounds('2026-11-01', 'America/New_York');
    expect(autumn.end - autumn.start).toBe(25 * 3_600_000);
  });

  it('starts a day whose midnight a DST change skips at the first instant that exists', () => {
    // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
    const { start } = dayBounds('2026-09-06', 'America/Santiago');
    expect(dateAt(start, 'America/Santiago')).toBe('2026-09-06');
    expect(dateAt(start - 1, 'America/Santiago')).toBe('2026-09-05');
  });

  it('tells real calendar dates from look-alikes', () => {
    expect(isCalendarDate('2026-12-01')).toBe(true);
    expect(isCalendarDate('2028-02-29')).toBe(true);
    for (const bad of ['2026-02-30', '2026-13-01', '2026-1-01', '20261201', '2026-12-01T00:00:00Z', ' 2026-12-01']) {
      expect(isCalendarDate(bad)).toBe(false);
    }
  });

  it('steps across months and years', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('refuses a time zone the database does not know', () => {
    expect(() => assertTimeZone('Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => assertTimeZone(SEOUL)).not.toThrow();
  });
});
