import type { DatabaseKind } from '../lib/database-kind.ts';

export { DATABASES, type DatabaseKind } from '../lib/database-kind.ts';

/** Where a part runs the service: which database, and how many service processes share it. */
export interface Setup {
  database: DatabaseKind;
  instances: number;
}

/** What every part ran on before these options, and what the older targets are stated for. */
export const DEFAULT_SETUP: Setup = { database: 'sqlite', instances: 1 };

export function isDefaultSetup(setup: Setup): boolean {
  return setup.database === DEFAULT_SETUP.database && setup.instances === DEFAULT_SETUP.instances;
}

/** `postgres ×2`; the default setup has no label, so its runs read as they always did. */
export function setupLabel(setup: Setup): string {
  return isDefaultSetup(setup) ? '' : `${setup.database} ×${setup.instances}`;
}

/** A part's name on this setup, for directories and failures: `clean`, `clean-postgres-2`. */
export function runName(part: string, setup: Setup): string {
  return isDefaultSetup(setup) ? part : `${part}-${setup.database}-${setup.instances}`;
}
