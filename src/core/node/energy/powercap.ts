// Linux RAPL through the powercap sysfs interface. systeminformation does not read it, so
// this reader is ours.
//
// Zones live under /sys/class/powercap (a setting: powercapRoot, DECOMPOSER_POWERCAP_ROOT):
// intel-rapl:N (MSR, also used by AMD), its sub-zones intel-rapl:N:M, and intel-rapl-mmio:N.
// We count zones named package-N (and package-N-die-D) plus their `dram` sub-zones: DRAM is
// not inside the package figure, so it is added separately. psys (the whole platform), core
// and uncore (parts of the package) are skipped, or they would be counted twice. A zone seen
// twice (the flat symlink and the nested folder; the MSR and the MMIO copy of one package;
// the per-die counters of multi-die AMD parts, which mirror one counter) is counted once.
//
// Energy is the difference of energy_uj readings; a counter that went backwards wrapped, so
// max_energy_range_uj is added. The sampler reads far more often than any counter can wrap
// (maxSafeIntervalMs), so a counter never wraps twice between readings.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_POWERCAP_ROOT = '/sys/class/powercap';

/** Reads a sysfs file as text; injectable so tests can simulate unreadable files as root. */
export type FileReader = (file: string) => string;
export const readSysfs: FileReader = (file) => fs.readFileSync(file, 'utf8');

export interface RaplZone {
  /** Folder of the zone (real path). */
  dir: string;
  /** Zone folder name, e.g. intel-rapl:0:1. */
  id: string;
  name: string;
  domain: 'package' | 'dram';
  /** package-0, package-0-die-1, or package-0/dram: the key duplicates share. */
  key: string;
  maxRangeUj: number;
}

export interface RaplDiscovery {
  root: string;
  zones: RaplZone[];
  /** Zones seen but not counted, and why. */
  skipped: { id: string; name: string; reason: string }[];
  /** Why RAPL cannot be used (empty when it can). */
  problems: string[];
  /** True when some energy_uj exists but is readable only by root. */
  rootOnly: boolean;
}

const PACKAGE_RE = /^package-(\d+)(?:-die-(\d+))?$/;

/** How to grant read access to energy_uj (root-only since the 2020 PLATYPUS fix, CVE-2020-8694). */
export function raplAccessHint(root = DEFAULT_POWERCAP_ROOT): string {
  return (
    `grant read access until the next reboot with: sudo chmod o+r ${root}/intel-rapl:*/energy_uj ${root}/intel-rapl:*/intel-rapl:*/energy_uj` +
    ` ; or for good with a udev rule: echo 'ACTION=="add", SUBSYSTEM=="powercap", RUN+="/bin/chmod o+r /sys%p/energy_uj"' | sudo tee /etc/udev/rules.d/99-powercap-read.rules && sudo udevadm trigger --subsystem-match=powercap --action=add`
  );
}

function readTrim(read: FileReader, file: string): string | null {
  try {
    return read(file).trim();
  } catch {
    return null;
  }
}

