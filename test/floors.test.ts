// The floors of core/node (README, Layout) are kept by the linter: an import that climbs a
// floor, or one between the two engines that stand side by side, is refused with the rule's
// message; an import that points down passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(import.meta.dirname, '..');
const eslint = new ESLint({ cwd: root });

/** The messages of the import rule for `source` as if it were the file at `file`. */
async function refusals(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('an import that climbs a floor of core/node, or crosses between the engines, is refused', async () => {
  const climbs: [string, string, RegExp][] = [
    [
      'src/core/node/engine/training.ts',
      "import '../inference/index.ts';",
      /inference\/ stands beside engine\//,
    ],
    ['src/core/node/engine/onnx-train/build.ts', "import '../../inference/convert.ts';", /inference\//],
    [
      'src/core/node/inference/index.ts',
      "import '../engine/training.ts';",
      /engine\/ stands beside inference\//,
    ],
    ['src/core/node/graph/plan.ts', "import '../engine/training-engine.ts';", /engine\//],
    ['src/core/node/models/fit.ts', "import '../graph/plan.ts';", /graph\/ .* stands above models\//],
    ['src/core/node/data/catalogue.ts', "import '../jobs/jobs.ts';", /do not record, measure or orchestrate/],
    ['src/core/node/workflows/model-data.ts', "import '../jobs/jobs.ts';", /only the app starts jobs/],
    ['src/core/node/views.ts', "import './jobs/jobs.ts';", /only the app starts jobs/],
    ['src/core/node/store/store.ts', "import '../inference/index.ts';", /inference\//],
    // The bench's figures stand beside workflows/: what they measure never imports them.
    [
      'src/core/node/decompose/experiment.ts',
      "import '../bench/index.ts';",
      /bench\/ stands beside workflows\//,
    ],
    ['src/core/node/engine/training.ts', "import '../bench/run.ts';", /bench\//],
    ['src/core/node/workflows/grid.ts', "import '../bench/index.ts';", /bench\//],
    ['src/core/node/bench/index.ts', "import '../workflows/grid.ts';", /workflows\//],
    ['src/core/node/bench/run.ts', "import '../jobs/jobs.ts';", /only the app starts jobs/],
  ];
  for (const [file, source, message] of climbs) {
    const found = await refusals(file, source);
    assert.equal(found.length, 1, `${file}: ${source} ${JSON.stringify(found)}`);
    assert.match(found[0]!, message, file);
  }
});

test('imports that point down a floor pass', async () => {
  const down: [string, string][] = [
    ['src/core/node/engine/training.ts', "import '../graph/ort.ts';"],
    ['src/core/node/inference/index.ts', "import '../graph/plan.ts';"],
    ['src/core/node/graph/plan.ts', "import '../models/io.ts';"],
    ['src/core/node/workflows/model-data.ts', "import '../data/catalogue.ts';"],
    ['src/core/node/jobs/analysis-jobs.ts', "import '../views.ts';"],
    ['src/core/node/bench/co2e.ts', "import '../store/store.ts';"],
    ['src/core/node/bench/decomposition.ts', "import '../decompose/index.ts';"],
    ['src/core/node/bench/training.ts', "import '../engine/onnx-train/pool.ts';"],
  ];
  for (const [file, source] of down) assert.deepEqual(await refusals(file, source), [], `${file}: ${source}`);
});
