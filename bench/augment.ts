/**
 * Augmentation time per training batch, CIFAR-10 shape (512 x 32 x 32 x 3), host CPU, one thread:
 * EDM's geometric pipe at train.py's p = 0.12 and at p = 1, and the x-flip pipe at p = 0.12.
 * Wall and process CPU time, median of --runs (10) batches with different draws after one warm-up.
 * Writes bench/results/augment.json.
 *
 *   node bin/run-ts.mjs bench/augment.ts [-- --runs N --batch N]
 */
import { augmentBatch, type AugmentPipeName } from '../src/runtime/train/augment.ts';
import { draws } from '../src/runtime/train/rng.ts';
import { argValue, loadAvg, machineInfo, median, table, writeResult } from './common.ts';

const runs = Number(argValue('--runs') ?? 10);
const n = Number(argValue('--batch') ?? 512);
const shape = { n, height: 32, width: 32, channels: 3 };
const machine = machineInfo();
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; load average ${(machine.loadavg_start as number[]).join(' ')}`,
);
const images = Float32Array.from({ length: n * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.9);

const results = [];
for (const [pipe, p] of [
  ['edm', 0.12],
  ['edm', 1],
  ['xflip', 0.12],
] as [AugmentPipeName, number][]) {
  augmentBatch(images, shape, { pipe, p, draws: draws(1) });
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    augmentBatch(images, shape, { pipe, p, draws: draws(100 + k) });
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  results.push({ pipe, p, batch: n, wall_ms: median(wall), cpu_ms: median(cpu) });
}
console.log(
  table(
    ['pipe', 'p', 'batch', 'wall ms', 'cpu ms'],
    results.map((r) => [r.pipe, r.p, r.batch, r.wall_ms.toFixed(0), r.cpu_ms.toFixed(0)]),
  ),
);
console.log(`wrote ${writeResult('augment.json', { machine: { ...machine, loadavg_end: loadAvg() }, results })}`);
