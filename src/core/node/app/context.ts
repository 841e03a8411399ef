// What every group of the core API's handlers shares: the data folder, the store (opened on
// first use), the job runner, the backend a shell forced, and the argument check.
import { checkCall, type ApiMethod, type BackendName } from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import type { JobManager } from '../jobs/jobs.ts';
import type { Store } from '../store/store.ts';

export interface AppContext {
  home: string;
  /** The store, opened on first use (describing the machine never creates files). */
  db(): Store;
  jobs: JobManager;
  /** The training backend the hosting shell forced (null: the setting, else the fastest). */
  forcedBackend: BackendName | null;
}

/** Every method checks its arguments, whichever shell called it (the shells check them too). */
export function guard(method: ApiMethod, args: unknown[]): void {
  const problem = checkCall(method, args);
  if (problem) throw new UserError(problem, 'This is a bug in the caller; reload the page.', 'bad-request');
}
