/** Reading and writing IR JSON, validated against the IR's JSON Schema on both sides. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IR } from './types.ts';
import { assertValidIr } from './validate.ts';

export function writeIr(path: string, ir: IR): void {
  assertValidIr(ir);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(ir, null, 1) + '\n');
  renameSync(tmp, path);
}

export function readIr(path: string): IR {
  const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
  assertValidIr(data);
  return data;
}
