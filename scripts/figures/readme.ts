// The README's quoted figures: each entry is a sentence of the README with holes for the
// values of one recorded output (docs/figures/<step>.json). Paths are into the record:
// `output.` is the command's JSON, `seconds`, `load_before`, `cpu` the facts beside it.
import type { Quote } from './record.ts';

const row = (sel: string) => `output.decomposition[${sel}]`;
const mc = row('approach=CI+TI+MC');
const prose = (d: string) => row(`approach=CI+TI+MC-BLN,rule=prose,delta=${d}`);
const alg2 = (d: string) => row(`approach=CI+TI+MC-BLN,rule=algorithm2,delta=${d}`);
const point = (p: string) => row(`approach=CI+TI+MC,point=${p}`);
const reuse = (k: string) => `output.reuse[kind=${k}]`;
const replace = (k: string) => `output.replace[kind=${k}]`;
const wizardRow = (name: string, r: string, confusion: string) =>
  `| ${name} | {${r}.top1:pct} | {${r}.top5:pct} | ${confusion} | {${r}.other_top1:pct} |`;
const option = (n: number) => `output.options[option=${n}]`;

/** How a demo's model stopped training: the same sentence in both demos' paragraphs. */
const modelStopped =
  `The model stopped at epoch {output.model.epochs:int} (its best, epoch {output.model.best_epoch:int}, ` +
  `{output.model.converged:converged}).`;

/** A demo's CO2e ratios of training from scratch over each scenario; `end` closes the README's clause. */
const co2eQuote = (step: string, end: string): Quote => ({
  step,
  text:
    `the CO2e of training from scratch until the best epoch over reuse's was ` +
    `{~${reuse('intra')}.co2e_ratio_best:ratio} (intra reuse), {~${reuse('inter')}.co2e_ratio_best:ratio} (inter ` +
    `reuse), {~${replace('intra')}.co2e_ratio_best:ratio} (intra replace) and ` +
    `{~${replace('inter')}.co2e_ratio_best:ratio} (inter replace)${end}`,
});

/**
 * One demo's paragraph (the embedded `shapes` or Fashion-MNIST): the same figures, quoted alike
 * (a scenario's flag comes from its own row's warning).
 */
const demoQuotes = (step: string): Quote[] => [
  {
    step,
    text:
      `The model reached {output.model.top1:pct} test top-1; Table 1 composed {${mc}.top1:pct} with every ` +
      `approach (JI module vs model {${mc}.ji:f2}, module vs module {${mc}.ji_modules:f2}).`,
  },
  {
    step,
    text:
      `Reuse: intra ({${reuse('intra')}.classes.0:cls} + {${reuse('intra')}.classes.1:cls}) MA ` +
      `{${reuse('intra')}.ma:pct} against TMA {${reuse('intra')}.tma:pct} (baseline best at epoch ` +
      `{${reuse('intra')}.baseline_best_epoch:int}, {${reuse('intra')}.baseline_converged:converged}); ` +
      `inter ({${reuse('inter')}.classes.0:cls} + {${reuse('inter')}.classes.1:cls}) MA {${reuse('inter')}.ma:pct}, ` +
      `MMA {${reuse('inter')}.mma:pct}, TMA {${reuse('inter')}.tma:pct} (best epoch {${reuse('inter')}.baseline_best_epoch:int}).`,
  },
  {
    step,
    text:
      `Replace: intra {${replace('intra')}.top1:pct} against the model's {${replace('intra')}.model_top1:pct} ` +
      `(its baseline is the model itself, {${replace('intra')}.baseline_converged:converged}` +
      `{${replace('intra')}.warning:flag}); inter ` +
      `{${replace('inter')}.top1:pct} against TMA {${replace('inter')}.tma:pct} (best epoch ` +
      `{${replace('inter')}.baseline_best_epoch:int}{${replace('inter')}.warning:flag}).`,
  },
];

