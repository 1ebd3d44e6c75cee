export * from './catalogue.ts';
export * from './diagnostic.ts';
export * from './format.ts';
export * from './span.ts';
export * from './suggest.ts';
