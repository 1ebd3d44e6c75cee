/**
 * The training loop shared by every generated train.ts: batches in a seeded order, the process's
 * loss, Adam with warm-up and clipping, EMA, checkpoints (atomic, keep-last-K, exact resume), a
 * JSON-lines loss log, a progress bar with ETA, periodic sample grids and a loss curve at the end.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/common.ts';
import type { Cond } from '../model/embedding.ts';
import { ParamStore, paramSpecsFromRows, type ParamRow } from '../model/params.ts';
import { NonFiniteWeightsError, readCheckpoint, restoreInto, resumableCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { writeFileAtomic } from '../io/atomicWrite.ts';
import {
  acquireRunLock,
  appendLogLine,
  checkNotLocked,
  describeFsError,
  existingRun,
  makeRunDirs,
  readLossLog,
  type RunLock,
} from './runFolder.ts';
import { variableGradsEager } from '../engine/eagerGradients.ts';
import { Adam, Ema, emaBeta, nanToNum } from './optimizer.ts';
import { writeLossCurve, writeSampleGrid } from './outputs.ts';
import { makeProcess, type NetFn } from './process.ts';
import { batchIndices, draws, Stream, stepSeed } from './rng.ts';
import { AUGMENT_LABELS, augmentBatch, augmentPipeOf } from './augment.ts';
import { Progress } from './progress.ts';

/** What a generated model module exports (generated/<name>/model.ts). */
export interface ModelModule {
  config: {
    name: string;
    imageSize: number;
    channels: number;
    outChannels: number;
    classes: number;
    augment: number;
    embedDim: number;
    diffusion: Record<string, unknown>;
    training: Record<string, unknown>;
  };
  params: readonly ParamRow[];
  paramCount: number;
  forward: (p: ParamStore, x: tf.Tensor4D, cond: Cond, training?: boolean, seed?: number) => tf.Tensor4D;
}

export interface TrainOptions {
  data: Dataset;
  outDir: string;
  steps: number;
  batch?: number;
  lr?: number;
  seed?: number;
  resume?: boolean;
  /** A checkpoint of another spec: base weights matched by path; unmatched ones stay fresh. */
  initFrom?: string;
  sampleEvery?: number;
  checkpointEvery?: number;
  keep?: number;
  /** Images in each sample grid. */
  sampleCount?: number;
  sampleSteps?: number;
  log?: (line: string) => void;
  /** Draw a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** Called once the checks passed and the folder is locked, before training writes anything (the CLI writes model/ and run.json). */
  onFolderReady?: () => void;
  /** Set to stop after the current step (SIGINT): a checkpoint is written first. */
  stop?: { requested: boolean };
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  firstLoss: number;
  checkpoint: string;
  grid?: string;
  resumedFrom?: number;
  stoppedEarly: boolean;
  /** Resumed a run that had already done all its steps: nothing was trained or written. */
  complete?: boolean;
  /** Seconds per training step in this session, the sample grids left out (they are in `sampling`). */
  secondsPerStep?: number;
  /** The sample grids drawn in this session and the seconds they took. */
  sampling?: { grids: number; seconds: number };
}

export class TrainingError extends Error {}

const num = (r: Record<string, unknown>, k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);

/** Condition inputs for a batch: one-hot labels and augmentation labels ([n, 9] rows, augment.ts) as the spec needs. */
export function batchCond(mod: ModelModule, labels: Int32Array | undefined, noise: tf.Tensor1D, augmentLabels?: Float32Array): Cond {
  const n = noise.shape[0];
  const cond: Cond = { noise };
  if (mod.config.classes > 0) {
    cond.classes = labels
      ? (tf.oneHot(tf.tensor1d(labels, 'int32'), mod.config.classes).asType('float32') as tf.Tensor2D)
      : tf.zeros([n, mod.config.classes]);
  }
  if (mod.config.augment > 0) {
    // EDM's label layout; a wider input gets zeros after it, a narrower one its first entries.
    const k = mod.config.augment;
    const a = new Float32Array(n * k);
    if (augmentLabels)
      for (let i = 0; i < n; i++)
        a.set(augmentLabels.subarray(i * AUGMENT_LABELS, i * AUGMENT_LABELS + Math.min(k, AUGMENT_LABELS)), i * k);
    cond.augment = tf.tensor2d(a, [n, mod.config.augment]);
  }
  return cond;
}

