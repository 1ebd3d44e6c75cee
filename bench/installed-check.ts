/**
 * Start-up of the installed CLI: `unetc check SPEC` wall time, run as a user's project runs it
 * (the packed tarball in a fresh project, test/packageConsumer.ts: node_modules/.bin/unetc, which
 * runs the compiled dist/). Also `unetc --version` (Node start and module loading only) and, for
 * comparison, this checkout's bin/unetc.mjs. Medians of repeated runs; printed, never asserted.
 * Writes bench/results/installed-check.json.
 *
 *   npm run bench:installed-check [-- --reps N]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { consumerEnv, makeConsumer } from '../test/packageConsumer.ts';
import { argValue, loadAvg, machineInfo, median, ROOT, table, writeResult } from './common.ts';

const reps = Number(argValue('--reps') ?? 7);
const consumer = makeConsumer();
copyFileSync(join(ROOT, 'specs', 'edm-cifar10-with-lora.unet'), join(consumer.dir, 'edm-cifar10-with-lora.unet'));
copyFileSync(join(ROOT, 'specs', 'edm-cifar10.unet'), join(consumer.dir, 'edm-cifar10.unet'));

function wall(bin: string, args: string[], cwd: string): number {
  const ts: number[] = [];
  for (let i = 0; i < reps + 1; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: consumerEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    if (i > 0) ts.push((performance.now() - t) / 1000); // the first run warms the file cache
  }
  return median(ts);
}

const rows = [
  ['installed: unetc check edm-cifar10-with-lora.unet', wall(consumer.bin, ['check', 'edm-cifar10-with-lora.unet'], consumer.dir)],
  ['installed: unetc --version', wall(consumer.bin, ['--version'], consumer.dir)],
  [
    'checkout: node bin/unetc.mjs check specs/edm-cifar10-with-lora.unet',
    wall(join(ROOT, 'bin', 'unetc.mjs'), ['check', 'specs/edm-cifar10-with-lora.unet'], ROOT),
  ],
] as const;
console.log(
  table(
    ['command', 'median s'],
    rows.map(([c, s]) => [c, s.toFixed(3)]),
  ),
);
console.log(
  `(${reps} runs each after one warm-up; load average ${loadAvg().join(' ')}; the issue's target for the installed check: under 1.5 s)`,
);
writeResult('installed-check.json', { machine: machineInfo(), reps, loadAvg: loadAvg(), seconds: Object.fromEntries(rows) });
