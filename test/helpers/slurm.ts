// A single-node Slurm cluster in a temporary folder, for the tests that submit to a real one:
// munged with its own key and socket, slurmctld and slurmd on free ports with
// proctrack/linuxproc and task/none (no cgroups: jobs run as plain processes), no accounting.
// Stopped by the pids in their PID files. `slurmMissing` says why a test cannot have one.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './temp.ts';

const DAEMONS = ['munged', 'slurmctld', 'slurmd'];

/** Why no cluster can be started here (a program missing, not root), or null when one can. */
export function slurmMissing(): string | null {
  for (const p of [...DAEMONS, 'sbatch', 'squeue', 'sinfo']) {
    const found = spawnSync('sh', ['-c', `command -v ${p} || test -x /usr/sbin/${p}`]).status === 0;
    if (!found) return `${p} is not installed (apt-get install slurm-wlm munge)`;
  }
  if (process.getuid?.() !== 0) return 'the daemons run as root here (SlurmUser=root), and this is not root';
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sbin = (p: string) => (existsSync(`/usr/sbin/${p}`) ? `/usr/sbin/${p}` : p);

export interface SlurmCluster {
  dir: string;
  /** The environment a client needs (SLURM_CONF). */
  env: Record<string, string>;
  stop(): void;
}

/** Starts munged, slurmctld and slurmd; resolves once the node is idle. */
export async function startSlurm(): Promise<SlurmCluster> {
  const dir = tempDir('slurm');
  for (const d of ['munge', 'state', 'spool', 'log', 'tmp']) mkdirSync(path.join(dir, d));
  chmodSync(path.join(dir, 'munge'), 0o711);
  const key = path.join(dir, 'munge', 'munge.key');
  writeFileSync(key, Buffer.from(Array.from({ length: 1024 }, () => Math.floor(Math.random() * 256))));
  chmodSync(key, 0o400);
  const socket = path.join(dir, 'munge', 'munge.socket');
  const pids = DAEMONS.map((d) => path.join(dir, `${d}.pid`));
  const stop = () => {
    for (const f of [...pids].reverse()) {
      if (!existsSync(f)) continue;
      const pid = Number(readFileSync(f, 'utf8').trim());
      try {
        if (pid > 0) process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
  };
  try {
    execFileSync(sbin('munged'), [
      '--force',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--log-file=${path.join(dir, 'log', 'munged.log')}`,
      `--pid-file=${pids[0]}`,
      `--seed-file=${path.join(dir, 'munge', 'seed')}`,
    ]);
    const host = os.hostname();
    const [ctld, slurmd] = [await freePort(), await freePort()];
    const conf = path.join(dir, 'slurm.conf');
    writeFileSync(
      conf,
      [
        `ClusterName=dec${process.pid}`,
        `SlurmctldHost=${host}`,
        `SlurmctldPort=${ctld}`,
        `SlurmdPort=${slurmd}`,
        'AuthType=auth/munge',
        `AuthInfo=socket=${socket}`,
        'CredType=cred/munge',
        'SlurmUser=root',
        'SlurmdUser=root',
        `StateSaveLocation=${path.join(dir, 'state')}`,
        `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
        `SlurmctldPidFile=${pids[1]}`,
        `SlurmdPidFile=${pids[2]}`,
        `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'MpiDefault=none',
        'ReturnToService=2',
        `NodeName=${host} CPUs=${os.cpus().length} RealMemory=1000 State=UNKNOWN`,
        'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    const env = { SLURM_CONF: conf, TMPDIR: path.join(dir, 'tmp') };
    const run = { env: { ...process.env, ...env } };
    execFileSync(sbin('slurmctld'), ['-f', conf], run);
    execFileSync(sbin('slurmd'), ['-f', conf], run);
    for (let i = 0; i < 60; i++) {
      const r = spawnSync('sinfo', ['-h', '-o', '%t'], { ...run, encoding: 'utf8' });
      if (r.status === 0 && /^idle/m.test(r.stdout)) return { dir, env, stop };
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the single-node Slurm cluster did not come up; see ${path.join(dir, 'log')}`);
  } catch (e) {
    stop();
    throw e;
  }
}
