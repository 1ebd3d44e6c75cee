/** Reading and writing IR JSON, validated against the IR's JSON Schema on both sides. */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { IR } from './types.ts';
import { assertValidIr } from './validate.ts';

export function writeIr(path: string, ir: IR): void {
  assertValidIr(ir);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(ir, null, 1) + '\n');
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true }); // a failed write leaves no temp file behind
    throw e;
  }
}

export function readIr(path: string): IR {
  const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
  assertValidIr(data);
  return data;
}
