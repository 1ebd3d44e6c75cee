/**
 * The step-time overhead of LoRA conditioning on tfjs (wasm): each with-LoRA model's training step
 * (forward, backward, Adam) over its baseline's, next to the paper's claim of about 10%.
 *   nano diffusion:       specs/nano-mnist-uc-lora.unet        vs specs/nano-mnist.unet         (batch 64)
 *   attention U-Net:      specs/attn-unet-mnist-uc-lora.unet   vs specs/attn-unet-mnist.unet    (batch 64)
 *   IDDPM-style, reduced: test/fixtures/iddpm-tiny-with-lora   vs test/fixtures/iddpm-tiny      (batch 16, 16x16x3)
 * Each model runs in its own process (its own wasm heap), in two rounds A B A B of --steps / 2
 * steps (default 10 in all) after --warmup (3) steps each, so that load changes hit both alike.
 * When a model does not fit in the 4 GiB wasm heap at the full batch, both models of the pair are
 * measured with the same gradient accumulation (2, else 4 micro-batches; one Adam update).
 * Writes bench/results/lora-overhead.json.
 *
 *   npm run bench:lora-overhead [-- --steps N --warmup N --only nano|attn|iddpm --threads N --out FILE]
 *
 * --threads N: the native (oneDNN) threads when the addon is built (else wasm threads); the table
 * also gives the overhead in CPU time per step, which other load on the machine disturbs less.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { computeStats } from '../src/analysis/stats.ts';
import { checkSpec } from '../src/pipeline.ts';
import { selectBackend } from '../src/runtime/engine/select.ts';
import {
  argValue,
  forwardable,
  loadAvg,
  loadModel,
  machineInfo,
  median,
  ROOT,
  table,
  Trainer,
  wasmHeapBytes,
  writeResult,
  mib,
} from './common.ts';

const PAIRS = [
  {
    name: 'nano',
    label: 'nano diffusion (UC-LoRA on 7 stages)',
    base: 'specs/nano-mnist.unet',
    lora: 'specs/nano-mnist-uc-lora.unet',
    batch: 64,
  },
  {
    name: 'attn',
    label: 'attention U-Net (UC-LoRA on attention)',
    base: 'specs/attn-unet-mnist.unet',
    lora: 'specs/attn-unet-mnist-uc-lora.unet',
    batch: 64,
  },
  {
    name: 'iddpm',
    label: 'IDDPM-style tiny (TimeLoRA + ClassLoRA on attention)',
    base: 'test/fixtures/iddpm-tiny.unet',
    lora: 'test/fixtures/iddpm-tiny-with-lora.unet',
    batch: 16,
  },
];
const PAPER_CLAIM = 0.1;

interface ChildResult {
  steps_ms: number[];
  /** CPU time of the process per step (all threads): less sensitive to other load than wall time. */
  steps_cpu_ms: number[];
  native: { onednn: string; threads: number } | null;
  wasm_heap_bytes?: number;
}

class ChildFailure extends Error {}

