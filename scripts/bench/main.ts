import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { runBound } from './bound.ts';
import { runChaos } from './chaos.ts';
import { runCleanPath, runCleanPathWithWebhooks } from './clean-path.ts';
import { runMemory } from './memory.ts';
import { countStatements, stopBenchPostgres } from './bench-postgres.ts';
import { HELP, parseOptions, partContext, UsageError, type BenchOptions, type Part, type PartContext } from './options.ts';
import { printProfiles } from './profile-summary.ts';
import { checkTargets, derivePostgresRatio, deriveRatios, printTable, writeReport, type BenchReport, type SetupRun } from './report.ts';
import { runRecovery } from './recovery.ts';
import { runSettlement } from './settlement.ts';
import { runName, setupLabel } from './setup.ts';
import { killEverything } from './stack.ts';
import { round } from './stats.ts';

// Children must not outlive the bench, however it ends.
process.once('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every child process`);
    killEverything();
    process.exit(130);
  });
}

/** One part on one setup; its results go into `run`. */
async function runPart(options: BenchOptions, part: Part, run: SetupRun): Promise<void> {
  const context = partContext(options, part, run);
  const on = setupLabel(run);
  console.log(`▶ ${part}${on ? ` on ${on}` : ''}: ${context.payments} payments, ${context.concurrency} clients`);
  const started = performance.now();
  try {
    await runOne(part, context, run);
  } finally {
    // Also when the part failed: the profile is most useful then.
    if (context.profile) printProfiles(context.profile.dir);
  }
  console.log(`  done in ${round((performance.now() - started) / 1000)} s`);
}

async function runOne(part: Part, context: PartContext, report: SetupRun): Promise<void> {
  switch (part) {
    case 'clean':
      report.cleanPath = await runCleanPath(context);
      break;
    case 'events':
      report.events = await runCleanPathWithWebhooks(context);
      break;
    case 'bound':
      report.bound = await runBound(context);
      break;
    case 'chaos':
      report.chaos = await runChaos(context);
      break;
    case 'recovery':
      report.recovery = await runRecovery(context);
      break;
    case 'memory':
      report.memory = await runMemory(context);
      break;
    case 'settlement':
      report.settlement = await runSettlement(context);
      break;
  }
}

/** Figures are only comparable for the same code: the service is edited while benches run. */
function measuredCode(): BenchReport['code'] {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'machines', 'db') !== '' };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    console.log(HELP);
    return;
  }
  if (options.profileDir) countStatements();
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    quick: options.quick,
    concurrency: options.concurrency,
    products: options.products,
    machine: { cpus: availableParallelism(), node: process.version },
    code: measuredCode(),
    runs: options.setups.map((setup) => ({ ...setup })),
  };
  // Part by part, each on every setup: runs to be compared are close in time on this noisy host.
  for (const part of options.parts) {
    for (const run of report.runs) {
      // A failed part is reported and the others still run: a long run is not lost to one error.
      try {
        await runPart(options, part, run);
      } catch (error) {
        console.error(`  ${runName(part, run)} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        (report.failures ??= {})[runName(part, run)] = error instanceof Error ? error.message : String(error);
        process.exitCode = 1;
      }
    }
  }
  await stopBenchPostgres();
  report.runs.forEach(deriveRatios);
  derivePostgresRatio(report);
  const targets = checkTargets(report);
  report.targets = targets;
  printTable(report, targets);
  writeReport(options.reportPath, report);
  console.log(`\nreport written to ${options.reportPath}`);
  if (options.profileDir) console.log(`CPU profiles in ${join(options.profileDir, '<part>')}/`);
}

/** A command line node:util's parseArgs refused (unknown option, missing value). */
function isParseError(error: unknown): boolean {
  return error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

try {
  await main();
} catch (error) {
  if (error instanceof UsageError || isParseError(error)) {
    console.error(`${(error as Error).message} (npm run bench -- --help)`);
    process.exitCode = 2;
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
