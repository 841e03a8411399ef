// decomposer merge: the shards a grid's tasks published, merged into the data folder's
// store, so `experiment reuse|replace` with the same options shows the grid as if it had run
// on one machine; then the tasks still missing or failed, with the command that re-runs them.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.ts';
import { DB_ARGS, DB_OPTIONS, DB_USAGE, dbFileOf } from '../options.ts';
import { EXIT, info, print, printJson } from '../output.ts';
import { UserError } from '../../core/common/errors.ts';
import { v } from '../../core/common/schema.ts';
import { mergeShard, type ShardMerged } from '../../core/node/store/merge.ts';
import { Store } from '../../core/node/store/store.ts';
import { leftToRun } from '../cluster.ts';

const MERGE_ARGS = v.pipe(
  v.object(DB_ARGS),
  v.transform((o) => ({ json: o.json, dbFile: dbFileOf(o) })),
);

/** The shard files named: files as given, and a folder's task-N.db files. */
function shardFiles(given: string[]): string[] {
  const out: string[] = [];
  for (const g of given) {
    const p = path.resolve(g);
    if (existsSync(p) && statSync(p).isDirectory()) {
      const found = readdirSync(p)
        .filter((f) => /^task-\d+\.db$/.test(f))
        .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));
      if (found.length === 0)
        throw new UserError(
          `${p} holds no shards (task-N.db).`,
          "Give the folder the tasks published into (the plan's shards folder), or the files.",
          'usage',
        );
      out.push(...found.map((f) => path.join(p, f)));
    } else out.push(p);
  }
  return out;
}

export const mergeCommand: Command<v.InferOutput<typeof MERGE_ARGS>> = {
  name: 'merge',
  summary: "merge the shards a plan's tasks published into the data folder's store",
  usage: `Usage: decomposer merge SHARD.db|DIR... [--home DIR]

Imports each shard (a task's database, published as task-N.db; a folder stands for the
task-N.db files in it) into the store: runs and experiments are matched by their stable ids,
machines by their fingerprint, and the ids inside copied rows rewritten, so merging a shard
again changes nothing. A shard of another schema version is refused. Then lists, per plan,
its tasks still missing or failed, with the command that re-runs each; then it exits 3
(the shards it was given are merged, but a plan is not complete), else 0.
Afterwards decomposer experiment reuse|replace with the plan's options shows the grid.

${DB_USAGE}
  --json              print one JSON object as the result`,
  options: DB_OPTIONS,
  args: MERGE_ARGS,
  async run(o, positionals) {
    if (positionals.length === 0)
      throw new UserError(
        'No shards given.',
        "Use: decomposer merge SHARD.db... (or the plan's shards folder).",
        'usage',
      );
    const files = shardFiles(positionals);
    const store = Store.open(o.dbFile);
    try {
      const merged: ShardMerged[] = [];
      for (const f of files) {
        const m = mergeShard(store, f);
        merged.push(m);
        info(
          `${f}: ${m.runs_added} run(s) added, ${m.runs_known} already here; ${m.grid_rows_added} grid row(s) added`,
        );
      }
      const plans = new Set(merged.length ? store.grids.tasks().map((t) => t.grid_id) : []);
      const left = leftToRun(store.grids.tasks().filter((t) => plans.has(t.grid_id)));
      const added = merged.reduce((n, m) => n + m.runs_added, 0);
      if (o.json) printJson({ store: store.file, shards: merged, plans: left });
      else {
        print(
          `${files.length} shard(s) merged into ${store.file}: ${added} run(s) added${added === 0 ? ' (nothing new)' : ''}`,
        );
        for (const g of left) {
          print(`plan ${g.plan} (${g.id}): ${g.finished} of ${g.tasks} tasks finished`);
          if (g.missing.length) print(`  missing: tasks ${g.missing.join(', ')}`);
          for (const f of g.failed)
            print(`  failed: task ${f.index} on ${f.host}: ${f.error ?? 'unknown error'}`);
          for (const c of g.rerun) print(`  re-run: ${c}`);
        }
      }
      return left.some((g) => g.rerun.length > 0) ? EXIT.incomplete : EXIT.ok;
    } finally {
      store.close();
    }
  },
};