/** One model's steps, alone in this process (so its wasm heap is its own). */
async function child(spec: string, batch: number, micro: number): Promise<void> {
  const warmup = Number(argValue('--warmup') ?? 3);
  const steps = Number(argValue('--steps') ?? 5);
  const threads = argValue('--threads') === undefined ? undefined : Number(argValue('--threads'));
  const chosen = await selectBackend({ name: 'wasm', threads, log: () => {} });
  const { mod } = await loadModel(join(ROOT, spec));
  const model = mod.createModel(0);
  const trainer = new Trainer(mod, model.params, batch);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    trainer.run(micro);
    const dt = performance.now() - t0;
    const cu = process.cpuUsage(c0);
    if (i >= warmup) {
      times.push(dt);
      cpuTimes.push((cu.user + cu.system) / 1000);
    }
    process.stderr.write(
      `  ${mod.config.name} step ${i + 1}/${warmup + steps}${micro > 1 ? ` (${micro} x ${batch / micro})` : ''}: ${dt.toFixed(0)} ms${i < warmup ? ' (warm-up)' : ''}\n`,
    );
  }
  const out: ChildResult = { steps_ms: times, steps_cpu_ms: cpuTimes, native: chosen.native ?? null, wasm_heap_bytes: wasmHeapBytes() };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function runChild(spec: string, batch: number, micro: number, warmup: number, steps: number): Promise<ChildResult> {
  const args = [
    join(ROOT, 'bin', 'run-ts.mjs'),
    join(ROOT, 'bench', 'lora-overhead.ts'),
    '--child',
    spec,
    '--batch',
    String(batch),
    '--micro',
    String(micro),
    '--warmup',
    String(warmup),
    '--steps',
    String(steps),
  ];
  if (argValue('--threads') !== undefined) args.push('--threads', argValue('--threads')!);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(forwardable(d));
    });
    p.on('close', (code, signal) => {
      if (code !== 0) {
        const lines = err.split('\n').filter((l) => l.length < 400 && !/^\s+at /.test(l) && l.trim() !== '');
        return reject(
          new ChildFailure(
            `exit ${code ?? signal}: ${(lines.find((l) => /RuntimeError|Aborted|Error:/.test(l)) ?? lines.slice(-1)[0] ?? '').trim()}`,
          ),
        );
      }
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

/**
 * Baseline and LoRA model, each in its own process, in two rounds (A B A B) of half the steps, so
 * that load changes on the machine hit both alike. When a model does not fit in the wasm heap at
 * the full batch, both are measured with the same gradient accumulation (2, then 4 micro-batches).
 */
async function runPair(pair: (typeof PAIRS)[number], warmup: number, steps: number) {
  const attempts: { micro: number; error: string }[] = [];
  for (const micro of [1, 2, 4]) {
    if (pair.batch % micro !== 0) continue;
    const base: number[] = [];
    const lora: number[] = [];
    const baseCpu: number[] = [];
    const loraCpu: number[] = [];
    const heaps: (number | undefined)[] = [];
    let native: ChildResult['native'] = null;
    try {
      const per = Math.ceil(steps / 2);
      for (let round = 0; round < 2; round++) {
        for (const [spec, into, cpuInto] of [
          [pair.base, base, baseCpu],
          [pair.lora, lora, loraCpu],
        ] as const) {
          const r = await runChild(spec, pair.batch, micro, warmup, per);
          into.push(...r.steps_ms);
          cpuInto.push(...r.steps_cpu_ms);
          heaps.push(r.wasm_heap_bytes);
          native = r.native;
        }
      }
      return { micro, attempts, base, lora, baseCpu, loraCpu, native, heap: Math.max(...heaps.map((h) => h ?? 0)) };
    } catch (e) {
      if (!(e instanceof ChildFailure)) throw e;
      attempts.push({ micro, error: e.message });
      console.log(
        `  ${micro === 1 ? `batch ${pair.batch}` : `${micro} x ${pair.batch / micro}`} does not fit (${e.message}); retrying both models with gradient accumulation`,
      );
    }
  }
  throw new Error(`${pair.name}: no micro-batching fitted`);
}

function statsOf(spec: string) {
  const r = checkSpec(join(ROOT, spec));
  if (!r.ir) throw new Error(`${spec} does not check`);
  return computeStats(r.ir);
}

async function main(): Promise<void> {
  const warmup = Number(argValue('--warmup') ?? 3);
  const steps = Number(argValue('--steps') ?? 10);
  const only = argValue('--only');
  const machine = machineInfo();
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, tfjs ${machine.tfjs}; load average ${(machine.loadavg_start as number[]).join(' ')}`,
  );
  const models = [];
  for (const pair of PAIRS) {
    if (only && only !== pair.name) continue;
    console.log(`\n${pair.label}: ${pair.lora} over ${pair.base}, batch ${pair.batch}`);
    const load0 = loadAvg();
    const r = await runPair(pair, warmup, steps);
    const sb = statsOf(pair.base);
    const sl = statsOf(pair.lora);
    const base = median(r.base);
    const lora = median(r.lora);
    // Ratio of medians, and the ratio of per-round medians averaged (each round ran both models back to back).
    const half = Math.ceil(steps / 2);
    const paired =
      (median(r.lora.slice(0, half)) / median(r.base.slice(0, half)) + median(r.lora.slice(half)) / median(r.base.slice(half))) / 2;
    models.push({
      name: pair.name,
      label: pair.label,
      baseline: pair.base,
      lora: pair.lora,
      batch: pair.batch,
      micro_batches: r.micro,
      attempts: r.attempts,
      baseline_ms: round(base),
      lora_ms: round(lora),
      ratio: round(lora / base, 3),
      paired_ratio: round(paired, 3),
      baseline_cpu_ms: round(median(r.baseCpu)),
      lora_cpu_ms: round(median(r.loraCpu)),
      cpu_ratio: round(median(r.loraCpu) / median(r.baseCpu), 3),
      native: r.native,
      flops_ratio: round(sl.forwardFlops / sb.forwardFlops, 3),
      params_ratio: round(sl.totalParams / sb.totalParams, 3),
      baseline_params: sb.totalParams,
      lora_params: sl.totalParams,
      baseline_steps_ms: r.base.map((x) => round(x)),
      lora_steps_ms: r.lora.map((x) => round(x)),
      wasm_heap: mib(r.heap),
      loadavg_before: load0,
      loadavg_after: loadAvg(),
    });
  }
  const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
  console.log(
    `\nLoRA step-time overhead on tfjs wasm (median of ${steps} alternating steps after ${warmup} warm-up); paper: about +${PAPER_CLAIM * 100}%`,
  );
  console.log(
    table(
      ['model', 'batch', 'baseline ms', 'LoRA ms', 'ratio', 'overhead', 'paired', 'CPU-time overhead', 'IR FLOPs', 'params', 'paper'],
      models.map((m) => [
        m.name,
        m.micro_batches > 1 ? `${m.batch} (${m.micro_batches}x${m.batch / m.micro_batches})` : m.batch,
        m.baseline_ms.toFixed(0),
        m.lora_ms.toFixed(0),
        m.ratio.toFixed(3),
        pct(m.ratio),
        pct(m.paired_ratio),
        pct(m.cpu_ratio),
        pct(m.flops_ratio),
        pct(m.params_ratio),
        `~+${PAPER_CLAIM * 100}%`,
      ]),
    ),
  );
  const nat = models.find((m) => m.native)?.native;
  const backend = nat ? `wasm + oneDNN ${nat.onednn}, ${nat.threads} thread${nat.threads === 1 ? '' : 's'}` : 'wasm (1 thread)';
  console.log(`backend: ${backend}; CPU-time overhead: the same ratio of CPU time per step (all threads of the process)`);
  const out = { paper_claim_overhead: PAPER_CLAIM, warmup, steps, backend, models, machine: { ...machine, loadavg_end: loadAvg() } };
  console.log(`\nwrote ${writeResult(argValue('--out') ?? 'lora-overhead.json', out)}`);
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const c = argValue('--child');
if (c !== undefined) await child(c, Number(argValue('--batch')), Number(argValue('--micro') ?? 1));
else await main();
