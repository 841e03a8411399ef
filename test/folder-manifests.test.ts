// What a model, module or repaired-classifier folder says about itself is checked before it is
// used (issue #22, items 4 and 5), through the CLI where a user meets it:
// - a weightsManifest path that leaves the model folder (../x, /etc/passwd, a link out) is
//   refused before anything there is read or even sized;
// - a module manifest is checked whole, against the model and modules.bin, before a mask is
//   allocated (an edited layer size used to allocate gigabytes; memory is measured);
// - repaired.json is checked whole, and against the modules it names, before it predicts
//   (a bad part used to be a raw TypeError, a wrong module silently wrong predictions).
// Each refusal is one message, exit 2; the folders, and the files they point at, are untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decompose } from '../src/core/node/decompose/decompose.ts';
import { saveModuleSet } from '../src/core/node/decompose/files.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { encodePng } from '../src/core/node/data/png.ts';
import { readModelDir } from '../src/core/node/models/io.ts';
import { saveRepaired } from '../src/core/node/wizard/repaired.ts';
import { folderState, runCliBounded, type BoundedRun } from './helpers/bounded-cli.ts';
import { colourDataset, trainedTiny } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const tmp = tempDir('manifests');

/** A ResNet-8 trained one epoch on 4 colour classes, its modules, a repaired classifier of them, and one PNG. */
const fixture = (async () => {
  const data = colourDataset({ classes: 4, train: 64, test: 8, size: 16 });
  const r = await trainedTiny(data, { runDir: path.join(tmp, 'run') });
  const modelDir = r.modelDir!;
  const plan = planModel((await readModelDir(modelDir)).artifacts);
  const engine = await openInference(modelDir);
  let setDir: string;
  let set;
  try {
    [set] = await decompose(engine, plan, data.train, { perClass: 6, classNames: data.info.classNames });
    setDir = await saveModuleSet(modelDir, set!, 'set');
  } finally {
    await engine.close();
  }
  const repaired = await saveRepaired(
    {
      kind: 'modules',
      classNames: data.info.classNames,
      parts: [{ modelDir, set: set! }],
      labels: [0, 1, 2, 3].map((classIndex) => ({ part: 0, classIndex })),
    },
    tmp,
    'repaired',
    {},
  );
  const image = path.join(tmp, 'image.png');
  writeFileSync(image, encodePng(data.test.images.subarray(0, 16 * 16 * 3), 16, 16));
  return { modelDir, setDir, repaired, image };
})();

