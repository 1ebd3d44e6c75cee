export * from './ast.ts';
export { parseSpec, type ParseResult } from './parse.ts';
export { printSpec, printExpr } from './printer.ts';
export { stripSpans } from './strip.ts';