/** A fresh start never writes into a folder that holds a run. */
function refuseFreshStartOverRun(o: TrainOptions): void {
  if (o.resume) return;
  const found = existingRun(o.outDir).filter((f) => f !== 'run.json');
  if (found.length)
    throw new TrainingError(
      `${o.outDir} already holds a run (${found.join(', ')}); nothing was changed. Continue it with --resume, or train into a new folder`,
    );
}

/** Once locked: check again (another process may have started a run meanwhile), then let the caller write. */
function startRunFolder(o: TrainOptions): void {
  refuseFreshStartOverRun(o);
  o.onFolderReady?.();
}

/** Trains in a locked run folder (runFolder.ts); the lock is released however the run ends. */
export async function trainRun(mod: ModelModule, o: TrainOptions): Promise<TrainResult> {
  const session: { lock?: RunLock } = {};
  try {
    return await trainSteps(mod, o, session);
  } finally {
    session.lock?.release();
  }
}

async function trainSteps(mod: ModelModule, o: TrainOptions, session: { lock?: RunLock }): Promise<TrainResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const cfg = mod.config;
  const tr = cfg.training;
  const seed = o.seed ?? 0;
  const batch = o.batch ?? num(tr, 'batch') ?? 64;
  const data = o.data;
  if (data.height !== cfg.imageSize || data.width !== cfg.imageSize || data.channels !== cfg.channels) {
    throw new TrainingError(
      `${data.source}: images are ${data.height}x${data.width}x${data.channels}, but ${cfg.name} takes ${cfg.imageSize}x${cfg.imageSize}x${cfg.channels}`,
    );
  }
  if (cfg.classes > 0 && data.classes > cfg.classes)
    throw new TrainingError(`${data.source} has ${data.classes} classes, ${cfg.name} takes ${cfg.classes}`);

  if (batch > data.n)
    throw new TrainingError(
      `the batch (${batch}) is larger than the data set (${data.n} images in ${data.source}); give --batch ${data.n} or less`,
    );
  // Every check that can refuse comes before the first write to the run folder.
  checkNotLocked(o.outDir);
  refuseFreshStartOverRun(o);
  const ckDir = join(o.outDir, 'checkpoints');

  const specs = paramSpecsFromRows(mod.params);
  const store = new ParamStore(specs, seed);
  const ramp = tr.ramp === 'before_step' ? 'before_step' : 'after_step';
  const zeroNonFinite = tr.nonfinite_grads === 'zero';
  const adam = new Adam(
    {
      lr: o.lr ?? num(tr, 'lr') ?? 1e-4,
      beta1: num(tr, 'beta1') ?? 0.9,
      beta2: num(tr, 'beta2') ?? 0.999,
      eps: 1e-8,
      warmup: num(tr, 'warmup') ?? 0,
      gradClip: num(tr, 'grad_clip'),
      ramp,
    },
    store.vars,
  );
  let startStep = 0;
  let resumedFrom: number | undefined;
  if (o.initFrom) {
    const ck = readCheckpoint(o.initFrom);
    const prefix = ck.tensors.has(`ema.${specs[0]?.name}`) ? 'ema' : 'model';
    const { restored, missing } = restoreInto(ck, prefix, specs, store.vars);
    log(
      `init-from ${o.initFrom}: ${restored} tensors restored (${prefix} weights), ${missing.length} left freshly initialised${missing.length ? `:\n  ${missing.join('\n  ')}` : ''}`,
    );
  }
  const ema = new Ema(store.vars);
  let lastCheckpoint = '';
  if (o.resume) {
    const ck = resumableCheckpoint(ckDir, specs, { batch, seed, name: cfg.name });
    if (!ck) log(`nothing to resume in ${o.outDir}: it has no checkpoint; starting from step 0`);
    if (ck) {
      for (const s of ck.skipped) log(`skipping unreadable checkpoint ${s}`);
      restoreInto(ck, 'model', specs, store.vars);
      restoreInto(ck, 'ema', specs, ema.shadow);
      restoreInto(ck, 'adam_m', specs, adam.m);
      restoreInto(ck, 'adam_v', specs, adam.v);
      adam.step = ck.state.adamStep;
      startStep = ck.state.step;
      resumedFrom = startStep;
      lastCheckpoint = ck.path;
      log(`resumed from ${ck.path} at step ${startStep}`);
    }
  }
  // The loss log keeps exactly the steps that the restored weights have seen.
  const lossPath = join(o.outDir, 'loss.jsonl');
  const history: { step: number; loss: number }[] = [];
  const lossLog = readLossLog(lossPath, startStep, log);
  history.push(...lossLog.kept);
  if (resumedFrom !== undefined && startStep >= o.steps) {
    // A finished run: report it as such and touch nothing.
    const last = history[history.length - 1]?.loss ?? NaN;
    log(`${o.outDir} is complete: it has done ${startStep} of ${o.steps} steps; nothing to do (give a larger --steps to train further)`);
    adam.dispose();
    ema.dispose();
    store.dispose();
    return {
      steps: startStep,
      finalLoss: last,
      firstLoss: history[0]?.loss ?? NaN,
      checkpoint: lastCheckpoint,
      resumedFrom,
      stoppedEarly: false,
      complete: true,
    };
  }

  // Fail before any work when the output folder cannot be written.
  makeRunDirs(o.outDir, ['samples', 'checkpoints']);
  session.lock = acquireRunLock(o.outDir, log);
  startRunFolder(o);
  try {
    const probe = join(o.outDir, `.write-test-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe);
    // Temp files of a checkpoint write that was killed midway: never complete, safe to delete.
    for (const f of readdirSync(ckDir)) if (/\.tmp-\d+$/.test(f)) rmSync(join(ckDir, f), { force: true });
  } catch (e) {
    throw new TrainingError(`cannot write to ${o.outDir}: ${describeFsError(e)}`);
  }

  if (lossLog.rewrite) writeFileAtomic(lossPath, Buffer.from(lossLog.kept.map((r) => JSON.stringify(r) + '\n').join('')));

  const process_ = makeProcess(cfg.diffusion, cfg.training);
  // The log keeps the per-pixel mean loss whatever the objective's reduction (as EDM reports it).
  const lossScale = process_.lossPerPixel([batch, cfg.imageSize, cfg.imageSize, cfg.channels]);
  const trainable = new Map([...store.vars].filter(([, v]) => v.trainable));
  const varList = [...trainable.values()];
  const nameOf = new Map(varList.map((v) => [v.name, [...trainable].find(([, w]) => w === v)![0]]));
  const permCache = new Map<number, Int32Array>();
  const hw = cfg.imageSize * cfg.imageSize * cfg.channels;
  const augmentP = num(tr, 'augment_p') ?? 0;
  const augmentPipe = augmentPipeOf(tr);
  const sampleEvery = o.sampleEvery ?? Math.max(1, Math.floor(o.steps / 4));
  const checkpointEvery = o.checkpointEvery ?? sampleEvery;
  const progress = new Progress(o.steps, startStep, o.progress ?? process.stderr.isTTY === true, log);
  const sampleGrid = (step: number, file: string) => {
    const t0 = Date.now();
    sampleGridNow(step, file);
    progress.sampled(Date.now() - t0);
  };
  const sampleGridNow = (step: number, file: string) => {
    const emaStore = new ParamStore(specs, 0, ema.shadow);
    const n = o.sampleCount ?? 64;
    const netFor =
      (labels?: Int32Array): NetFn =>
      (x, noise) =>
        mod.forward(emaStore, x, batchCond(mod, labels, noise), false);
    const labels = cfg.classes > 0 ? Int32Array.from({ length: n }, (_, i) => i % cfg.classes) : undefined;
    const imgs = tf.tidy(() =>
      process_.sample(netFor(labels), [n, cfg.imageSize, cfg.imageSize, cfg.channels], {
        steps: o.sampleSteps,
        seed: stepSeed(seed, 0, Stream.sample),
      }),
    );
    writeSampleGrid(file, imgs);
    imgs.dispose();
    void step;
  };

  let loss = NaN;
  let firstLoss = NaN;
  let step = startStep;
  const save = () => {
    try {
      lastCheckpoint = saveCheckpoint(
        ckDir,
        { step, seed, batch, dataPosition: step * batch, adamStep: adam.step, spec: cfg.name },
        { specs, params: store.vars, ema: ema.shadow, adamM: adam.m, adamV: adam.v },
        o.keep ?? 3,
      );
    } catch (e) {
      if (!(e instanceof NonFiniteWeightsError)) throw e;
      progress.stop();
      throw new TrainingError(
        `the weights are not finite after step ${step} (${e.tensor}: ${e.count} NaN or Inf values); no checkpoint written. The last good checkpoint is ${lastCheckpoint || 'none (no checkpoint was written in this run)'}`,
      );
    }
  };
  let stoppedEarly = false;
  while (step < o.steps) {
    const idx = batchIndices(data.n, batch, step * batch, seed, permCache);
    const x = new Float32Array(batch * hw);
    const labels = new Int32Array(batch);
    idx.forEach((j, i) => {
      x.set(data.images.subarray(j * hw, (j + 1) * hw), i * hw);
      labels[i] = data.labels[j];
    });
    const shape = { n: batch, height: cfg.imageSize, width: cfg.imageSize, channels: cfg.channels };
    const aug =
      augmentP > 0
        ? augmentBatch(x, shape, { pipe: augmentPipe, p: augmentP, draws: draws(stepSeed(seed, step, Stream.augment)) })
        : undefined;
    // tf.variableGrads' gradients, with a backward pass that frees as it goes (eagerGradients.ts).
    const { value, grads } = variableGradsEager(() => {
      const x0 = tf.tensor4d(aug?.images ?? x, [batch, cfg.imageSize, cfg.imageSize, cfg.channels]);
      const net: NetFn = (xt, noise) =>
        mod.forward(store, xt, batchCond(mod, labels, noise, aug?.labels), true, stepSeed(seed, step, Stream.dropout));
      return process_.loss(net, x0, seed, step);
    }, varList);
    loss = value.dataSync()[0] / lossScale;
    if (zeroNonFinite) {
      for (const k of Object.keys(grads)) {
        const g = grads[k];
        grads[k] = nanToNum(g);
        g.dispose();
      }
    }
    if (!Number.isFinite(loss) && !zeroNonFinite) {
      tf.dispose([value, ...Object.values(grads)]);
      progress.stop();
      throw new TrainingError(
        `the loss is ${loss} at step ${step + 1}; stopping without saving. The last good checkpoint is ${lastCheckpoint || 'none (no checkpoint was written in this run)'}`,
      );
    }
    const named = new Map<string, tf.Tensor>(Object.entries(grads).map(([k, g]) => [nameOf.get(k)!, g]));
    adam.apply(store.vars, named);
    tf.dispose([value, ...Object.values(grads)]);
    ema.update(
      store.vars,
      emaBeta({
        ema: num(tr, 'ema'),
        halflifeKimg: num(tr, 'ema_halflife_kimg'),
        batch,
        step,
        warmupRatio: num(tr, 'ema_halflife_kimg') !== undefined ? 0.05 : undefined,
        ramp,
        warmup: tr.ema_warmup !== false,
      }),
    );
    step++;
    if (Number.isNaN(firstLoss)) firstLoss = loss;
    const rec = { step, loss, lr: adam.lrAt(step - 1) };
    history.push(rec);
    appendLogLine(lossPath, rec);
    progress.tick(step, loss);
    // Let signal handlers run (SIGINT sets o.stop): the step itself never yields to the event loop.
    await new Promise((r) => setImmediate(r));
    const stopNow = o.stop?.requested === true;
    if (step % checkpointEvery === 0 || step === o.steps || stopNow) save();
    if (step % sampleEvery === 0 && step < o.steps && !stopNow)
      sampleGrid(step, join(o.outDir, 'samples', `step-${String(step).padStart(7, '0')}.png`));
    if (stopNow) {
      stoppedEarly = true;
      log(`stopped at step ${step}; checkpoint ${lastCheckpoint}`);
      break;
    }
  }
  progress.stop();
  const secondsPerStep = progress.secondsPerStep(step);
  if (!lastCheckpoint && step === startStep) save();
  let grid: string | undefined;
  if (!stoppedEarly) {
    grid = join(o.outDir, 'samples.png');
    sampleGrid(step, grid);
  }
  writeLossCurve(join(o.outDir, 'loss.png'), history);
  const result: TrainResult = {
    steps: step,
    finalLoss: loss,
    firstLoss,
    checkpoint: lastCheckpoint,
    grid,
    resumedFrom,
    stoppedEarly,
    secondsPerStep,
    sampling: { grids: progress.grids, seconds: progress.samplingMs / 1000 },
  };
  adam.dispose();
  ema.dispose();
  store.dispose();
  return result;
}
