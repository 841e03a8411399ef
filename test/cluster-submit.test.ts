// Handing a grid's plan to a scheduler (issue 24): the Slurm scripts (dry run, and a real
// single-node cluster where Slurm is installed) and the Kubernetes Indexed Job, each of whose
// indexed commands is run here with JOB_COMPLETION_INDEX as a pod would run it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, cli } from './helpers/cli.ts';
import { ok, QUIET, sameRow, tinyGrid, tinyGridModel, type GridRow } from './helpers/grid.ts';
import { slurmMissing, startSlurm, type SlurmCluster } from './helpers/slurm.ts';
import { tempDir } from './helpers/temp.ts';
import { describeIssues, v } from '../src/core/common/schema.ts';

/**
 * The part of Kubernetes' batch/v1 Job (its OpenAPI: JobSpec, PodTemplateSpec, PodSpec,
 * Container, Volume) that `submit kubernetes` writes: every object strict, so a field the API
 * does not have (a misspelling, a field of another kind) or a value of the wrong type fails,
 * as `kubectl apply` would refuse it. Field names and types as the API defines them.
 */
const DNS1123 = v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/), v.maxLength(63));
const LABELS = v.record(v.string(), v.pipe(v.string(), v.maxLength(63)));
const INT32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31 - 1));
const CONTAINER = v.strictObject({
  name: DNS1123,
  image: v.string(),
  workingDir: v.optional(v.string()),
  command: v.array(v.string()),
  args: v.optional(v.array(v.string())),
  env: v.optional(v.array(v.strictObject({ name: v.string(), value: v.string() }))),
  volumeMounts: v.optional(v.array(v.strictObject({ name: DNS1123, mountPath: v.string() }))),
  resources: v.optional(
    v.strictObject({ limits: v.optional(v.record(v.string(), v.union([v.string(), v.number()]))) }),
  ),
});
const JOB = v.strictObject({
  apiVersion: v.literal('batch/v1'),
  kind: v.literal('Job'),
  metadata: v.strictObject({ name: DNS1123, labels: v.optional(LABELS) }),
  spec: v.strictObject({
    completionMode: v.optional(v.picklist(['NonIndexed', 'Indexed'])),
    completions: v.optional(INT32),
    parallelism: v.optional(INT32),
    backoffLimit: v.optional(INT32),
    // Per-index retries: only with completionMode Indexed and restartPolicy Never.
    backoffLimitPerIndex: v.optional(INT32),
    maxFailedIndexes: v.optional(INT32),
    // Kubernetes 1.26+ (on by default): what a pod's exit code does to the Job.
    podFailurePolicy: v.optional(
      v.strictObject({
        rules: v.array(
          v.strictObject({
            action: v.picklist(['FailJob', 'FailIndex', 'Ignore', 'Count']),
            onExitCodes: v.strictObject({
              containerName: v.optional(v.string()),
              operator: v.picklist(['In', 'NotIn']),
              values: v.pipe(v.array(v.pipe(INT32, v.minValue(1))), v.minLength(1), v.maxLength(255)),
            }),
          }),
        ),
      }),
    ),
    template: v.strictObject({
      metadata: v.optional(v.strictObject({ labels: v.optional(LABELS) })),
      spec: v.strictObject({
        restartPolicy: v.picklist(['Never', 'OnFailure']),
        containers: v.pipe(v.array(CONTAINER), v.minLength(1)),
        volumes: v.optional(
          v.array(
            v.strictObject({
              name: DNS1123,
              persistentVolumeClaim: v.strictObject({ claimName: v.string() }),
            }),
          ),
        ),
      }),
    }),
  }),
});

/** Problems of a Job manifest against the Job API's fields, or none. */
function jobProblems(job: unknown): string {
  const r = v.safeParse(JOB, job);
  if (!r.success) return describeIssues(r.issues);
  const spec = r.output.spec;
  if (spec.backoffLimitPerIndex !== undefined && spec.completionMode !== 'Indexed')
    return 'backoffLimitPerIndex needs completionMode Indexed';
  if (spec.backoffLimitPerIndex !== undefined && spec.template.spec.restartPolicy !== 'Never')
    return 'backoffLimitPerIndex needs restartPolicy Never';
  if (spec.podFailurePolicy && spec.template.spec.restartPolicy !== 'Never')
    return 'podFailurePolicy needs restartPolicy Never';
  if (spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > (spec.completions ?? 1))
    return 'maxFailedIndexes is more than the completions';
  return '';
}

