// A business date is a calendar day in the settlement time zone ('2026-12-01'): these
// turn it into the instants it spans and back, through Intl so DST days come out right.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;
/** No zone is more than 14 hours off UTC: a day starts within this of its UTC midnight. */
const MAX_OFFSET_MS = 15 * 3_600_000;

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    // en-CA writes dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formats.set(timeZone, format);
  }
  return format;
}

/** Throws a RangeError for a name the time zone database does not know. */
export function assertTimeZone(timeZone: string): void {
  formatFor(timeZone);
}

/** A real calendar date written YYYY-MM-DD (not 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [, year, month, day] = match.map(Number) as [number, number, number, number];
  const utc = new Date(Date.UTC(year, month - 1, day));
  return utc.getUTCFullYear() === year && utc.getUTCMonth() === month - 1 && utc.getUTCDate() === day;
}

/** The business date of an instant. */
export function dateAt(epochMs: number, timeZone: string): string {
  return formatFor(timeZone).format(epochMs);
}

/** The calendar date after (or, with -1, before) a date. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The first instant of a date in the zone. A binary search over the hours around UTC
 * midnight: exact whatever the offset, and on days whose midnight a DST change skips.
 */
function startOf(date: string, timeZone: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  let low = utcMidnight - MAX_OFFSET_MS; // still the day before everywhere
  let high = utcMidnight + MAX_OFFSET_MS; // already the date (or after) everywhere
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (dateAt(mid, timeZone) < date) low = mid;
    else high = mid;
  }
  return high;
}

/** The instants of a business date: `start` inclusive, `end` exclusive (23, 24 or 25 hours apart). */
export function dayBounds(date: string, timeZone: string): { start: number; end: number } {
  return { start: startOf(date, timeZone), end: startOf(addDays(date, 1), timeZone) };
}
