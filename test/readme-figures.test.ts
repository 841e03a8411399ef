// The README's quoted figures against the recorded outputs of the commands that printed them
// (docs/figures/, scripts/figures/): the README may not drift from its records, nor the
// records from the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkReadme, compareRecords, QUOTES, render } from '../scripts/figures/quotes.ts';
import { at, readRecord, ROOT } from '../scripts/figures/record.ts';

test('every figure the README quotes is what its recorded command printed', () => {
  assert.deepEqual(checkReadme(), []);
});

test('a README figure edited away from its record, or a record regenerated without the README, is caught', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const demo = readRecord('demo')!;
  const quoted = render(
    QUOTES.find((q) => q.step === 'demo' && q.text.startsWith('The model reached'))!,
    demo,
  );
  assert.equal(typeof quoted, 'string');
  const top1 = /reached (\d+\.\d)%/.exec(quoted as string)![1]!;
  // The README says another top-1 than the record.
  const edited = readme.replace(`reached ${top1}%`, `reached ${(Number(top1) + 1).toFixed(1)}%`);
  assert.notEqual(edited, readme);
  assert.ok(checkReadme(edited).some((p) => p.includes(`reached ${top1}%`)));
  // A rerun that printed another top-1: the comparison names it; times and loads are not compared.
  const rerun = structuredClone(demo);
  (rerun.output as { model: { top1: number } }).model.top1 += 0.01;
  rerun.seconds += 600;
  rerun.load_before += 3;
  const diffs = compareRecords('demo', demo, rerun);
  assert.equal(diffs.length, 1, diffs.join('\n'));
  assert.match(diffs[0]!, /The model reached/);
});

test('paths into a record: keys, indices, selectors and lists', () => {
  const v = {
    rows: [
      { kind: 'a', d: 0.1, x: 1 },
      { kind: 'b', d: 0.05, x: 2 },
    ],
    list: [3, 4],
  };
  assert.equal(at(v, 'rows.1.x'), 2);
  assert.equal(at(v, 'rows[kind=b,d=0.05].x'), 2);
  assert.equal(at(v, 'rows[kind=c].x'), undefined);
  assert.deepEqual(at(v, 'rows[*].x'), [1, 2]);
  assert.equal(at(v, 'list.0'), 3);
});