type Row = GridRow;
const same = sameRow;

const quiet = QUIET;
let root = '';
let grid: string[] = [];
let single: Row[] = [];

/** A plan of the tiny grid in `dir` (its own shared folder and data folder). */
function planIn(dir: string): { plan: string; home: string; out: string } {
  const home = path.join(dir, 'home');
  const plan = path.join(dir, 'grid.json');
  const out = path.join(dir, 'shared');
  ok(cli([...grid, ...quiet, '--out', out, '--plan', plan], { home }));
  return { plan, home, out };
}

/** The grid's rows as `experiment reuse` shows them from `home`'s store. */
function rowsIn(home: string, out: string): Row[] {
  return (JSON.parse(ok(cli([...grid, ...quiet, '--json', '--out', out], { home }))) as { rows: Row[] }).rows;
}

before(() => {
  root = tempDir('submit');
  grid = tinyGrid(tinyGridModel(path.join(root, 'a'), path.join(root, 'one')));
  single = rowsIn(path.join(root, 'one'), path.join(root, 'one', 'experiments'));
});

test('submit slurm --dry-run writes phase one, the array after it and the merge after both, with absolute paths', () => {
  const { plan, home } = planIn(tempDir('dry', root));
  const r = ok(
    cli([
      'submit',
      'slurm',
      plan,
      ...['--dry-run', '--partition', 'gpu', '--gres', 'gpu:1', '--exclusive', '--max-parallel', '2'],
      ...['--home', home],
    ]),
  );
  const dir = path.join(path.dirname(plan), 'grid-slurm');
  assert.match(r, new RegExp(`sbatch --parsable ${dir}/phase1\\.sh`));
  assert.match(r, /sbatch --parsable '--dependency=afterany:\$PHASE1' .*phase2\.sh/);
  assert.match(r, /sbatch --parsable '--dependency=afterany:\$PHASE1:\$PHASE2' .*merge\.sh/);
  const p1 = readFileSync(path.join(dir, 'phase1.sh'), 'utf8');
  const p2 = readFileSync(path.join(dir, 'phase2.sh'), 'utf8');
  const merge = readFileSync(path.join(dir, 'merge.sh'), 'utf8');
  assert.match(p1, /^#SBATCH --array=0-0%2$/m);
  assert.match(p2, /^#SBATCH --array=1-3%2$/m);
  for (const s of [p1, p2]) {
    assert.match(s, /^#SBATCH --partition=gpu$/m);
    assert.match(s, /^#SBATCH --gres=gpu:1$/m);
    assert.match(s, /^#SBATCH --exclusive$/m);
    assert.match(s, /^export DECOMPOSER_EXCLUSIVE=1$/m);
    assert.ok(s.includes(`${BIN} task ${plan} --publish ${path.join(path.dirname(plan), 'grid-shards')}`), s);
  }
  assert.ok(
    merge.includes(`${BIN} merge ${path.join(path.dirname(plan), 'grid-shards')} --home ${home}`),
    merge,
  );
  assert.doesNotMatch(merge, /--array|--gres/);
  const bad = cli(['submit', 'slurm', plan, '--max-parallel', '0', '--dry-run']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--max-parallel: must be a whole number from 1/);
});

test('submit kubernetes prints an Indexed Job whose every index, run here, makes the grid', () => {
  const dir = tempDir('k8s', root);
  const { plan, home, out } = planIn(dir);
  const missing = cli(['submit', 'kubernetes', plan]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /needs the image/);
  const list = JSON.parse(
    ok(
      cli([
        'submit',
        'kubernetes',
        plan,
        '--image',
        'example.org/decomposer:1',
        '--max-parallel',
        '2',
        '--home',
        home,
      ]),
    ),
  ) as { kind: string; items: Record<string, any>[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(list.kind, 'List');
  const [tasks, merge] = list.items;
  for (const j of [tasks!, merge!]) {
    assert.equal(jobProblems(j), '', `${j.metadata?.name}: the Job API's fields`);
    assert.equal(j.apiVersion, 'batch/v1');
    assert.equal(j.kind, 'Job');
    assert.match(j.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 name');
    assert.ok(j.metadata.name.length <= 63);
    assert.equal(j.spec.template.spec.restartPolicy, 'Never');
    const c = j.spec.template.spec.containers[0];
    assert.equal(c.image, 'example.org/decomposer:1');
    assert.equal(c.command[0], 'decomposer');
    assert.equal(j.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, 'decomposer-shared');
    assert.ok(plan.startsWith(c.volumeMounts[0].mountPath), 'the plan lies in the mounted shared folder');
  }
  // The check refuses what the API would: a misspelt field, a retry per index without indexes.
  assert.match(
    jobProblems({ ...tasks, spec: { ...tasks!.spec, completionsMode: 'Indexed' } }),
    /completionsMode/,
  );
  assert.match(
    jobProblems({ ...merge, spec: { ...merge!.spec, backoffLimitPerIndex: 1 } }),
    /needs completionMode/,
  );
  assert.equal(tasks!.spec.completionMode, 'Indexed');
  assert.equal(tasks!.spec.completions, 4);
  assert.equal(tasks!.spec.parallelism, 2);
  assert.equal(merge!.spec.completionMode, undefined);
  // A merge that leaves tasks (exit 3) fails its Job at once: a retry would say the same.
  assert.deepEqual(merge!.spec.podFailurePolicy.rules, [
    { action: 'FailJob', onExitCodes: { operator: 'In', values: [3] } },
  ]);

  // Every index as its pod runs it (the image's decomposer is this one), phase two first: it
  // waits for phase one's shard.
  const c = tasks!.spec.template.spec.containers[0];
  const env = Object.fromEntries((c.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
  const run = (command: string[], index?: number) =>
    cli(command.slice(1), {
      home,
      cwd: c.workingDir,
      env: {
        ...env,
        TMPDIR: tempDir(`pod-${index ?? 'merge'}`, root),
        ...(index !== undefined ? { JOB_COMPLETION_INDEX: String(index) } : {}),
      },
    });
  const waiting = run([...c.command.slice(0, -1), '1'], 1);
  assert.equal(waiting.status, 2, waiting.stderr);
  assert.match(waiting.stderr, /Phase one's task 0 .* has not published its shard/);
  for (const i of [0, 1, 2, 3]) ok(run(c.command, i));
  const merged = ok(run(merge!.spec.template.spec.containers[0].command));
  assert.match(merged, /4 of 4 tasks finished/);
  assert.deepEqual(rowsIn(home, out).map(same), single.map(same));
});

let cluster: SlurmCluster | null = null;
after(() => cluster?.stop());

test(
  'submit slurm --wait on a single-node cluster runs the grid as an array and merges it',
  { skip: slurmMissing() ?? false },
  async () => {
    cluster = await startSlurm();
    const { plan, home, out } = planIn(tempDir('slurm-grid', root));
    const r = cli(['submit', 'slurm', plan, '--max-parallel', '2', '--wait', '--home', home], {
      env: cluster.env,
      timeout: 240_000,
    });
    // Slurm without cgroups may report any ending: the outputs say what happened.
    assert.match(
      r.stdout,
      /submitted grid [0-9a-f]{16}: phase one job \d+, phase two job \d+, merge job \d+/,
      r.stderr,
    );
    assert.match(r.stdout, /4 of 4 tasks finished/, r.stdout + r.stderr);
    assert.equal(r.status, 0, 'every task finished: --wait exits 0');
    for (const i of [0, 1, 2, 3]) {
      const log = readFileSync(path.join(path.dirname(plan), 'grid-slurm', 'logs', `task-${i}.out`), 'utf8');
      assert.match(log, new RegExp(`task ${i} done`), log);
    }
    assert.deepEqual(rowsIn(home, out).map(same), single.map(same));
    const runs = JSON.parse(ok(cli(['runs', '--home', home, '--json']))) as {
      runs: { scheduler: { scheduler: string; array_task_id: number } | null }[];
    };
    assert.ok(runs.runs.length > 0);
    assert.ok(runs.runs.every((x) => x.scheduler?.scheduler === 'slurm' && x.scheduler.array_task_id >= 0));
  },
);
