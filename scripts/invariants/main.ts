import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { checkInvariants, type InvariantReport, type Violation } from './check-invariants.ts';
import { fetchLedger } from './ledger.ts';

// Exit codes: 0 consistent, 1 violations found, 2 could not check (usage, database, PG).
const USAGE = 'usage: npm run check-invariants -- --db <path> --pg <baseUrl> [--pg-secret <secret>] [--json]';

interface Options {
  dbPath: string;
  pgUrl: string;
  secret: string;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: { db: { type: 'string' }, pg: { type: 'string' }, 'pg-secret': { type: 'string' }, json: { type: 'boolean' } },
  });
  if (!values.db || !values.pg) throw new Error('--db and --pg are required');
  return {
    dbPath: values.db,
    pgUrl: values.pg,
    secret: values['pg-secret'] ?? process.env.PG_SECRET ?? 'local-mock-pg-secret',
    json: values.json ?? false,
  };
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function check({ dbPath, pgUrl, secret }: Options): Promise<InvariantReport> {
  const ledger = await fetchLedger(pgUrl, secret);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open database ${dbPath}: ${messageOf(err)}`);
  }
  try {
    return checkInvariants(sqlite, ledger);
  } catch (err) {
    throw new Error(`cannot read ${dbPath} as a Paystate database: ${messageOf(err)}`);
  } finally {
    sqlite.close();
  }
}

function formatViolation({ kind, paymentId, productId, message }: Violation): string {
  const ids = [paymentId && `payment=${paymentId}`, productId && `product=${productId}`].filter(Boolean);
  return [kind, ...ids, message].join(' ');
}

function formatReport(report: InvariantReport): string {
  const statuses = Object.entries(report.byStatus)
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');
  const summary = `payments ${report.payments} (${statuses || 'none'}) · products ${report.products} · PG payments ${report.pgPayments}`;
  const verdict = report.violations.length ? `${report.violations.length} violations` : 'no violations';
  return [summary, ...report.violations.map(formatViolation), verdict].join('\n');
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions();
  } catch (err) {
    process.stderr.write(`check-invariants: ${messageOf(err)}\n${USAGE}\n`);
    return 2;
  }
  let report: InvariantReport;
  try {
    report = await check(options);
  } catch (err) {
    process.stderr.write(`check-invariants: ${messageOf(err)}\n`);
    return 2;
  }
  process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
  return report.violations.length ? 1 : 0;
}

process.exitCode = await main();
