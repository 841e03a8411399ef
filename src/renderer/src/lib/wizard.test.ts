import { describe, expect, test } from 'vitest';
import type { ModelSummary } from '../../../core/common/api.ts';
import { REPAIR_NAME_RE } from '../../../core/common/api.ts';
import { modelSummary } from './test-helpers.ts';
import { betterCandidates, cellRate, defaultRepairName, sanitizeName, topConfusions } from './wizard.ts';

const m = [
  [8, 2, 0],
  [0, 4, 6],
  [0, 0, 0],
];

describe('confusion helpers', () => {
  test('cellRate reads a share of the true class off the matrix', () => {
    expect(cellRate(m, 1, 2)).toEqual({ count: 6, of: 10, rate: 0.6 });
    expect(cellRate(m, 2, 0)).toEqual({ count: 0, of: 0, rate: 0 });
    expect(cellRate(m, 7, 0).rate).toBe(0);
  });

  test('topConfusions lists off-diagonal cells, highest rate first', () => {
    expect(topConfusions(m, 5).map((c) => [c.victim, c.faulty, c.rate])).toEqual([
      [1, 2, 0.6],
      [0, 1, 0.2],
    ]);
    expect(topConfusions(m, 1)).toHaveLength(1);
  });
});

const model = (over: Partial<ModelSummary>) => modelSummary({ classNames: ['a', 'b'], ...over });

test('better candidates: other models of the same classes and input size, not still training', () => {
  const models = [
    model({ dir: '/m/1' }),
    model({ dir: '/m/2', runId: 2 }),
    model({ dir: '/m/3', runId: 3, classNames: ['b', 'a'] }),
    model({ dir: '/m/4', runId: 4, inputSize: 64 }),
    model({ dir: '/m/5', runId: 5, status: 'running' }),
    model({ dir: '/m/6', runId: 6, classNames: null }),
  ];
  expect(betterCandidates(models, '/m/1', ['a', 'b'], 32).map((x) => x.dir)).toEqual(['/m/2']);
  expect(betterCandidates(models, '/m/1', null, 32)).toEqual([]);
});

test('repair names are sanitised into what the core accepts', () => {
  expect(defaultRepairName('star-6', 2)).toBe('repaired-star-6-option-2');
  expect(defaultRepairName('pickup truck/2', 3)).toBe('repaired-pickup-truck-2-option-3');
  expect(sanitizeName('  ..héllo wörld!! ')).toBe('h-llo-w-rld');
  expect(sanitizeName('***')).toBe('repaired');
  for (const s of ['a'.repeat(300), '-x-', 'é', 'repaired-star-6-option-1'])
    expect(REPAIR_NAME_RE.test(sanitizeName(s))).toBe(true);
});