let copies = 0;
/** A copy of `dir` under a fresh parent, to edit. */
function copyOf(dir: string): string {
  const to = path.join(tmp, `copy-${copies++}`, path.basename(dir));
  mkdirSync(path.dirname(to), { recursive: true });
  cpSync(dir, to, { recursive: true });
  return to;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

const cli = (args: string[], maxMiB = 1024): Promise<BoundedRun> =>
  runCliBounded([...args, '--json'], { maxMiB, hangSeconds: 120 });

/** The run was refused with exit 2 and one JSON error whose message matches. */
function refused(r: BoundedRun, message: RegExp): string {
  assert.equal(r.killed, null, `ended by itself (peak ${r.peakMiB.toFixed(0)} MiB)`);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const msg = (JSON.parse(r.stdout.trim()) as { error: { message: string } }).error.message;
  assert.match(msg, message);
  return msg;
}

test('a weightsManifest path that leaves the model folder is refused before it is read: predict and the ONNX export never see its bytes or its size', async () => {
  const f = await fixture;
  // A file outside the model folder with exactly the weights' size (so it would load as weights).
  const escape = copyOf(f.modelDir);
  const outside = path.join(path.dirname(escape), 'outside');
  mkdirSync(outside);
  const secret = path.join(outside, 'secret.bin');
  writeFileSync(secret, readFileSync(path.join(escape, 'weights.bin')));
  rmSync(path.join(escape, 'weights.bin'));
  editJson(path.join(escape, 'model.json'), (j) => {
    (j.weightsManifest as { paths: string[] }[])[0]!.paths = ['../outside/secret.bin'];
  });
  // A link inside the folder that resolves outside it.
  const linked = copyOf(f.modelDir);
  rmSync(path.join(linked, 'weights.bin'));
  symlinkSync(secret, path.join(linked, 'weights.bin'));
  // An absolute path: the reader used to say how large the file it reached was.
  const passwd = copyOf(f.modelDir);
  editJson(path.join(passwd, 'model.json'), (j) => {
    (j.weightsManifest as { paths: string[] }[])[0]!.paths = ['/etc/passwd'];
  });
  const before = [escape, linked, passwd, outside].map((d) => folderState(d));

  refused(
    await cli(['predict', '--model', escape, f.image]),
    /model\.json names "\.\.\/outside\/secret\.bin", which is outside .*; only files inside the folder are read/,
  );
  refused(await cli(['predict', '--model', linked, f.image]), /names "\.\/weights\.bin", which is outside/);
  const out = path.join(path.dirname(passwd), 'onnx');
  const msg = refused(
    await cli(['decompose', '--model', passwd, '--export-onnx', 'set', out]),
    /names "\/etc\/passwd", which is outside/,
  );
  assert.doesNotMatch(
    msg,
    new RegExp(`\\b${statSync('/etc/passwd').size}\\b`),
    'the size of /etc/passwd is not told',
  );
  assert.throws(() => statSync(out), 'no ONNX was written');
  assert.deepEqual(
    [escape, linked, passwd, outside].map((d) => folderState(d)),
    before,
  );
});

test('an edited module manifest is refused by field before a mask is allocated (memory measured); the folder is untouched', async (t) => {
  const f = await fixture;
  const model = copyOf(f.modelDir);
  const manifest = path.join(model, 'modules', 'set', 'manifest.json');
  const before = folderState(model);
  // Three billion positions in the first layer used to be allocated (twice per module); one
  // billion is a size the schema allows, but not the layer's shape.
  for (const [size, message] of [
    [3e9, /layers\[0\]\.size: must be at most 2147483647 \(got 3000000000\)/],
    [1e9, /layers\[0\]\.size is 1000000000, not the \d+ x \d+ x \d+ of its shape/],
  ] as const) {
    writeFileSync(manifest, readFileSync(path.join(f.setDir, 'manifest.json')));
    editJson(manifest, (j) => {
      (j.layers as { size: number }[])[0]!.size = size;
    });
    const r = await cli(['decompose', '--model', model, '--export', 'set'], 1024);
    refused(r, message);
    assert.ok(r.peakMiB < 400, `peak ${r.peakMiB.toFixed(0)} MiB`);
    t.diagnostic(`layers[0].size ${size}: peak RSS ${r.peakMiB.toFixed(0)} MiB`);
  }
  // A module of a class the model does not have; a manifest whose layers are not the model's.
  writeFileSync(manifest, readFileSync(path.join(f.setDir, 'manifest.json')));
  editJson(manifest, (j) => {
    (j.modules as { classIndex: number }[])[1]!.classIndex = 99;
  });
  refused(
    await cli(['decompose', '--model', model, '--export', 'set']),
    /modules\[1\]\.classIndex 99 is not one of the model's 4 classes/,
  );
  writeFileSync(manifest, readFileSync(path.join(f.setDir, 'manifest.json')));
  editJson(manifest, (j) => {
    (j.layers as { name: string }[])[0]!.name = 'elsewhere';
  });
  refused(
    await cli(['decompose', '--model', model, '--export', 'set']),
    /layers\[0\] is elsewhere of \d+ x \d+ x \d+, where the model's is \S+ of/,
  );
  writeFileSync(manifest, readFileSync(path.join(f.setDir, 'manifest.json')));
  assert.deepEqual(folderState(model), before);
});

test('an edited repaired.json is refused by field before it predicts: a bad part, a module it does not have, fewer names than labels, a path out of its folder', async () => {
  const f = await fixture;
  const rep = copyOf(f.repaired);
  const manifest = path.join(rep, 'repaired.json');
  const original = readFileSync(manifest);
  const before = folderState(rep);
  const cases: [(j: Record<string, unknown>) => void, RegExp][] = [
    [(j) => (j.parts = [5]), /repaired\.json is not valid: parts\[0\]: must be Object/],
    [
      (j) => ((j.labels as { classIndex: number }[])[2]!.classIndex = 99),
      /labels\[2\] names module 99 of part 0, which has 4 modules/,
    ],
    [
      (j) => (j.classNames = (j.classNames as string[]).slice(0, 3)),
      /labels has 4 entries for 3 class names/,
    ],
    [
      (j) => ((j.parts as { dir: string }[])[0]!.dir = '../../run/model'),
      /parts\[0\]\.dir\) names "\.\.\/\.\.\/run\/model", which is outside/,
    ],
  ];
  for (const [edit, message] of cases) {
    writeFileSync(manifest, original);
    editJson(manifest, edit);
    refused(await cli(['predict', '--model', rep, f.image]), message);
  }
  writeFileSync(manifest, original);
  assert.deepEqual(folderState(rep), before);
  // The untouched copy still predicts.
  const ok = await cli(['predict', '--model', rep, f.image]);
  assert.equal(ok.status, 0, ok.stderr);
});
