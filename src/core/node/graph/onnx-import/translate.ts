// The translation of an ONNX graph into plan layers, node by node in the file's (topological)
// order: each node's rule is found by its operator type and the file's opset (registry.ts);
// constant-only nodes are folded (constants.ts). Every node that cannot be translated is
// noted with its reason and the rest goes on (its outputs marked refused, so their readers
// say nothing more): one message then names them all.
import type { PlanNodeSpec } from '../../models/schema.ts';
import {
  attrReader,
  needImage,
  Refusal,
  type ImportContext,
  type LayerSpec,
  type Weights,
} from './context.ts';
import { FOLDED, foldConstant } from './constants.ts';
import type { OnnxModel, OnnxNode } from './model.ts';
import { ruleFor } from './registry.ts';
import { describe, type FlatValue, type ImageValue, type Value } from './values.ts';

export interface Layer {
  spec: PlanNodeSpec;
  weights: Weights;
}

export interface Translation {
  layers: Layer[];
  values: Map<string, Value>;
  /** "Op (node "name"): why" for every node refused. */
  refused: string[];
  warnings: string[];
}

/** Plan names are the file's node names, made unique. */
function namer() {
  const used = new Set<string>();
  return (base: string) => {
    let name = base || 'layer';
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
}

export function translateGraph(
  model: OnnxModel,
  input: { name: string; value: Value; layer: Layer },
  batch: number | null,
): Translation {
  const values = new Map<string, Value>();
  for (const [name, t] of model.initializers) values.set(name, { kind: 'const', t });
  values.set(input.name, input.value);
  const layers: Layer[] = [input.layer];
  const name = namer();
  name(input.layer.spec.name);
  const refused: string[] = [];
  const warnings: string[] = [];
  const uses = new Map<string, number>();
  for (const n of model.nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of model.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const outputs = new Set(model.outputs.map((o) => o.name));

  for (const node of model.nodes) {
    const refuse = (why: string): never => {
      throw new Refusal(why);
    };
    const markRefused = (why: string | null) => {
      if (why) refused.push(`${node.opType} (node "${node.name}"): ${why}`);
      for (const o of node.outputs) values.set(o, { kind: 'refused' });
    };
    // An operator nothing here reads is named whatever its inputs are.
    const rule = ruleFor(node.opType, node.domain, model.opset);
    if (!rule && !(node.domain === '' && FOLDED.has(node.opType))) {
      markRefused(
        `${node.domain ? `an operator of the ${node.domain} domain` : 'this operator'} is not supported`,
      );
      continue;
    }
    const ins = node.inputs.map((i) => (i ? values.get(i) : null));
    const undefinedInput = node.inputs.find((i, k) => i && ins[k] === undefined);
    if (undefinedInput !== undefined) {
      markRefused(`its input ${undefinedInput} is not computed before it`);
      continue;
    }
    if (ins.some((v) => v?.kind === 'refused')) {
      markRefused(null);
      continue;
    }
    const ctx = context(
      node,
      model.opset,
      batch,
      ins as (Value | null)[],
      { uses, outputs },
      layers,
      name,
      refuse,
      warnings,
    );
    try {
      const folded = ins.every((v) => !v || v.kind === 'const' || v.kind === 'shape')
        ? foldConstant(ctx)
        : null;
      if (!folded && !rule) refuse(`a ${node.opType} of computed values (only of constants)`);
      const outs = folded ?? rule!.translate(ctx);
      node.outputs.forEach((o, k) => {
        if (!o) return;
        const v = outs[k];
        if (v) values.set(o, v);
        else if ((uses.get(o) ?? 0) > 0) refuse(`its output ${k + 1} is used, which is not supported`);
      });
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      markRefused(e.message);
    }
  }
  return { layers, values, refused, warnings };
}

function context(
  node: OnnxNode,
  opset: number,
  batch: number | null,
  ins: (Value | null)[],
  graph: { uses: Map<string, number>; outputs: Set<string> },
  layers: Layer[],
  name: (base: string) => string,
  refuse: (why: string) => never,
  warnings: string[],
): ImportContext {
  const emit = (layer: LayerSpec, weights: Weights = {}): string => {
    const n = name(node.name);
    layers.push({ spec: { ...layer, name: n, source: `${node.opType} "${node.name}"` }, weights });
    return n;
  };
  const ctx: ImportContext = {
    node,
    opset,
    batch,
    ...attrReader(node, refuse),
    input: (i) => ins[i] ?? null,
    constant(i, what) {
      const v = ins[i];
      if (v?.kind !== 'const') refuse(`its ${what} is ${v ? describe(v) : 'missing'}, not a constant`);
      return v.t;
    },
    image(i) {
      const v = ins[i] ?? null;
      if (v?.kind !== 'padded') return needImage(ctx, v);
      // A pending zero pad that this node cannot fold: a padding layer of its own.
      const [t, l, b, r] = v.pads;
      const [h, w, c] = v.of.shape;
      const padded: ImageValue = {
        kind: 'image',
        layout: 'nchw',
        shape: [h + t + b, w + l + r, c],
        node: emit({ className: 'ZeroPadding2D', inputs: [v.of.node], pads: v.pads }),
      };
      return padded;
    },
    flat(i) {
      const v = ins[i] ?? null;
      if (v?.kind !== 'flat')
        refuse(`its input is ${v ? describe(v) : 'missing'}, not a flat [N, features] value`);
      return v as FlatValue;
    },
    emit,
    layer: (n) => layers.find((l) => l.spec.name === n),
    uses: (i = 0) => graph.uses.get(node.outputs[i] ?? '') ?? 0,
    isOutput: (i = 0) => graph.outputs.has(node.outputs[i] ?? ''),
    refuse,
    warn: (message) => warnings.push(`${node.opType} (node "${node.name}"): ${message}`),
  };
  return ctx;
}
