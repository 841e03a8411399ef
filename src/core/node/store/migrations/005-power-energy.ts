// Step 5: the run's energy so far, as its attribution makes it, kept with its power summary at
// every heartbeat, so a run whose process dies keeps the figure it had (a `process`
// attribution figure cannot be made again from the machine's joules alone).
import type { Migration } from './migration.ts';

export const migration: Migration = {
  name: 'power-energy',
  sql: `ALTER TABLE power ADD COLUMN energy_json TEXT;`,
};
