// decomposer submit: a grid's plan handed to the cluster's scheduler. Slurm: three sbatch
// scripts (phase one's array, phase two's array after it, the merge after both, `afterany` so
// one failed task does not hold the merge back), submitted, their job ids printed; --wait
// returns when the merge is over. Kubernetes: the Indexed Job and its merge Job, printed.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.ts';
import { dataHomeOf, HOME_ARGS } from '../options.ts';
import { EXIT, info, print, printJson } from '../output.ts';
import { CPUS_PER_TASK, GPUS_PER_TASK, MAX_PARALLEL, WAIT_SECONDS } from '../../core/common/bounds.ts';
import { COMMON_ARGS } from '../command.ts';
import { UserError } from '../../core/common/errors.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { didYouMean } from '../../core/common/suggest.ts';
import { readPlan, type Plan } from '../../core/node/workflows/cluster/plan.ts';
import { defaultDbFile, Store } from '../../core/node/store/store.ts';
import { leftToRun } from '../cluster.ts';
import {
  kubernetesManifests,
  sharedRoot,
  shq,
  slurmScripts,
  type SlurmScripts,
} from '../../core/node/workflows/cluster/submit.ts';

const SUBMIT_ARGS = v.object({
  ...COMMON_ARGS,
  ...HOME_ARGS,
  partition: v.optional(v.pipe(v.string(), v.regex(/^[\w.,-]+$/, 'must be a partition name'))),
  gres: v.optional(v.pipe(v.string(), v.regex(/^[\w.:,-]+$/, 'must be a GRES such as gpu:1'))),
  exclusive: v.optional(v.boolean(), false),
  'max-parallel': v.optional(MAX_PARALLEL.text),
  'cpus-per-task': v.optional(CPUS_PER_TASK.text),
  time: v.optional(v.pipe(v.string(), v.regex(/^[\d:-]+$/, 'must be a Slurm time such as 2:00:00'))),
  'dry-run': v.optional(v.boolean(), false),
  wait: v.optional(v.boolean(), false),
  image: v.optional(v.pipe(v.string(), v.minLength(1, 'must be an image'))),
  claim: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a PersistentVolumeClaim name')),
  ),
  mount: v.optional(PATH),
  gpus: v.optional(GPUS_PER_TASK.text),
  'wait-phase-one': v.optional(WAIT_SECONDS.text, 3600),
});

type SubmitArgs = v.InferOutput<typeof SUBMIT_ARGS>;

