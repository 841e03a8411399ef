// An ONNX file as the importer reads it: the ModelProto decoded (graph/onnx-proto.ts's schema),
// its opset, its one input and output, its nodes with their attributes, and its tensors'
// values (float32 for weights; the few integer and float constants shapes and pads are made
// of), external data read from beside the file. A file that is not ONNX, is cut short, or
// names weights that are not there is one message, before anything is translated.
import path from 'node:path';
import { isUserError, UserError } from '../../../common/errors.ts';
import { insideFolder, readRegular } from '../../fs/read.ts';
import { DataType, onnxType } from '../onnx-proto.ts';

/** A tensor's values: floats as float32 or float64, integers and booleans as numbers. */
export interface Tensor {
  dims: number[];
  /** 'float' for FLOAT/DOUBLE/FLOAT16, 'int' for the integer types and BOOL. */
  type: 'float' | 'int';
  data: Float32Array | number[];
}

export interface OnnxAttr {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  ints?: number[];
  floats?: number[];
  t?: Tensor;
}

export interface OnnxNode {
  opType: string;
  domain: string;
  /** The node's name, or its first output's where it has none. */
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttr>;
}

export interface ValueInfo {
  name: string;
  elemType: number;
  /** Each dimension: a number, or the name of a free dimension (or '?'). */
  dims: (number | string)[] | null;
}

export interface OnnxModel {
  producer: { name: string; version: string };
  irVersion: number;
  /** The default domain's operator set. */
  opset: number;
  nodes: OnnxNode[];
  initializers: Map<string, Tensor>;
  /** The graph's real inputs (initializers listed as inputs left out, as IR < 4 writes them). */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Every operator domain the file imports, with its version. */
  opsets: Record<string, number>;
}

/** What protobufjs gives for the parts of a ModelProto we read (see onnx-proto.ts). */
interface RawTensor {
  name?: string;
  dims?: number[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  rawData?: Uint8Array;
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}
interface RawAttr {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: RawTensor;
  ints?: number[];
  floats?: number[];
  g?: unknown;
  graphs?: unknown[];
}
interface RawValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: number; dimParam?: string }[] } } };
}
interface RawModel {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  opsetImport?: { domain?: string; version?: number }[];
  graph?: {
    node?: {
      opType?: string;
      domain?: string;
      name?: string;
      input?: string[];
      output?: string[];
      attribute?: RawAttr[];
    }[];
    initializer?: RawTensor[];
    sparseInitializer?: unknown[];
    input?: RawValueInfo[];
    output?: RawValueInfo[];
  };
}

const refuse = (file: string, what: string, hint: string, code = 'bad-onnx') =>
  new UserError(`${file} ${what}`, `${hint} Nothing was written.`, code);

/** float16 bits to a number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A tensor's values from its raw bytes (little-endian, as ONNX stores them). */
function fromRaw(type: number, raw: Uint8Array, count: number): Tensor['data'] | null {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const width: Partial<Record<number, number>> = {
    [DataType.FLOAT]: 4,
    [DataType.DOUBLE]: 8,
    [DataType.FLOAT16]: 2,
    [DataType.INT64]: 8,
    [DataType.INT32]: 4,
    [DataType.INT8]: 1,
    [DataType.UINT8]: 1,
    [DataType.BOOL]: 1,
  };
  const w = width[type];
  if (w === undefined || raw.byteLength !== count * w) return null;
  switch (type) {
    case DataType.FLOAT:
      // A copy (aligned) where the machine is little-endian, as ONNX is: weights are most of a file.
      return LITTLE_ENDIAN
        ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
        : Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
    case DataType.DOUBLE:
      return Float32Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
    case DataType.FLOAT16:
      return Float32Array.from({ length: count }, (_, i) => half(view.getUint16(2 * i, true)));
    case DataType.INT64:
      return Array.from({ length: count }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    case DataType.INT32:
      return Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
    case DataType.INT8:
      return Array.from({ length: count }, (_, i) => view.getInt8(i));
    default:
      return Array.from(raw.subarray(0, count));
  }
}

const FLOATS: readonly number[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16];

/** A tensor's values (raw bytes or typed fields); null where its type is not one we read. */
export function tensorOf(t: RawTensor): Tensor | null {
  const dims = (t.dims ?? []).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const kind = FLOATS.includes(type) ? 'float' : 'int';
  let data: Tensor['data'] | null = null;
  if (t.rawData && t.rawData.byteLength > 0) data = fromRaw(type, t.rawData, count);
  else if (type === DataType.FLOAT) data = Float32Array.from(t.floatData ?? []);
  else if (type === DataType.DOUBLE) data = Float32Array.from(t.doubleData ?? []);
  else if (type === DataType.FLOAT16) data = Float32Array.from(t.int32Data ?? [], half);
  else if (type === DataType.INT64) data = (t.int64Data ?? []).map(Number);
  else if ([DataType.INT32, DataType.INT8, DataType.UINT8, DataType.BOOL].includes(type as 6))
    data = [...(t.int32Data ?? [])];
  if (!data || data.length !== count) return null;
  return { dims, type: kind, data };
}

const isExternal = (t: RawTensor) => t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0;

/** Reads an initializer's external data from beside the file, as the ONNX spec places it. */
async function readExternal(t: RawTensor, file: string, shown: string): Promise<void> {
  const entry = new Map((t.externalData ?? []).map((e) => [e.key, e.value]));
  const location = entry.get('location');
  const missing = (why: string) =>
    refuse(
      shown,
      `keeps the weights of ${t.name ?? 'a tensor'} in an external file, ${why}.`,
      `Put that file next to ${path.basename(file)} (as it was exported), or export the model again with its weights inside (torch.onnx.export does unless the model is over 2 GB).`,
      'missing-external-data',
    );
  if (!location) throw missing('but does not say which');
  const dir = path.dirname(path.resolve(file));
  let bytes: Buffer;
  try {
    const where = await insideFolder(dir, location, file);
    bytes = await readRegular(where, { maxBytes: 2 ** 31 });
  } catch (e) {
    if (isUserError(e)) throw e;
    throw missing(`${location}, which is missing`);
  }
  const offset = Number(entry.get('offset') ?? 0);
  const length = entry.has('length') ? Number(entry.get('length')) : bytes.length - offset;
  if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length))
    throw missing(`${location}, which is shorter than the file says`);
  t.rawData = bytes.subarray(offset, offset + length);
}

