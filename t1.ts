import { readFileSync } from 'node:fs';
import { parseSpec, printSpec, stripSpans } from './src/syntax/index.ts';
const f = process.argv[2];
const r = parseSpec(readFileSync(f, 'utf8'), f);
console.log(JSON.stringify(r.diagnostics));
if (r.ast) { const p = printSpec(r.ast); console.log(p); const r2 = parseSpec(p, f); console.log(JSON.stringify(stripSpans(r2.ast)) === JSON.stringify(stripSpans(r.ast))); }