/** Runs a Slurm command; its stdout, or one message saying what failed. */
function slurm(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error)
    throw new UserError(
      `Cannot run ${cmd} (${r.error.message}).`,
      'Run decomposer submit slurm on a Slurm login node (sbatch on the PATH), or add --dry-run to only write the scripts.',
      'slurm',
    );
  if (r.status !== 0)
    throw new UserError(
      `${cmd} ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.status}`}.`,
      'Check the options against your site (partition, GRES, time).',
      'slurm',
    );
  return r.stdout.trim();
}

/** Writes the scripts; their files. */
function writeScripts(
  dir: string,
  s: SlurmScripts,
): { phase1: string; phase2: string | null; merge: string } {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const put = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    chmodSync(f, 0o755);
    return f;
  };
  return {
    phase1: put('phase1.sh', s.phase1),
    phase2: s.phase2 === null ? null : put('phase2.sh', s.phase2),
    merge: put('merge.sh', s.merge),
  };
}

/** Waits until a job has left the queue or ended (squeue keeps ended jobs a while). */
async function waitForJob(id: string): Promise<void> {
  const running = /^(PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|RESIZING|SUSPENDED)/;
  for (;;) {
    const state = slurm('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T']);
    if (!running.test(state)) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function submitSlurm(plan: Plan, file: string, o: SubmitArgs): Promise<number> {
  const home = dataHomeOf(o);
  const dir = path.join(path.dirname(path.resolve(file)), `${path.basename(file, '.json')}-slurm`);
  const files = writeScripts(
    dir,
    slurmScripts(plan, {
      planFile: file,
      home,
      dir,
      partition: o.partition,
      gres: o.gres,
      exclusive: o.exclusive,
      cpusPerTask: o['cpus-per-task'],
      time: o.time,
      maxParallel: o['max-parallel'],
    }),
  );
  const p1 = ['--parsable', files.phase1];
  const p2 = (id1: string) => ['--parsable', `--dependency=afterany:${id1}`, files.phase2!];
  const m = (after: string[]) => ['--parsable', `--dependency=afterany:${after.join(':')}`, files.merge];
  if (o['dry-run']) {
    const steps = [
      `sbatch ${p1.map(shq).join(' ')}`,
      ...(files.phase2 ? [`sbatch ${p2('$PHASE1').map(shq).join(' ')}`] : []),
      `sbatch ${m(files.phase2 ? ['$PHASE1', '$PHASE2'] : ['$PHASE1'])
        .map(shq)
        .join(' ')}`,
    ];
    if (o.json) printJson({ scripts: files, commands: steps });
    else {
      print(`scripts written to ${dir} (not submitted):`);
      for (const s of steps) print(`  ${s}`);
    }
    return EXIT.ok;
  }
  const id = (out: string) => out.split(';')[0]!.trim();
  const id1 = id(slurm('sbatch', p1));
  const id2 = files.phase2 ? id(slurm('sbatch', p2(id1))) : null;
  const id3 = id(slurm('sbatch', m(id2 ? [id1, id2] : [id1])));
  const jobs = { phase1: id1, phase2: id2, merge: id3 };
  if (!o.json) {
    print(
      `submitted grid ${plan.id}: phase one job ${id1}${id2 ? `, phase two job ${id2}` : ''}, merge job ${id3}`,
    );
    print(`logs in ${path.join(dir, 'logs')}; the merge goes into ${home}`);
  }
  if (!o.wait) {
    if (o.json) printJson({ jobs, scripts: files });
    return EXIT.ok;
  }
  info(`waiting for merge job ${id3}…`);
  await waitForJob(id3);
  const log = readFileSync(path.join(dir, 'logs', 'merge.out'), 'utf8');
  if (o.json) printJson({ jobs, scripts: files, merge_log: log });
  else print(log.trimEnd());
  // The merge's own verdict, read from the store it merged into (its exit status is Slurm's).
  const store = Store.open(defaultDbFile(home));
  try {
    const left = leftToRun(store.grids.tasks().filter((t) => t.grid_id === plan.id));
    return left.length === 0 || left.some((g) => g.rerun.length > 0) ? EXIT.incomplete : EXIT.ok;
  } finally {
    store.close();
  }
}

function submitKubernetes(plan: Plan, file: string, o: SubmitArgs): number {
  if (!o.image)
    throw new UserError(
      'decomposer submit kubernetes needs the image the pods run (--image IMAGE).',
      'Give an image with decomposer on its PATH, e.g. --image registry.example.org/decomposer:1.0.',
      'usage',
    );
  const home = dataHomeOf(o);
  const m = kubernetesManifests(plan, {
    planFile: file,
    home,
    image: o.image,
    claim: o.claim ?? 'decomposer-shared',
    mount:
      o.mount ??
      sharedRoot([
        file,
        plan.shards,
        plan.cwd,
        home,
        ...(plan.kind === 'trainings' ? [] : [plan.work_dir, ...plan.models.map((x) => x.dir)]),
      ]),
    maxParallel: o['max-parallel'],
    gpus: o.gpus,
    waitPhaseOne: o['wait-phase-one'],
  });
  // kubectl takes JSON as it takes YAML: one List, the tasks' Job first.
  printJson({ apiVersion: 'v1', kind: 'List', items: [m.tasks, m.merge] });
  const name = (j: Record<string, unknown>) => (j.metadata as { name: string }).name;
  info(
    `apply the tasks' Job, wait for it, then the merge Job:\n  kubectl apply -f - <<< "$(jq '.items[0]' FILE)"\n  kubectl wait --for=condition=complete --timeout=-1s job/${name(m.tasks)} || true\n  kubectl apply -f - <<< "$(jq '.items[1]' FILE)"`,
  );
  return EXIT.ok;
}

