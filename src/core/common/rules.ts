// Parameter rules that more than one boundary checks (the API's argument checks, the model
// builder, the CLI's options), each written once here.

/** ResNet v1 for CIFAR (He et al. 2016): depth 6n+2, n >= 1; deeper than 200 is refused. */
export const RESNET_DEPTH = { min: 8, max: 200 } as const;

/** What a refused depth is told. */
export const RESNET_DEPTH_RULE = '6n+2 from 8 to 200 (8, 14, 20, 32, 44, 56, 110, …)';

export function isResNetDepth(d: unknown): d is number {
  return (
    typeof d === 'number' &&
    Number.isInteger(d) &&
    d >= RESNET_DEPTH.min &&
    d <= RESNET_DEPTH.max &&
    (d - 2) % 6 === 0
  );
}

// Shape checks the argument checks share: each answers whether a value has the shape.

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

export const isPathString = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= 4096 && !v.includes('\0');

export function onlyKeys(
  o: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
): string | null {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) return `${what} has an unknown field "${k.slice(0, 40)}"`;
  return null;
}

export const isNum = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
