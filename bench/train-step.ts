/**
 * One training step (forward, backward, Adam) at batch 64, tfjs vs PyTorch:
 *   (a) specs/nano-mnist.unet, (b) specs/attn-unet-mnist-uc-lora.unet.
 * tfjs: the generated model on the wasm backend (the best backend available here), driven exactly
 * as src/runtime/train/loop.ts drives it, each model in its own child process so that its wasm heap
 * high-water mark is its own. PyTorch: the spec's emitted torch target, generated/<spec>/model.py,
 * stepped by bench/torch_step.py (same architecture and weights layout, asserted by parameter count; 2 torch threads as specified, and 1 thread for a
 * per-core comparison, since the wasm backend runs on one thread under Node).
 * Median of --steps (default 10) steps after --warmup (default 3). Writes bench/results/train-step.json.
 *
 *   npm run bench:train-step [-- --profile] [-- --steps N --warmup N --batch N --only a|b --no-torch1 --threads N]
 *
 * --threads N runs the wasm backend with N threads (src/runtime/engine/wasmThreads.ts; default 1)
 * and writes bench/results/train-step-threadsN.json instead.
 *
 * --profile adds one tf.profile'd step of model (b) after the timed ones and prints the top
 * kernels by time with their share (also in the JSON), plus torch's top ops for the same step.
 *
 * When a batch does not fit in the wasm heap (4 GiB; the child aborts), the step is measured with
 * gradient accumulation instead: 2 micro-batches of 32, else 4 of 16 (the same gradient and one
 * Adam update); the results say so (`tfjs_micro_batches`, `tfjs_attempts`).
 *
 * --no-torch skips the PyTorch side; --out FILE writes the results to FILE (relative to
 * bench/results/) instead, e.g. for a tfjs-only check that should not replace the recorded run.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/runtime/engine/select.ts';
import {
  argValue,
  forwardable,
  gib,
  hasFlag,
  loadAvg,
  loadModel,
  machineInfo,
  median,
  mib,
  ROOT,
  runTwin,
  table,
  TORCH_MISSING,
  torchBlas,
  torchStatus,
  Trainer,
  wasmHeapBytes,
  writeResult,
  type TwinResult,
} from './common.ts';

const MODELS = [
  { key: 'a', label: 'nano-mnist', spec: 'specs/nano-mnist.unet' },
  { key: 'b', label: 'attn-unet-mnist-uc-lora', spec: 'specs/attn-unet-mnist-uc-lora.unet' },
];
const WASM_HEAP_LIMIT = 4 * 2 ** 30;

interface KernelRow {
  kernel: string;
  ms: number;
  calls: number;
  share: number;
}

interface ChildResult {
  name: string;
  micro: number;
  spec: string;
  from: string;
  backend: string;
  threads: number | undefined;
  /** The native oneDNN kernels, when they ran. */
  native: { onednn: string; threads: number } | null;
  params: number;
  trainable: number;
  batch: number;
  warmup: number;
  steps_ms: number[];
  /** CPU time of the process per step (all its threads): less sensitive to other load than wall time. */
  steps_cpu_ms: number[];
  median_ms: number;
  median_cpu_ms: number;
  min_ms: number;
  losses: number[];
  wasm_heap_bytes: number | undefined;
  max_rss_bytes: number;
  live_tensor_bytes_after: number;
  tensors_leaked_per_step: number;
  loadavg: number[];
  profile?: {
    step_ms: number;
    kernel_ms_total: number;
    kernel_calls: number;
    custom_grad_wrappers: { ms: number; calls: number };
    peak_tensor_bytes: number;
    by_kernel: KernelRow[];
    by_kernel_shape: { kernel: string; inputs: string; ms: number; calls: number; share: number }[];
  };
}

// ------------------------------------------------------------------------------------------------
// Child: one model, tfjs only.

