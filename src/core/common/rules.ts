// The ResNet depth rule, which more than one boundary checks (the API's parameters, the model
// builder, the CLI's options), written once here; the schemas of shapes are in schema.ts and
// bounds.ts.

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