export const QUOTES: Quote[] = [
  // Decomposition: the observation points.
  {
    step: 'shapes-points',
    text:
      `Measured on the demo's ResNet-8 ({output.model.top1:pct} top-1 on \`shapes\`, 500 images per class ` +
      `observed): composed top-1 {${point('conv')}.top1:pct} at \`conv\` (JI {${point('conv')}.ji:f2}) against ` +
      `{${point('relu')}.top1:pct} at \`relu\` (JI {${point('relu')}.ji:f2}).`,
  },
  {
    step: 'fashion-points',
    text:
      `all 10,000 test images, model {output.model.top1:pct}): composed top-1 {${point('relu')}.top1:pct} at ` +
      `\`relu\` (JI module vs model {${point('relu')}.ji:f2}), {${point('conv')}.top1:pct} at \`conv\` ` +
      `({${point('conv')}.ji:f2}) and {${point('conv-skip-add')}.top1:pct} at \`conv-skip-add\` ` +
      `({${point('conv-skip-add')}.ji:f2})`,
  },
  // Decomposition: MC-BLN's rules and δ.
  {
    step: 'fashion-rules',
    text: `a ResNet-20 trained one epoch on Fashion-MNIST ({output.model.top1:pct} top-1,`,
  },
  {
    step: 'shapes-rules',
    text: `the demo's ResNet-8 on \`shapes\` ({output.model.top1:pct}, 200 per class, 1,000 test images)`,
  },
  {
    step: 'fashion-rules',
    text:
      `Fashion-MNIST {${mc}.top1:pct2}%, prose {${prose('0.1')}.top1:pct2} / {${prose('0.05')}.top1:pct2} / ` +
      `{${prose('0.02')}.top1:pct2}%, Algorithm 2 {${alg2('0.1')}.top1:pct2} / {${alg2('0.05')}.top1:pct2} / ` +
      `{${alg2('0.02')}.top1:pct2}%;`,
  },
  {
    step: 'shapes-rules',
    text:
      `\`shapes\` {${mc}.top1:pct}, prose {${prose('0.1')}.top1:pct1} / {${prose('0.05')}.top1:pct1} / ` +
      `{${prose('0.02')}.top1:pct1}%, Algorithm 2 {${alg2('0.1')}.top1:pct1} / {${alg2('0.05')}.top1:pct1} / ` +
      `{${alg2('0.02')}.top1:pct1}%.`,
  },
  // Portable modules.
  {
    step: 'fashion-export',
    text:
      `modules {output.modules[*].bytes:mbrange} MB each, \`composed.onnx\` {output.composed.bytes:mb} MB for ` +
      `all ten.`,
  },
  // The demos.
  {
    step: 'demo',
    text:
      `{~seconds:min} minutes on this 2-core machine ({~cpu}) with nothing else running (load average ` +
      `{~load_before:f1} when it started, {~load_after:f1} when it ended: the demo's own two workers). ` +
      modelStopped,
  },
  ...demoQuotes('demo'),
  co2eQuote('demo', ';'),
  {
    step: 'demo-fashion',
    text:
      `in {~seconds:min} minutes (load average {~load_before:f1} when it started, {~load_after:f1} when it ` +
      `ended). ` +
      modelStopped,
  },
  ...demoQuotes('demo-fashion'),
  co2eQuote('demo-fashion', ''),
  // The demo in both attributions, quiet and with one CPU kept busy from halfway.
  ...(
    [
      ['demo-process', 'process', 'nothing else'],
      ['demo-process-load', 'process', 'one CPU busy from halfway'],
      ['demo-machine', 'machine', 'nothing else'],
      ['demo-machine-load', 'machine', 'one CPU busy from halfway'],
    ] as const
  ).map(([step, attribution, beside]) => ({
    step,
    text:
      `| \`${attribution}\` | ${beside} | {~${reuse('intra')}.co2e_ratio_best:ratio} | ` +
      `{~${reuse('inter')}.co2e_ratio_best:ratio} | {~${replace('intra')}.co2e_ratio_best:ratio} | ` +
      `{~${replace('inter')}.co2e_ratio_best:ratio} | {~seconds:min} min |`,
  })),
  // The wizard.
  {
    step: 'wizard',
    text: `(\`decomposer wizard --demo --json --idle-seconds 0\`, {~seconds:int} s on this 2-core machine; energy estimated):`,
  },
  {
    step: 'wizard',
    text: wizardRow(
      'faulty model',
      'output.initial',
      '{output.initial.confusion:pct0} (clean twin: {output.fault.cleanConfusion:pct0})',
    ),
  },
  {
    step: 'wizard',
    text: wizardRow('composed modules', 'output.composed', '{output.composed.confusion:pct0}'),
  },
  ...(
    [
      [1, "better model's module"],
      [2, 'two-class module'],
      [3, 'module removed'],
      [4, 'verify with modules'],
    ] as const
  ).map(([n, name]) => ({
    step: 'wizard',
    text: wizardRow(`${n}: ${name}`, option(n), `{${option(n)}.confusion:pct0}`),
  })),
  {
    step: 'wizard',
    text:
      `(the two-class ResNet-8 told rings from circles {output.pair_train.top1:pct} of the time; option ` +
      `{output.recommendation.option:int} recommended).`,
  },
];