async function child(spec: string): Promise<void> {
  const batch = Number(argValue('--batch') ?? 64);
  const warmup = Number(argValue('--warmup') ?? 3);
  const steps = Number(argValue('--steps') ?? 10);
  const micro = Number(argValue('--micro') ?? 1);
  const threads = argValue('--threads') === undefined ? undefined : Number(argValue('--threads'));
  const backend = await selectBackend({ name: 'wasm', threads, log: (m) => process.stderr.write(m + '\n') });
  const { mod, from } = await loadModel(join(ROOT, spec));
  const model = mod.createModel(0);
  const trainer = new Trainer(mod, model.params, batch, 0);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const losses: number[] = [];
  let tensorsAfterWarmup = 0;
  for (let i = 0; i < warmup + steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const loss = trainer.run(micro);
    const dt = performance.now() - t0;
    const cu = process.cpuUsage(c0);
    if (i === warmup - 1) tensorsAfterWarmup = tf.memory().numTensors;
    if (i >= warmup) {
      times.push(dt);
      cpuTimes.push((cu.user + cu.system) / 1000);
    }
    losses.push(loss);
    process.stderr.write(
      `  tfjs ${mod.config.name} step ${i + 1}/${warmup + steps}${micro > 1 ? ` (${micro} x ${batch / micro})` : ''}: ${dt.toFixed(0)} ms${i < warmup ? ' (warm-up)' : ''}, loss ${loss.toFixed(4)}, heap ${mib(wasmHeapBytes())}\n`,
    );
  }
  const result: ChildResult = {
    name: mod.config.name,
    micro,
    spec,
    from,
    backend: backend.name,
    threads: backend.threads,
    native: backend.native ?? null,
    params: mod.paramCount,
    trainable: mod.trainableParamCount,
    batch,
    warmup,
    steps_ms: times,
    steps_cpu_ms: cpuTimes,
    median_ms: median(times),
    median_cpu_ms: median(cpuTimes),
    min_ms: Math.min(...times),
    losses,
    wasm_heap_bytes: wasmHeapBytes(),
    max_rss_bytes: process.resourceUsage().maxRSS * 1024,
    live_tensor_bytes_after: tf.memory().numBytes,
    tensors_leaked_per_step: steps > 0 ? (tf.memory().numTensors - tensorsAfterWarmup) / steps : 0,
    loadavg: loadAvg(),
  };
  if (hasFlag('--profile')) {
    process.stderr.write(`  tfjs ${mod.config.name}: one profiled step (tf.profile)...\n`);
    const t0 = performance.now();
    const info = await tf.profile(() => {
      trainer.run(micro);
    });
    const stepMs = performance.now() - t0;
    const byKernel = new Map<string, { ms: number; calls: number }>();
    const byShape = new Map<string, { kernel: string; inputs: string; ms: number; calls: number }>();
    // tf.customGrad ops (our fused SiLU / GroupNorm) appear as a kernel named after the scope
    // ("forward") whose time includes the kernels they run, which are also listed: count those
    // wrappers apart so that shares add up to the step.
    const isKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
    let total = 0;
    let wrapperMs = 0;
    let wrapperCalls = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      if (!isKernel(k.name)) {
        wrapperMs += ms;
        wrapperCalls++;
        continue;
      }
      total += ms;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      byKernel.set(k.name, e);
      const inputs = k.inputShapes.map((sh) => `[${sh.join(',')}]`).join(' ');
      const key = `${k.name} ${inputs}`;
      const f = byShape.get(key) ?? { kernel: k.name, inputs, ms: 0, calls: 0 };
      f.ms += ms;
      f.calls++;
      byShape.set(key, f);
    }
    result.profile = {
      step_ms: stepMs,
      kernel_ms_total: total,
      kernel_calls: info.kernels.length - wrapperCalls,
      custom_grad_wrappers: { ms: wrapperMs, calls: wrapperCalls },
      peak_tensor_bytes: info.peakBytes,
      by_kernel: [...byKernel]
        .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: e.ms / total }))
        .sort((x, y) => y.ms - x.ms),
      by_kernel_shape: [...byShape.values()]
        .map((e) => ({ ...e, share: e.ms / total }))
        .sort((x, y) => y.ms - x.ms)
        .slice(0, 40),
    };
  }
  trainer.dispose();
  model.params.dispose();
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

