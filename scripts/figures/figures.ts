#!/usr/bin/env node
// The README's figures and the commands that print them.
//
//   node scripts/figures/figures.ts check
//       every quote in the README matches the recorded outputs in docs/figures/ (npm test runs this)
//   node scripts/figures/figures.ts run [--work DIR] [--record] [STEP...]
//       runs the steps again (all, or those named, with the earlier steps they need already
//       recorded), then says which quoted figures came out different; --record writes the new
//       outputs into docs/figures/ (then update the README until `check` passes)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RECORDS, readRecord, recordFile, runStep, STEPS, type Record } from './record.ts';
import { checkReadme, compareRecords } from './quotes.ts';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { work: { type: 'string' }, record: { type: 'boolean', default: false } },
  });
  const [verb, ...names] = positionals;
  if (verb === 'check') {
    const problems = checkReadme();
    for (const p of problems) console.error(p);
    if (!problems.length) console.log('every quoted figure matches its recorded output');
    return problems.length ? 1 : 0;
  }
  if (verb !== 'run') {
    console.error('usage: figures.ts check | run [--work DIR] [--record] [STEP...]');
    return 2;
  }
  const unknown = names.filter((n) => !STEPS.some((s) => s.id === n));
  if (unknown.length) {
    console.error(`unknown steps: ${unknown.join(', ')} (steps: ${STEPS.map((s) => s.id).join(', ')})`);
    return 2;
  }
  const work = path.resolve(values.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'decomposer-figures-')));
  fs.mkdirSync(work, { recursive: true });
  const fresh = new Map<string, Record>();
  // Steps not rerun lend their recorded outputs (a model folder) to the ones that are: those
  // must then still exist in --work.
  for (const s of STEPS) {
    const r = readRecord(s.id, work) ?? readRecord(s.id);
    if (r) fresh.set(s.id, r);
  }
  const log = fs.createWriteStream(path.join(work, 'progress.log'), { flags: 'a' });
  const changed: string[] = [];
  for (const s of STEPS) {
    if (names.length && !names.includes(s.id)) continue;
    console.log(`▶ ${s.id}: ${s.what}`);
    const rec = await runStep(s, work, fresh, log);
    fresh.set(s.id, rec);
    const diffs = compareRecords(s.id, readRecord(s.id), rec);
    fs.writeFileSync(path.join(work, `${s.id}.json`), JSON.stringify(rec, null, 1) + '\n');
    if (values.record) {
      fs.mkdirSync(RECORDS, { recursive: true });
      fs.writeFileSync(recordFile(s.id), JSON.stringify(rec, null, 1) + '\n');
    }
    changed.push(...diffs);
    console.log(
      `  ${rec.seconds} s, load ${rec.load_before} → ${rec.load_after}; ${diffs.length} quoted figures differ`,
    );
  }
  log.end();
  for (const c of changed) console.error(c);
  return changed.length ? 1 : 0;
}

process.exitCode = await main();
