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
// (maxSafeIntervalMs), so a counter never wraps twice between readings. sysfs rewrites these
// files in place, so a reading can come back empty or cut short: every reading is checked
// against the time since the last good one (RaplCounter).
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
    const maxRangeUj = Number(readTrim(read, path.join(dir, 'max_energy_range_uj')) ?? NaN);
    // A counter caught mid-rewrite reads empty or as a prefix: read it up to three times.
    let raw = '';
    let value: number | null = null;
    let failure: unknown = null;
    for (let tries = 0; tries < 3 && value === null; tries++) {
      try {
        raw = read(file);
        failure = null;
      } catch (e) {
        failure = e;
        const code = errCode(e);
        if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'ENOENT') break;
        continue;
      }
      value = parseUj(raw, Number.isFinite(maxRangeUj) ? maxRangeUj : 0);
    }
    if (failure !== null) {
      const code = errCode(failure);
      if (code === 'EACCES' || code === 'EPERM') {
        d.rootOnly = true;
        d.problems.push(`${file} is readable only by root (since 2020, CVE-2020-8694).`);
      } else d.problems.push(`${file} cannot be read (${code}).`);
      continue;
    }
    if (value === null) {
      d.problems.push(`${file} does not hold a counter value ("${raw.trim().slice(0, 40)}").`);
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

/**
 * A counter value, or null when the text is not one: empty (a file caught while it is being
 * rewritten; Number('') would be 0 and look like a wrap), not a plain non-negative integer,
 * or beyond the counter's range.
 */
export function parseUj(raw: string, maxRangeUj = 0): number | null {
  const t = raw.trim();
  if (!/^\d{1,20}$/.test(t)) return null;
  const v = Number(t);
  if (!Number.isSafeInteger(v)) return null;
  if (maxRangeUj > 0 && v > maxRangeUj) return null;
  return v;
}

/** No CPU package or DRAM zone draws more than this: a larger figure is a bad reading. */
export const MAX_ZONE_WATTS = 1000;
/** Clock jitter allowed on top of the elapsed time when checking a reading's power. */
const SLACK_S = 0.005;
/**
 * A counter that disagrees with its baseline this many times in a row, for at least
 * RESET_MS, was reset (a driver reload); torn readings are never that persistent.
 */
const RESET_AFTER = 3;
const RESET_MS = 1000;
/** Dropped readings kept for the run's record (the count is kept whole). */
const MAX_NOTES = 20;

/**
 * Energy since the previous reading, per domain. Every reading is checked: an unreadable or
 * non-numeric one is rejected (the previous value is kept, so the next good one covers the
 * gap); a counter that went backwards wrapped only if the energy that implies fits the time
 * since the last good reading at no more than maxWatts; any other step above maxWatts is a
 * bad reading, re-read once and otherwise dropped and noted (the baseline stays, so nothing
 * is lost when the next reading is good; a counter that keeps disagreeing was reset, and is
 * re-based). A baseline counts only once a plausible step confirms it, so a torn first
 * reading is replaced rather than trusted.
 */
export class RaplCounter {
  readonly zones: RaplZone[];
  private readonly read: FileReader;
  private readonly now: () => number;
  private readonly maxWatts: number;
  private last: (number | null)[];
  private lastAt: number[];
  private strikes: number[];
  private confirmed: boolean[];
  private readonly onNote: (line: string) => void;
  /** Readings that were not a number (empty, partial, unreadable). */
  rejected = 0;
  /** Readings implying an impossible power, not counted. */
  dropped = 0;
  /** What was dropped, one line each (the first MAX_NOTES). */
  readonly notes: string[] = [];

  constructor(
    zones: RaplZone[],
    read: FileReader = readSysfs,
    o: { now?: () => number; maxWatts?: number; onNote?: (line: string) => void } = {},
  ) {
    this.zones = zones;
    this.read = read;
    this.now = o.now ?? (() => performance.now());
    this.maxWatts = o.maxWatts ?? MAX_ZONE_WATTS;
    this.onNote = o.onNote ?? (() => undefined);
    const t = this.now();
    this.last = zones.map((z) => this.readUj(z));
    this.lastAt = zones.map(() => t);
    this.strikes = zones.map(() => 0);
    this.confirmed = zones.map(() => false);
  }

  /** Readings that did not count: rejected plus dropped. */
  get missed(): number {
    return this.rejected + this.dropped;
  }

  private readUj(z: RaplZone): number | null {
    let raw: string;
    try {
      raw = this.read(path.join(z.dir, 'energy_uj'));
    } catch {
      return null;
    }
    return parseUj(raw, z.maxRangeUj);
  }

  /** Microjoules from prev to v over `seconds`, or null when no plausible power explains it. */
  private step(z: RaplZone, prev: number, v: number, seconds: number): number | null {
    let delta = v - prev;
    if (delta < 0) {
      if (z.maxRangeUj <= 0) return null; // cannot wrap without a known range
      delta += z.maxRangeUj;
    }
    return delta <= this.maxWatts * (seconds + SLACK_S) * 1e6 ? delta : null;
  }

  private note(line: string): void {
    if (this.notes.length >= MAX_NOTES) return;
    this.notes.push(line);
    this.onNote(line);
  }

  /** Joules per domain since the previous call. */
  sample(): { cpuJ: number; dramJ: number } {
    let cpuUj = 0;
    let dramUj = 0;
    this.zones.forEach((z, i) => {
      let v = this.readUj(z);
      const t = this.now();
      if (v === null) {
        this.rejected++;
        return;
      }
      const prev = this.last[i];
      if (prev === null || prev === undefined) {
        this.last[i] = v;
        this.lastAt[i] = t;
        return;
      }
      const seconds = Math.max(0, (t - this.lastAt[i]!) / 1000);
      let delta = this.step(z, prev, v, seconds);
      if (delta === null) {
        // A reading caught mid-rewrite can be a number's prefix: read again before judging.
        const again = this.readUj(z);
        const d2 = again === null ? null : this.step(z, prev, again, seconds);
        if (d2 !== null) {
          v = again!;
          delta = d2;
        }
      }
      if (delta === null && !this.confirmed[i]) {
        // The baseline was never confirmed (it may itself be torn): start from this one.
        this.last[i] = v;
        this.lastAt[i] = t;
        return;
      }
      if (delta === null) {
        this.dropped++;
        const s = ++this.strikes[i]!;
        const reset = s >= RESET_AFTER && seconds * 1000 >= RESET_MS;
        this.note(
          `RAPL ${z.id} (${z.key}): dropped a reading of ${v} µJ after ${prev} µJ ${seconds.toFixed(3)} s earlier ` +
            `(more than ${this.maxWatts} W)${reset ? `; ${s} in a row, so the counter was reset: counting from ${v}` : ''}.`,
        );
        if (reset) {
          this.last[i] = v;
          this.lastAt[i] = t;
          this.strikes[i] = 0;
          this.confirmed[i] = false;
        }
        return;
      }
      this.confirmed[i] = true;
      this.strikes[i] = 0;
      this.last[i] = v;
      this.lastAt[i] = t;
      if (z.domain === 'package') cpuUj += delta;
      else dramUj += delta;
    });
    return { cpuJ: cpuUj / 1e6, dramJ: dramUj / 1e6 };
  }

  /**
   * The longest interval between readings that cannot see a counter wrap twice, assuming no
   * zone draws more than `maxWatts`.
   */
  maxSafeIntervalMs(maxWatts = this.maxWatts): number {
    const ranges = this.zones.map((z) => z.maxRangeUj).filter((r) => r > 0);
    if (!ranges.length) return 60_000;
    return Math.max(10, Math.floor((Math.min(...ranges) / 1e6 / maxWatts) * 1000));
  }
}