/** Runs the tfjs side of one model in a fresh node process. */
function runChild(
  spec: string,
  o: { batch: number; warmup: number; steps: number; profile: boolean; micro: number; threads?: number; noNative?: boolean },
): Promise<ChildResult> {
  const args = [
    join(ROOT, 'bin', 'run-ts.mjs'),
    join(ROOT, 'bench', 'train-step.ts'),
    '--child',
    spec,
    '--batch',
    String(o.batch),
    '--warmup',
    String(o.warmup),
    '--steps',
    String(o.steps),
    '--micro',
    String(o.micro),
  ];
  if (o.profile) args.push('--profile');
  if (o.threads !== undefined) args.push('--threads', String(o.threads));
  return new Promise((resolve, reject) => {
    const env = o.noNative ? { ...process.env, UNETC_NATIVE: '0' } : process.env;
    const p = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(forwardable(d));
    });
    p.on('close', (code, signal) => {
      if (code !== 0) {
        const lines = err.split('\n').filter((l) => l.length < 400 && !/^\s+at /.test(l) && l.trim() !== '' && !/^\s*\^+\s*$/.test(l));
        const why = lines.find((l) => /RuntimeError|Aborted|out of bounds|Error:/.test(l)) ?? lines.slice(-1)[0] ?? '';
        return reject(new ChildFailure(`exit ${code ?? signal}: ${why.trim()}`, err));
      }
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

class ChildFailure extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** The step at the full batch, else with 2, then 4 micro-batches when the child runs out of wasm memory. */
async function runWithFallback(
  spec: string,
  o: { batch: number; warmup: number; steps: number; profile: boolean; threads?: number; noNative?: boolean },
): Promise<{ res: ChildResult; attempts: { micro: number; error: string }[] }> {
  const attempts: { micro: number; error: string }[] = [];
  for (const micro of [1, 2, 4]) {
    if (o.batch % micro !== 0) continue;
    try {
      return { res: await runChild(spec, { ...o, micro }), attempts };
    } catch (e) {
      if (!(e instanceof ChildFailure)) throw e;
      attempts.push({ micro, error: e.message });
      console.log(
        `  tfjs at ${micro === 1 ? `batch ${o.batch}` : `${micro} x ${o.batch / micro}`} failed (${e.message}); ${micro < 4 ? 'retrying with gradient accumulation' : 'giving up'}`,
      );
    }
  }
  throw new Error(`${spec}: no tfjs step fitted (${attempts.map((a) => `${a.micro}: ${a.error}`).join('; ')})`);
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const batch = Number(argValue('--batch') ?? 64);
  const warmup = Number(argValue('--warmup') ?? 3);
  const steps = Number(argValue('--steps') ?? 10);
  const profile = hasFlag('--profile');
  const only = argValue('--only');
  const torch1 = !hasFlag('--no-torch1');
  const noTorch = hasFlag('--no-torch');
  const threads = argValue('--threads') === undefined ? undefined : Number(argValue('--threads'));
  const compareWasm = hasFlag('--compare-wasm');
  const machine = machineInfo();
  const torch = torchStatus();
  const blas = torch.ok && !noTorch ? torchBlas() : undefined;
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, tfjs ${machine.tfjs}; load average ${(machine.loadavg_start as number[]).join(' ')}`,
  );
  if (torch.ok) {
    console.log(`torch ${torch.version} (python ${torch.python}), 2 threads, OPENBLAS_NUM_THREADS=1; torch.__config__.show():`);
    console.log(torch.config.replace(/^/gm, '  | '));
    if (blas) {
      console.log(`torch BLAS: ${blas.kind} (${blas.libraries.join(', ') || 'none mapped'})`);
      if (!blas.optimised) console.log(`NO RATIO: ${blas.why}`);
    }
  } else {
    console.log(`${TORCH_MISSING}\n  (${torch.why})`);
  }

  const models: Record<string, unknown>[] = [];
  let profileOut: ChildResult['profile'];
  let torchProfile: TwinResult['profile'] = null;
  for (const m of MODELS) {
    if (only && only !== m.key) continue;
    const doProfile = profile && m.key === 'b';
    console.log(`\n(${m.key}) ${m.spec}: tfjs (wasm) at batch ${batch}, ${warmup} warm-up + ${steps} steps`);
    const load0 = loadAvg();
    const { res: tfjs, attempts } = await runWithFallback(m.spec, { batch, warmup, steps, profile: doProfile, threads });
    if (tfjs.profile) profileOut = tfjs.profile;
    let plain: ChildResult | undefined;
    if (compareWasm && tfjs.native) {
      console.log(`(${m.key}) the same on the wasm kernels alone (UNETC_NATIVE=0)`);
      plain = (await runWithFallback(m.spec, { batch, warmup, steps, profile: false, threads, noNative: true })).res;
    }
    let tw2: TwinResult | undefined;
    let tw1: TwinResult | undefined;
    if (torch.ok && !noTorch) {
      // The torch target's emitted model (generated/<spec>/model.py), as `unetc train --engine torch` trains it.
      const modelPy = join(ROOT, 'generated', m.spec.replace(/^.*\//, '').replace(/\.unet$/, ''), 'model.py');
      console.log(`(${m.key}) torch target (${modelPy.slice(ROOT.length + 1)}): 2 threads`);
      tw2 = await runTwin(modelPy, { batch, warmup, steps, threads: 2, profile: doProfile });
      if (tw2.params !== tfjs.params) throw new Error(`the torch model has ${tw2.params} parameters, the tfjs one ${tfjs.params}`);
      if (doProfile) torchProfile = tw2.profile;
      if (torch1) {
        console.log(`(${m.key}) torch target: 1 thread`);
        tw1 = await runTwin(modelPy, { batch, warmup, steps, threads: 1 });
      }
    }
    models.push({
      key: m.key,
      name: m.label,
      spec: m.spec,
      params: tfjs.params,
      batch,
      tfjs_threads: tfjs.threads,
      tfjs_micro_batches: tfjs.micro,
      tfjs_attempts: attempts,
      tfjs_native: tfjs.native,
      tfjs_ms: round(tfjs.median_ms),
      tfjs_min_ms: round(tfjs.min_ms),
      tfjs_cpu_ms: round(tfjs.median_cpu_ms),
      tfjs_wasm_only_ms: plain ? round(plain.median_ms) : null,
      tfjs_wasm_only_cpu_ms: plain ? round(plain.median_cpu_ms) : null,
      native_speedup: plain ? round(plain.median_ms / tfjs.median_ms, 2) : null,
      torch_ms: tw2 ? round(tw2.median_ms) : null,
      torch_min_ms: tw2 ? round(Math.min(...tw2.steps_ms)) : null,
      torch_blas: blas ?? null,
      ratio: tw2 && blas?.optimised ? round(tfjs.median_ms / tw2.median_ms, 2) : null,
      ratio_refused: tw2 && !blas?.optimised ? (blas?.why ?? 'unknown BLAS') : undefined,
      torch_1thread_ms: tw1 ? round(tw1.median_ms) : null,
      ratio_vs_1thread: tw1 && blas?.optimised ? round(tfjs.median_ms / tw1.median_ms, 2) : null,
      tfjs_steps_ms: tfjs.steps_ms.map((x) => round(x)),
      torch_steps_ms: tw2?.steps_ms.map((x) => round(x)) ?? null,
      torch_1thread_steps_ms: tw1?.steps_ms.map((x) => round(x)) ?? null,
      twin_check: tw2 ? { params_equal: tw2.params === tfjs.params, torch_model: 'generated/<spec>/model.py (the torch target)' } : null,
      memory: {
        full_batch_fits: attempts.length === 0,
        measured_at: tfjs.micro > 1 ? `${tfjs.micro} micro-batches of ${batch / tfjs.micro}` : `batch ${batch}`,
        wasm_heap_bytes: tfjs.wasm_heap_bytes,
        wasm_heap_gib: tfjs.wasm_heap_bytes !== undefined ? round(tfjs.wasm_heap_bytes / 2 ** 30, 3) : null,
        wasm_heap_limit_gib: 4,
        headroom_gib: tfjs.wasm_heap_bytes !== undefined ? round((WASM_HEAP_LIMIT - tfjs.wasm_heap_bytes) / 2 ** 30, 3) : null,
        max_rss_bytes: tfjs.max_rss_bytes,
        peak_live_tensor_bytes: tfjs.profile?.peak_tensor_bytes ?? null,
        tensors_leaked_per_step: tfjs.tensors_leaked_per_step,
      },
      tfjs_from: tfjs.from,
      loadavg_before: load0,
      loadavg_after: loadAvg(),
    });
  }

  const row = (m: Record<string, unknown>) => {
    const mem = m.memory as { wasm_heap_bytes?: number; max_rss_bytes: number };
    return [
      `(${m.key}) ${m.name}`,
      Number(m.params).toLocaleString('en-US'),
      `${m.tfjs_ms}${Number(m.tfjs_micro_batches) > 1 ? ` (${m.tfjs_micro_batches}x${batch / Number(m.tfjs_micro_batches)})` : ''}`,
      String(m.tfjs_cpu_ms),
      m.tfjs_wasm_only_ms === null ? '-' : `${m.tfjs_wasm_only_ms} (${m.native_speedup}x)`,
      m.torch_ms === null ? 'skipped' : String(m.torch_ms),
      m.ratio === null ? '-' : `${m.ratio}x`,
      m.torch_1thread_ms === null ? '-' : String(m.torch_1thread_ms),
      m.ratio_vs_1thread === null ? '-' : `${m.ratio_vs_1thread}x`,
      gib(mem.wasm_heap_bytes),
      gib(mem.max_rss_bytes),
      `${(m.loadavg_before as number[])[0]}/${(m.loadavg_after as number[])[0]}`,
    ];
  };
  console.log(`\ntraining step at batch ${batch} (median of ${steps} after ${warmup} warm-up; ms)`);
  const kernels = models.some((m) => m.tfjs_native) ? `wasm + oneDNN` : 'wasm';
  console.log(`tfjs: ${kernels}, ${threads ?? 'default'} thread(s); cpu ms = CPU time of the tfjs process per step (all threads)`);
  console.log(
    table(
      [
        'model',
        'params',
        `tfjs ${kernels}`,
        'cpu ms',
        'wasm only',
        'torch 2thr',
        'ratio',
        'torch 1thr',
        'ratio',
        'wasm heap',
        'max RSS',
        'load 1m',
      ],
      models.map(row),
    ),
  );
  if (blas && !blas.optimised) console.log(`no ratio printed: ${blas.why}`);

  if (profileOut) {
    const p = profileOut;
    console.log(
      `\ntfjs kernel profile of one step of (b) (tf.profile; kernel time ${p.kernel_ms_total.toFixed(0)} ms of a ${p.step_ms.toFixed(0)} ms profiled step, ${p.kernel_calls} kernel calls, peak live tensors ${gib(p.peak_tensor_bytes)}; ` +
        `the ${p.custom_grad_wrappers.calls} tf.customGrad wrappers, ${p.custom_grad_wrappers.ms.toFixed(0)} ms including the kernels they ran, are not counted twice)`,
    );
    console.log(
      table(
        ['kernel', 'ms', 'share', 'calls', 'ms/call'],
        p.by_kernel
          .slice(0, 15)
          .map((k) => [k.kernel, k.ms.toFixed(0), `${(k.share * 100).toFixed(1)}%`, k.calls, (k.ms / k.calls).toFixed(2)]),
      ),
    );
    console.log('\ntop kernel x input shapes');
    console.log(
      table(
        ['kernel', 'inputs', 'ms', 'share', 'calls'],
        p.by_kernel_shape
          .slice(0, 15)
          .map((k) => [
            k.kernel,
            k.inputs.length > 60 ? k.inputs.slice(0, 57) + '...' : k.inputs,
            k.ms.toFixed(0),
            `${(k.share * 100).toFixed(1)}%`,
            k.calls,
          ]),
      ),
    );
    if (torchProfile) {
      const tot = torchProfile.reduce((a, r) => a + r.self_ms, 0);
      console.log('\ntorch twin, same step (torch.profiler self CPU time, top ops)');
      console.log(
        table(
          ['op', 'ms', 'share of top 25', 'calls'],
          torchProfile.slice(0, 10).map((r) => [r.name, r.self_ms.toFixed(0), `${((r.self_ms / tot) * 100).toFixed(1)}%`, r.calls]),
        ),
      );
    }
  }

  const b = models.find((m) => m.key === 'b') ?? models[0];
  const out = {
    tfjs_ms: b?.tfjs_ms ?? null,
    torch_ms: b?.torch_ms ?? null,
    ratio: b?.ratio ?? null,
    model: b?.spec ?? null,
    batch,
    warmup,
    steps,
    tfjs_backend: models.some((m) => m.tfjs_native)
      ? `wasm + oneDNN ${(models.find((m) => m.tfjs_native)!.tfjs_native as { onednn: string }).onednn} (native convolutions and matmuls, ${(models.find((m) => m.tfjs_native)!.tfjs_native as { threads: number }).threads} threads; wasm itself 1 thread)`
      : threads !== undefined && threads > 1
        ? `wasm (${threads} threads, threaded build forced by src/runtime/engine/wasmThreads.ts)`
        : 'wasm (1 thread: tfjs-backend-wasm disables threads under Node)',
    torch: torch.ok
      ? { version: torch.version, python: torch.python, threads: 2, openblas_threads: 1, config: torch.config }
      : { skipped: torch.why },
    models,
    profile: profileOut ? { tfjs: profileOut, torch_top_ops: torchProfile } : undefined,
    machine: { ...machine, loadavg_end: loadAvg() },
  };
  console.log(
    `\nwrote ${writeResult(argValue('--out') ?? (threads !== undefined ? `train-step-threads${threads}.json` : 'train-step.json'), out)}`,
  );
  for (const m of models) {
    const mem = m.memory as { full_batch_fits: boolean; measured_at: string; wasm_heap_gib: number | null; headroom_gib: number | null };
    console.log(
      `memory (${m.key}): batch ${batch} ${mem.full_batch_fits ? 'fits' : 'does NOT fit'} in the 4 GiB wasm heap; heap high-water ${mem.wasm_heap_gib} GiB at ${mem.measured_at} (headroom ${mem.headroom_gib} GiB)`,
    );
  }
  const la = out.machine.loadavg_end as number[];
  if (la[0] > 1.5)
    console.log(
      `note: the 1-minute load average was ${la[0]} on ${machine.cores} cores; other work was running, so times are inflated (rerun when the machine is quiet).`,
    );
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const USAGE = `npm run bench:train-step [-- options]

One training step (forward, backward, Adam) at batch 64: tfjs (wasm, each model in a child process)
vs the PyTorch twin, for (a) specs/nano-mnist.unet and (b) specs/attn-unet-mnist-uc-lora.unet.

  --steps N      timed steps (default 10)
  --warmup N     warm-up steps before them (default 3)
  --batch N      batch size (default 64); a batch that does not fit in the wasm heap is retried
                 as 2, then 4 micro-batches (gradient accumulation)
  --only a|b     one model only
  --no-torch     skip the PyTorch side
  --no-torch1    skip only the 1-thread PyTorch run
  --threads N    native (oneDNN) threads when the addon is built, else wasm threads (default:
                 the cores for native, 1 for wasm); results to train-step-threadsN.json
  --compare-wasm also run each model on the wasm kernels alone (UNETC_NATIVE=0), same run
  --profile      one tf.profile'd step of (b) after the timed ones, top kernels and torch's top ops
  --out FILE     write the results to FILE (relative to bench/results/) instead of train-step.json
  --help         this text

Records per model the median step time and the wasm heap size at the end (the heap only grows,
so that is its high-water mark).`;

const childSpec = argValue('--child');
if (hasFlag('--help')) console.log(USAGE);
else if (childSpec) await child(childSpec);
else await main();
