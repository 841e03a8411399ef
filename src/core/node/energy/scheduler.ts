// The scheduler a process runs under (Slurm or a Kubernetes Indexed Job), read from the
// environment it sets: the job and array ids, the CPUs and GPUs it allocated, and whether the
// node was the job's alone. Every run records them next to its machine, so energy measured on
// a shared node (RAPL counts the whole package) says so, and a grid's runs can be told apart
// by where they ran.
import os from 'node:os';
import { v } from '../../common/schema.ts';

/** Scheduler facts as a run's row keeps them (read back with this schema). */
export const SCHEDULER_FACTS = v.object({
  scheduler: v.picklist(['slurm', 'kubernetes']),
  job_id: v.string(),
  array_job_id: v.nullable(v.string()),
  array_task_id: v.nullable(v.number()),
  cpus: v.nullable(v.number()),
  gpus: v.nullable(v.array(v.string())),
  exclusive: v.nullable(v.boolean()),
  node: v.string(),
});

export interface SchedulerFacts {
  scheduler: 'slurm' | 'kubernetes';
  /** The job (Slurm: SLURM_JOB_ID; Kubernetes: the pod's host name, which names the Job and index). */
  job_id: string;
  /** An array's job id and this task's index in it (Slurm arrays, Indexed Jobs). */
  array_job_id: string | null;
  array_task_id: number | null;
  /** What the scheduler gave the job here: CPUs, and GPUs by their indices (null when not said). */
  cpus: number | null;
  gpus: string[] | null;
  /** Whether the job had the node to itself (Slurm --exclusive); null when not said. */
  exclusive: boolean | null;
  node: string;
}

const intOf = (s: string | undefined): number | null => {
  if (s === undefined || !/^\d+$/.test(s.trim())) return null;
  return Number(s.trim());
};

/** GPUs by index from a comma-separated list (CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS); null when unset. */
const gpuList = (s: string | undefined): string[] | null =>
  s === undefined
    ? null
    : s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '' && x !== 'NoDevFiles');

/** The scheduler facts of a process with environment `env`, or null outside a scheduler. */
export function schedulerFacts(env: NodeJS.ProcessEnv = process.env): SchedulerFacts | null {
  if (env.SLURM_JOB_ID) {
    const shared = env.SLURM_JOB_SHARED ?? env.SLURM_EXCLUSIVE;
    return {
      scheduler: 'slurm',
      job_id: env.SLURM_JOB_ID,
      array_job_id: env.SLURM_ARRAY_JOB_ID ?? null,
      array_task_id: intOf(env.SLURM_ARRAY_TASK_ID),
      cpus: intOf(env.SLURM_CPUS_ON_NODE) ?? intOf(env.SLURM_JOB_CPUS_PER_NODE),
      gpus: gpuList(env.SLURM_JOB_GPUS ?? env.SLURM_STEP_GPUS ?? env.CUDA_VISIBLE_DEVICES),
      // Slurm says "0" for an exclusive job in SLURM_JOB_SHARED (our scripts also set
      // DECOMPOSER_EXCLUSIVE, as sbatch --exclusive is not always visible to the job).
      exclusive:
        env.DECOMPOSER_EXCLUSIVE !== undefined
          ? env.DECOMPOSER_EXCLUSIVE === '1'
          : shared === undefined
            ? null
            : shared === '0' || shared === 'exclusive',
      node: env.SLURMD_NODENAME ?? os.hostname(),
    };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    return {
      scheduler: 'kubernetes',
      job_id: env.HOSTNAME ?? os.hostname(),
      array_job_id: env.DECOMPOSER_JOB_NAME ?? null,
      array_task_id: intOf(env.JOB_COMPLETION_INDEX),
      cpus: null,
      gpus: gpuList(env.NVIDIA_VISIBLE_DEVICES ?? env.CUDA_VISIBLE_DEVICES),
      exclusive: env.DECOMPOSER_EXCLUSIVE === undefined ? null : env.DECOMPOSER_EXCLUSIVE === '1',
      node: env.NODE_NAME ?? os.hostname(),
    };
  }
  return null;
}

/**
 * The task a process is, across attempts: a Slurm job keeps its id when requeued (and an array
 * task is job_task), a Kubernetes index its Job and index. Null outside a scheduler. A folder
 * lock held by the same task on another node is an earlier attempt of this one, now dead.
 */
export function schedulerTask(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID)
    return `slurm:${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  if (env.SLURM_JOB_ID) return `slurm:${env.SLURM_JOB_ID}`;
  if (env.JOB_COMPLETION_INDEX !== undefined && env.DECOMPOSER_JOB_NAME)
    return `kubernetes:${env.DECOMPOSER_JOB_NAME}:${env.JOB_COMPLETION_INDEX}`;
  return null;
}

/** The facts in words, for a run's detail: "slurm job 12 (array 11, task 3) on n1: 4 CPUs, GPUs 0, shared node". */
export function describeScheduler(f: SchedulerFacts): string {
  const array = f.array_job_id !== null || f.array_task_id !== null;
  const parts = [
    f.cpus !== null ? `${f.cpus} CPUs` : null,
    f.gpus !== null ? (f.gpus.length ? `GPUs ${f.gpus.join(',')}` : 'no GPU') : null,
    f.exclusive === null
      ? 'node sharing not said'
      : f.exclusive
        ? 'exclusive node'
        : "shared node (the CPU's power counter counts the whole package: its energy is this run's share)",
  ].filter((x) => x !== null);
  return `${f.scheduler} job ${f.job_id}${array ? ` (array ${f.array_job_id ?? '?'}, task ${f.array_task_id ?? '?'})` : ''} on ${f.node}: ${parts.join(', ')}`;
}
