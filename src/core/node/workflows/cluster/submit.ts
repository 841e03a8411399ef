// A grid's plan handed to the schedulers people already have (no scheduler of our own):
// Slurm batch scripts (phase one as an array, phase two as an array that waits for it, the
// merge once both are over, whatever became of each task) and a Kubernetes Indexed Job with
// its merge Job. Both run `decomposer task` with the index the scheduler gives each task.
import path from 'node:path';
import { phases, type Plan } from './plan.ts';

/** Quoted for a POSIX shell. */
export const shq = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export interface SlurmOptions {
  planFile: string;
  /** The data folder the merge goes into (and the tasks read datasets from). */
  home: string;
  /** Where the scripts and the tasks' logs go. */
  dir: string;
  partition?: string;
  gres?: string;
  exclusive?: boolean;
  cpusPerTask?: number;
  time?: string;
  maxParallel?: number;
}

export interface SlurmScripts {
  phase1: string;
  phase2: string | null;
  merge: string;
}

/** The three sbatch scripts of a plan (phase two is null when the grid has no baseline). */
export function slurmScripts(plan: Plan, o: SlurmOptions): SlurmScripts {
  const p = phases(plan);
  const cmd = (args: string[]) => [...plan.command, ...args].map(shq).join(' ');
  const logs = path.join(o.dir, 'logs');
  const head = (name: string, array: string | null, log: string) =>
    [
      '#!/bin/bash',
      `#SBATCH --job-name=${name}`,
      `#SBATCH --chdir=${plan.cwd}`,
      `#SBATCH --output=${path.join(logs, log)}`,
      ...(array ? [`#SBATCH --array=${array}`] : []),
      ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
      ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    ].join('\n');
  const taskHead = (name: string, array: string) =>
    [
      head(name, array, 'task-%a.out'),
      ...(o.gres ? [`#SBATCH --gres=${o.gres}`] : []),
      ...(o.cpusPerTask ? [`#SBATCH --cpus-per-task=${o.cpusPerTask}`] : []),
      ...(o.exclusive ? ['#SBATCH --exclusive'] : []),
      // The job knows it had the node to itself (recorded with every run it measures).
      `export DECOMPOSER_EXCLUSIVE=${o.exclusive ? 1 : 0}`,
    ].join('\n');
  // The task's own database on the node's disk (Slurm's TMPDIR where the site sets one).
  const task = cmd(['task', path.resolve(o.planFile), '--publish', plan.shards, '--home', o.home]);
  const limit = o.maxParallel ? `%${o.maxParallel}` : '';
  const name = `decomposer-${plan.id}`;
  return {
    phase1: `${taskHead(`${name}-decompose`, `0-${p.one - 1}${limit}`)}\n${task}\n`,
    phase2:
      p.two > 0
        ? `${taskHead(`${name}-baselines`, `${p.one}-${plan.tasks.length - 1}${limit}`)}\n${task}\n`
        : null,
    merge: `${head(`${name}-merge`, null, 'merge.out')}\n${cmd(['merge', plan.shards, '--home', o.home])}\n`,
  };
}

export interface KubernetesOptions {
  planFile: string;
  home: string;
  image: string;
  /** The PersistentVolumeClaim holding the shared folder, mounted at `mount` (the plan's paths). */
  claim: string;
  mount: string;
  maxParallel?: number;
  gpus?: number;
  /** How long a phase-two task waits for phase one's shards, s. */
  waitPhaseOne: number;
}

type Manifest = Record<string, unknown>;

/** The folder every path a plan's tasks use lies under: the shared folder to mount. */
export function sharedRoot(paths: string[]): string {
  const parts = paths.map((p) => path.resolve(p).split(path.sep));
  const common: string[] = [];
  for (let i = 0; parts.every((p) => p[i] !== undefined && p[i] === parts[0]![i]); i++)
    common.push(parts[0]![i]!);
  return common.join(path.sep) || path.sep;
}

/**
 * The plan's tasks as one Indexed Job (completionMode: Indexed, one completion per task, the
 * index in JOB_COMPLETION_INDEX; phase two's tasks wait for phase one's shards), and the merge
 * Job to apply once it is over (`kubectl wait --for=condition=complete` or failed).
 */
export function kubernetesManifests(plan: Plan, o: KubernetesOptions): { tasks: Manifest; merge: Manifest } {
  const name = `decomposer-${plan.id}`;
  const volume = { name: 'shared', persistentVolumeClaim: { claimName: o.claim } };
  const container = (cmd: string[], env: { name: string; value: string }[]) => ({
    name: 'decomposer',
    image: o.image,
    workingDir: plan.cwd,
    command: ['decomposer', ...cmd],
    env,
    volumeMounts: [{ name: 'shared', mountPath: o.mount }],
    ...(o.gpus ? { resources: { limits: { 'nvidia.com/gpu': o.gpus } } } : {}),
  });
  const job = (jobName: string, spec: Manifest, cmd: string[], env: { name: string; value: string }[]) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { app: 'decomposer', grid: plan.id } },
    spec: {
      ...spec,
      template: {
        metadata: { labels: { app: 'decomposer', grid: plan.id } },
        spec: { restartPolicy: 'Never', containers: [container(cmd, env)], volumes: [volume] },
      },
    },
  });
  const planFile = path.resolve(o.planFile);
  return {
    tasks: job(
      `${name}-tasks`,
      {
        completionMode: 'Indexed',
        completions: plan.tasks.length,
        parallelism: Math.min(o.maxParallel ?? plan.tasks.length, plan.tasks.length),
        // A failed index is retried on its own, and does not fail the others.
        backoffLimitPerIndex: 2,
        maxFailedIndexes: plan.tasks.length,
      },
      [
        'task',
        planFile,
        '--publish',
        plan.shards,
        '--home',
        o.home,
        '--wait-phase-one',
        String(o.waitPhaseOne),
      ],
      [{ name: 'DECOMPOSER_JOB_NAME', value: `${name}-tasks` }],
    ),
    merge: job(
      `${name}-merge`,
      {
        completions: 1,
        backoffLimit: 2,
        // Exit 3: merged, but tasks are left (the merge's own verdict): retrying cannot change it.
        podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [3] } }] },
      },
      ['merge', plan.shards, '--home', o.home],
      [],
    ),
  };
}
