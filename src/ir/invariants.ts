/**
 * IR invariants, checked whenever the IR is built or read: every parameter is read by exactly one
 * op (so no conditioning is allocated and counted but never applied), every tensor an op names
 * exists, and the structure an op asks for is there (a modulation at norm1 needs a second norm).
 */
import { refsOf } from './ops.ts';
import type { IR } from './types.ts';

export function invariantErrors(ir: IR): string[] {
  const errors: string[] = [];
  const reads = new Map<string, number>();
  for (const m of ir.modules) for (const p of m.params) reads.set(`${m.path}.${p.name}`, 0);
  for (const b of ir.blocks) {
    for (const ref of refsOf(b.op)) {
      const name = `${b.path}.${ref}`;
      const n = reads.get(name);
      if (n === undefined) errors.push(`${b.path} reads ${name}, which is no parameter`);
      else reads.set(name, n + 1);
    }
    const op = b.op;
    if (op.op === 'res_block') {
      if (op.norms.length !== op.convs.length) errors.push(`${b.path} has ${op.convs.length} convs but ${op.norms.length} norm slots`);
      if (op.modulation?.at === 'norm1' && op.convs.length < 2) errors.push(`${b.path} modulates norm1 but has ${op.convs.length} conv`);
      if (op.modulation && op.modulation.mlp.length === 0) errors.push(`${b.path} has a modulation without layers`);
      if (op.attention && op.attention.qkv.cout !== 3 * op.attention.qkv.cin)
        errors.push(`${b.path}.attn.qkv maps ${op.attention.qkv.cin} to ${op.attention.qkv.cout} channels, not 3x`);
    }
  }
  for (const [name, n] of reads) {
    if (n === 0) errors.push(`no op reads ${name}`);
    else if (n > 1) errors.push(`${name} is read by ${n} ops`);
  }
  return errors;
}