/** All zone folders below root, each once (by real path). */
function zoneDirs(root: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries.sort()) {
      if (!e.includes(':')) continue; // zones are <control-type>:N[:M]; skip `intel-rapl` itself
      const p = path.join(dir, e);
      let real: string;
      try {
        real = fs.realpathSync(p);
        if (!fs.statSync(real).isDirectory()) continue;
      } catch {
        continue;
      }
      if (!seen.has(real)) {
        seen.add(real);
        out.push(real);
      }
      if (depth < 3) walk(real, depth + 1);
    }
  };
  walk(root, 0);
  // MSR zones before MMIO ones, so the MSR copy of a duplicated zone is the one kept.
  return out.sort((a, b) => {
    const ma = path.basename(a).includes('mmio') ? 1 : 0;
    const mb = path.basename(b).includes('mmio') ? 1 : 0;
    return ma - mb || a.localeCompare(b);
  });
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** Finds the package and DRAM zones and checks each energy_uj can be read. */
export function discoverRapl(root = DEFAULT_POWERCAP_ROOT, read: FileReader = readSysfs): RaplDiscovery {
  const d: RaplDiscovery = { root, zones: [], skipped: [], problems: [], rootOnly: false };
  if (!fs.existsSync(root)) {
    d.problems.push(`${root} does not exist (not Linux, or a VM/container without the powercap interface).`);
    return d;
  }
  const candidates: (RaplZone & { value: number })[] = [];
  for (const dir of zoneDirs(root)) {
    const id = path.basename(dir);
    const name = readTrim(read, path.join(dir, 'name'));
    if (name === null) continue;
    let domain: 'package' | 'dram' | null = null;
    let key = name;
    if (PACKAGE_RE.test(name)) domain = 'package';
    else if (name === 'dram') {
      domain = 'dram';
      const parentName = readTrim(read, path.join(path.dirname(dir), 'name'));
      const parent = parentName && PACKAGE_RE.test(parentName) ? parentName : id.replace(/:\d+$/, '');
      key = `${parent}/dram`;
    }
    if (!domain) {
      d.skipped.push({
        id,
        name,
        reason:
          name === 'psys'
            ? 'psys is the whole platform (it would count package and DRAM twice)'
            : name === 'core' || name === 'uncore'
              ? `${name} is part of the package figure`
              : 'not a package or DRAM zone',
      });
      continue;
    }
    const file = path.join(dir, 'energy_uj');
    let raw: string;
    try {
      raw = read(file).trim();
    } catch (e) {
      const code = errCode(e);
      if (code === 'EACCES' || code === 'EPERM') {
        d.rootOnly = true;
        d.problems.push(`${file} is readable only by root (since 2020, CVE-2020-8694).`);
      } else d.problems.push(`${file} cannot be read (${code}).`);
      continue;
    }
    const value = Number(raw);
    const maxRangeUj = Number(readTrim(read, path.join(dir, 'max_energy_range_uj')) ?? NaN);
    if (!Number.isFinite(value)) {
      d.problems.push(`${file} does not hold a number ("${raw.slice(0, 40)}").`);
      continue;
    }
    candidates.push({
      dir,
      id,
      name,
      domain,
      key,
      maxRangeUj: Number.isFinite(maxRangeUj) ? maxRangeUj : 0,
      value,
    });
  }
  // Duplicates: the same key (MSR/MMIO copies), or package counters that read the same value
  // (mirrored per-die counters): the first is kept.
  const keys = new Set<string>();
  const values = new Map<number, string>();
  for (const c of candidates) {
    if (keys.has(c.key)) {
      d.skipped.push({ id: c.id, name: c.name, reason: `duplicate of another ${c.key} zone` });
      continue;
    }
    if (c.domain === 'package' && c.value !== 0 && values.has(c.value)) {
      d.skipped.push({
        id: c.id,
        name: c.name,
        reason: `mirrors ${values.get(c.value)} (same counter value; multi-die parts repeat one counter)`,
      });
      continue;
    }
    keys.add(c.key);
    if (c.domain === 'package') values.set(c.value, c.id);
    const { value: _v, ...zone } = c;
    d.zones.push(zone);
  }
  if (d.zones.length && !d.zones.some((z) => z.domain === 'package')) {
    d.problems.push('no readable package zone (only DRAM zones).');
    d.zones = [];
  }
  if (!d.zones.length && !d.problems.length) d.problems.push(`no RAPL package zone under ${root}.`);
  return d;
}

/** Energy since the previous reading, per domain, handling wrap-around. */
export class RaplCounter {
  readonly zones: RaplZone[];
  private readonly read: FileReader;
  private last: (number | null)[];
  /** Readings that failed (the next good one covers the gap). */
  missed = 0;

  constructor(zones: RaplZone[], read: FileReader = readSysfs) {
    this.zones = zones;
    this.read = read;
    this.last = zones.map((z) => this.readUj(z));
  }

  private readUj(z: RaplZone): number | null {
    try {
      const v = Number(this.read(path.join(z.dir, 'energy_uj')).trim());
      return Number.isFinite(v) ? v : null;
    } catch {
      return null;
    }
  }

  /** Joules per domain since the previous call. */
  sample(): { cpuJ: number; dramJ: number } {
    let cpuUj = 0;
    let dramUj = 0;
    this.zones.forEach((z, i) => {
      const v = this.readUj(z);
      const prev = this.last[i];
      if (v === null) {
        this.missed++;
        return; // keep the previous reading: the next good one covers the gap
      }
      this.last[i] = v;
      if (prev === null || prev === undefined) return;
      let delta = v - prev;
      if (delta < 0) delta += z.maxRangeUj; // the counter wrapped (once: we sample often enough)
      if (delta < 0) delta = 0;
      if (z.domain === 'package') cpuUj += delta;
      else dramUj += delta;
    });
    return { cpuJ: cpuUj / 1e6, dramJ: dramUj / 1e6 };
  }

  /**
   * The longest interval between readings that cannot see a counter wrap twice, assuming no
   * zone draws more than `maxWatts`.
   */
  maxSafeIntervalMs(maxWatts = 1000): number {
    const ranges = this.zones.map((z) => z.maxRangeUj).filter((r) => r > 0);
    if (!ranges.length) return 60_000;
    return Math.max(10, Math.floor((Math.min(...ranges) / 1e6 / maxWatts) * 1000));
  }
}