export const submitCommand: Command<SubmitArgs> = {
  name: 'submit',
  summary: 'hand a plan to Slurm (sbatch job arrays) or Kubernetes (an Indexed Job)',
  usage: `Usage: decomposer submit slurm PLAN.json [options]
       decomposer submit kubernetes PLAN.json --image IMAGE [options]

slurm: writes PLAN-slurm/phase1.sh (phase one's tasks as an array), phase2.sh (the
baselines as an array that starts after phase one) and merge.sh (decomposer merge, after
both whatever became of each task: afterany), with absolute paths; submits them with sbatch
and prints the job ids. Logs go to PLAN-slurm/logs/.
  --partition P       the partition
  --gres G            generic resources per task (e.g. gpu:1)
  --cpus-per-task N   CPUs per task
  --exclusive         each task has its node to itself (its energy is the node's)
  --time T            the time limit per task (e.g. 4:00:00)
  --max-parallel K    at most K tasks at once (--array=…%K)
  --dry-run           write the scripts and print the sbatch commands; submit nothing
  --wait              return when the merge is over, with its summary (exit 3 when a task
                      is missing or failed)

kubernetes: prints (JSON, which kubectl applies as it does YAML) an Indexed Job running
every task (completionMode: Indexed; JOB_COMPLETION_INDEX is the task; phase two's tasks
wait for phase one's shards) and the merge Job to apply once it is over.
  --image IMAGE       the image the pods run (decomposer on its PATH)
  --claim NAME        the PersistentVolumeClaim of the shared folder (default decomposer-shared)
  --mount DIR         where it is mounted: the plan's paths lie under it (default: their
                      common folder)
  --gpus N            GPUs per pod (nvidia.com/gpu)
  --max-parallel K    at most K pods at once
  --wait-phase-one S  how long a phase-two pod waits for phase one (default 3600)

  --home DIR          the data folder the merge goes into and the tasks read datasets from
                      (default ~/.decomposer, or DECOMPOSER_HOME); shared by every node
  --json              print one JSON object as the result
  -h, --help          this help`,
  options: {
    home: { type: 'string' },
    partition: { type: 'string' },
    gres: { type: 'string' },
    exclusive: { type: 'boolean', default: false },
    'max-parallel': { type: 'string' },
    'cpus-per-task': { type: 'string' },
    time: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    wait: { type: 'boolean', default: false },
    image: { type: 'string' },
    claim: { type: 'string' },
    mount: { type: 'string' },
    gpus: { type: 'string' },
    'wait-phase-one': { type: 'string' },
  },
  args: SUBMIT_ARGS,
  async run(o, positionals) {
    const [where, file] = positionals;
    if (where !== 'slurm' && where !== 'kubernetes')
      throw new UserError(
        `Unknown scheduler "${where ?? ''}".${didYouMean(where ?? '', ['slurm', 'kubernetes'])}`,
        'Use: decomposer submit slurm|kubernetes PLAN.json (see --help).',
        'usage',
      );
    if (!file || positionals.length > 2)
      throw new UserError(
        'Give one plan: decomposer submit slurm|kubernetes PLAN.json.',
        'Write the plan with decomposer experiment reuse|replace … --plan PLAN.json.',
        'usage',
      );
    const plan = await readPlan(file);
    return where === 'slurm' ? submitSlurm(plan, file, o) : submitKubernetes(plan, file, o);
  },
};