function valueInfo(v: RawValueInfo): ValueInfo {
  const tt = v.type?.tensorType;
  return {
    name: v.name ?? '',
    elemType: tt?.elemType ?? 0,
    dims: tt?.shape?.dim
      ? tt.shape.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : (d.dimParam ?? '?')))
      : null,
  };
}

/** AttributeProto.type: which field holds the value (a value of 0 or "" is not written out). */
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 };

function attrOf(a: RawAttr, node: string, shown: string): OnnxAttr {
  const out: OnnxAttr = { name: a.name };
  if (a.f !== undefined || a.type === ATTR.FLOAT) out.f = a.f ?? 0;
  if (a.i !== undefined || a.type === ATTR.INT) out.i = Number(a.i ?? 0);
  if (a.s !== undefined || a.type === ATTR.STRING) out.s = new TextDecoder().decode(a.s ?? new Uint8Array());
  if (a.ints || a.type === ATTR.INTS) out.ints = (a.ints ?? []).map(Number);
  if (a.floats || a.type === ATTR.FLOATS) out.floats = [...(a.floats ?? [])];
  if (a.t) {
    const t = tensorOf(a.t);
    if (!t)
      throw refuse(
        shown,
        `holds a constant of a type we do not read (node ${node}).`,
        'Export the model again.',
      );
    out.t = t;
  }
  return out;
}

/**
 * Decodes an ONNX file's bytes: one message for a file that is not ONNX, is cut short, or
 * misses its external weights. `file` is where it was read (for external data), `shown` how
 * messages name it.
 */
export async function readOnnx(bytes: Uint8Array, file: string, shown: string): Promise<OnnxModel> {
  const t = onnxType('ModelProto');
  let raw: RawModel;
  try {
    raw = t.toObject(t.decode(bytes), { longs: Number, defaults: false }) as RawModel;
  } catch (e) {
    // ONNX files begin with their IR version (field 1, a varint: byte 0x08).
    throw bytes[0] === 0x08
      ? refuse(
          shown,
          `is cut short or damaged: it does not decode as ONNX (${(e as Error).message}).`,
          'Copy or export the file again.',
        )
      : refuse(
          shown,
          'is not an ONNX model.',
          'Give a .onnx file written by torch.onnx.export, tf2onnx or Keras.',
        );
  }
  const g = raw.graph;
  if (!raw.irVersion || !g?.node?.length || !g.output?.length)
    throw refuse(
      shown,
      'is not an ONNX model (it has no graph).',
      'Give a .onnx file written by torch.onnx.export, tf2onnx or Keras.',
    );
  if (g.sparseInitializer?.length)
    throw refuse(
      shown,
      'holds sparse initializers, which are not read.',
      'Export the model with dense weights.',
    );
  const opsets: Record<string, number> = {};
  for (const o of raw.opsetImport ?? []) opsets[o.domain || 'ai.onnx'] = Number(o.version ?? 0);
  const opset = opsets['ai.onnx'];
  if (!opset) throw refuse(shown, 'imports no ONNX operator set.', 'Export the model again.');
  const initializers = new Map<string, Tensor>();
  for (const init of g.initializer ?? []) {
    if (isExternal(init)) await readExternal(init, file, shown);
    const value = tensorOf(init);
    if (!value)
      throw refuse(
        shown,
        `holds the tensor ${init.name} of a type or size we do not read (ONNX data type ${init.dataType}).`,
        'Export the model with float32 weights.',
      );
    initializers.set(init.name ?? '', value);
  }
  const nodes: OnnxNode[] = g.node.map((n) => {
    const outputs = n.output ?? [];
    const name = n.name || outputs[0] || n.opType || '?';
    return {
      opType: n.opType ?? '',
      domain: n.domain === 'ai.onnx' ? '' : (n.domain ?? ''),
      name,
      inputs: n.input ?? [],
      outputs,
      attrs: new Map((n.attribute ?? []).map((a) => [a.name, attrOf(a, name, shown)])),
    };
  });
  return {
    producer: { name: raw.producerName ?? '', version: raw.producerVersion ?? '' },
    irVersion: Number(raw.irVersion),
    opset,
    opsets,
    nodes,
    initializers,
    inputs: (g.input ?? []).map(valueInfo).filter((i) => !initializers.has(i.name)),
    outputs: g.output.map(valueInfo),
  };
}
