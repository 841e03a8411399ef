// The repair wizard (issue #7): find a model's most-confused pair, repair it four ways,
// measure, compare, recommend, and keep the repaired classifier.
export * from './analysis.ts';
export * from './faulty.ts';
export * from './repaired.ts';
export * from './demo.ts';
