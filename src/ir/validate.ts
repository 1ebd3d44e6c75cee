/** ajv validation of IR objects against src/ir/schema.ts. */
import { Ajv } from 'ajv';
import { invariantErrors } from './invariants.ts';
import { irSchema } from './schema.ts';
import type { IR } from './types.ts';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateFn = ajv.compile(irSchema);

export class InvalidIrError extends Error {}

/** Schema errors, then (for schema-valid IR) broken invariants: what an IR file must not contain. */
export function irErrors(data: unknown): string[] {
  if (validateFn(data)) return invariantErrors(data as IR).slice(0, 10);
  return (validateFn.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

export function assertValidIr(data: unknown): asserts data is IR {
  const errs = irErrors(data);
  if (errs.length > 0) throw new InvalidIrError(`invalid IR: ${errs.join('; ')}`);
}
