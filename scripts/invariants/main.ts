import { parseArgs } from 'node:util';
import { checkInvariants, type InvariantReport, type Violation } from './check-invariants.ts';
import { fetchLedger } from './ledger.ts';
import { openReadOnly, type DatabaseTarget } from './read-only-database.ts';

// Exit codes: 0 consistent, 1 violations found, 2 could not check (usage, database, PG).
const USAGE = `usage: npm run check-invariants -- (--db <path> | --database-url postgres://…) --pg <baseUrl> [--pg-secret <secret>] [--json]
  --db: a SQLite file, opened read-only; --database-url: PostgreSQL (DATABASE_URL when neither is given)`;

interface Options {
  database: DatabaseTarget;
  pgUrl: string;
  secret: string;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      db: { type: 'string' },
      'database-url': { type: 'string' },
      pg: { type: 'string' },
      'pg-secret': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!values.pg) throw new Error('--pg is required');
  return {
    database: databaseTarget(values.db, values['database-url']),
    pgUrl: values.pg,
    secret: values['pg-secret'] ?? process.env.PG_SECRET ?? 'local-mock-pg-secret',
    json: values.json ?? false,
  };
}

/** `--db` or `--database-url`; DATABASE_URL only when neither is given. */
function databaseTarget(path: string | undefined, url: string | undefined): DatabaseTarget {
  if (path !== undefined && url !== undefined) throw new Error('--db and --database-url name two databases: give one');
  if (path !== undefined) return { path };
  const chosen = url ?? process.env.DATABASE_URL;
  if (chosen === undefined) throw new Error('--db or --database-url (or DATABASE_URL) is required');
  if (!/^postgres(ql)?:\/\/\S+$/.test(chosen)) throw new Error('the database URL must be a postgres:// or postgresql:// URL');
  return { url: chosen };
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function check({ database, pgUrl, secret }: Options): Promise<InvariantReport> {
  const ledger = await fetchLedger(pgUrl, secret);
  const opened = await openReadOnly(database);
  try {
    return await checkInvariants(opened.q, ledger);
  } catch (err) {
    throw new Error(`cannot read ${opened.name} as a Paystate database: ${messageOf(err)}`);
  } finally {
    await opened.close();
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
