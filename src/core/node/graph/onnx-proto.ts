// ONNX files, written and read: the subset of the ONNX protobuf schema (onnx/onnx.proto, IR
// version 8) that our graphs use, as protobufjs reflection JSON, and the pieces every graph we
// write is made of (attributes, typed values, the model around a graph). Field numbers are
// those of onnx.proto; names are camelCase (protobufjs' convention; only the numbers reach
// the wire). Kept in code rather than a .proto file so packaged builds need no resource lookup.
import protobuf from 'protobufjs';

type Fields = Record<string, { type: string; id: number; rule?: 'repeated' }>;
const rep = (type: string, id: number) => ({ type, id, rule: 'repeated' as const });

const AttributeProto: { fields: Fields } = {
  fields: {
    name: { type: 'string', id: 1 },
    f: { type: 'float', id: 2 },
    i: { type: 'int64', id: 3 },
    s: { type: 'bytes', id: 4 },
    t: { type: 'TensorProto', id: 5 },
    g: { type: 'GraphProto', id: 6 },
    floats: rep('float', 7),
    ints: rep('int64', 8),
    strings: rep('bytes', 9),
    tensors: rep('TensorProto', 10),
    graphs: rep('GraphProto', 11),
    docString: { type: 'string', id: 13 },
    type: { type: 'int32', id: 20 },
  },
};

export const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        AttributeProto,
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: rep('string', 1),
            output: rep('string', 2),
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: rep('AttributeProto', 5),
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: rep('OperatorSetIdProto', 8),
            metadataProps: rep('StringStringEntryProto', 14),
          },
        },
        StringStringEntryProto: {
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: rep('NodeProto', 1),
            name: { type: 'string', id: 2 },
            initializer: rep('TensorProto', 5),
            sparseInitializer: rep('bytes', 15),
            docString: { type: 'string', id: 10 },
            input: rep('ValueInfoProto', 11),
            output: rep('ValueInfoProto', 12),
            valueInfo: rep('ValueInfoProto', 13),
          },
        },
        TensorProto: {
          fields: {
            dims: rep('int64', 1),
            dataType: { type: 'int32', id: 2 },
            floatData: rep('float', 4),
            int32Data: rep('int32', 5),
            int64Data: rep('int64', 7),
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: rep('double', 10),
            uint64Data: rep('uint64', 11),
            docString: { type: 'string', id: 12 },
            externalData: rep('StringStringEntryProto', 13),
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        TensorShapeProto: {
          fields: { dim: rep('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
      },
    },
  },
};

/** TensorProto.DataType values. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;
/** AttributeProto.AttributeType values. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** The operator set and IR version of every graph we write. */
export const OPSET = 17;
export const IR_VERSION = 8;

export interface Attr {
  name: string;
  type: number;
  i?: number;
  f?: number;
  ints?: number[];
  s?: Uint8Array;
  /** A subgraph (an If's branches): a GraphProto in the schema's field names. */
  g?: object;
}
export const int = (name: string, i: number): Attr => ({ name, type: AttrType.INT, i });
export const ints = (name: string, v: number[]): Attr => ({ name, type: AttrType.INTS, ints: v });
export const float = (name: string, f: number): Attr => ({ name, type: AttrType.FLOAT, f });
export const str = (name: string, s: string): Attr => ({
  name,
  type: AttrType.STRING,
  s: new TextEncoder().encode(s),
});

/** A graph input or output: its name, element type and dims (a string names a free dim). */
export const valueInfo = (name: string, elemType: number, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  },
});

let root: protobuf.Root | null = null;

export function onnxType(name: string): protobuf.Type {
  root ??= protobuf.Root.fromJSON(ONNX_SCHEMA);
  return root.lookupType(`onnx.${name}`);
}

/** Encodes a ModelProto given as a plain object in the schema's camelCase field names. */
export function encodeModel(model: object): Uint8Array {
  const t = onnxType('ModelProto');
  const err = t.verify(model);
  if (err) throw new Error(`ONNX model does not fit the schema: ${err}`);
  return t.encode(t.fromObject(model)).finish();
}

/**
 * Our ModelProto around `graph` (a GraphProto in the schema's field names): opset OPSET, and
 * version 1 of each other operator domain the graph uses (onnxruntime's contrib ops).
 */
export function encodeGraph(
  graph: object,
  domains: Iterable<string> = [],
  metadata: Record<string, string> = {},
): Uint8Array {
  const props = Object.entries(metadata).map(([key, value]) => ({ key, value }));
  return encodeModel({
    irVersion: IR_VERSION,
    producerName: 'decomposer',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: OPSET }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    graph,
    ...(props.length ? { metadataProps: props } : {}),
  });
}

/** Decodes a ModelProto back into a plain object (for tests and diagnostics). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const t = onnxType('ModelProto');
  return t.toObject(t.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<
    string,
    unknown
  >;
}
