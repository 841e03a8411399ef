// Decomposing a trained CNN into one module per class (the paper's section 3).
export * from './algorithms.ts';
export * from './bitset.ts';
export * from './compose.ts';
export * from './decompose.ts';
export * from './files.ts';
export * from './graph.ts';
export * from './experiment.ts';
export * from './portable.ts';
