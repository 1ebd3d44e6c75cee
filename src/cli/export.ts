/**
 * `unetc export RUN [--weights ema|model] [--dtype f32|f16] --out FILE.safetensors`: the inference
 * weights of a run, without the optimizer state (a checkpoint holds the model, its EMA and Adam's
 * two moments: four copies). Tensors keep their checkpoint names and PyTorch layouts; the metadata
 * holds the model's config (as its generated model.ts declares it), the spec's name and hash, and
 * the step.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toHalf, writeSafetensorsAtomic, type SafeTensor } from '../runtime/io/safetensors.ts';
import { defineCommand, type OptionDef, type Values } from './command.ts';
import { checkOutputFile, UsageError } from './io.ts';
import { readRunIr, resolveRunTarget, unetcVersion } from './runtimeLoader.ts';
import { modelConfig } from '../emit/modelConfig.ts';

/** The format name in an exported file's metadata. */
export const WEIGHTS_FORMAT = 'unetc-weights-1';

const options = {
  weights: { arg: 'which', help: 'ema or model (the raw weights)', choices: ['ema', 'model'], default: 'ema' },
  dtype: { arg: 'type', help: 'f32, or f16 (half the size; rounded to nearest)', choices: ['f32', 'f16'], default: 'f32' },
  out: { arg: 'file', short: 'o', help: 'the .safetensors file to write (required)' },
  json: { help: 'print what was written as JSON' },
} as const satisfies Record<string, OptionDef>;

export const exportCmd = defineCommand({
  name: 'export',
  args: '<run>',
  summary: 'write the inference weights of a run (or checkpoint) as one safetensors file',
  details:
    'Only the weights a model samples with: the EMA (or the raw model weights), not the optimizer state, so the file is ' +
    'about a quarter of a checkpoint (an eighth in f16). Tensor names and layouts are those of the checkpoint (PyTorch ' +
    'layouts); the metadata holds format, config (the model config as JSON), spec, spec_sha256, step, weights and dtype.',
  options,
  examples: [
    'unetc export runs/nano-mnist --out nano.safetensors',
    'unetc export runs/nano-mnist/checkpoints/step-0001000.safetensors --weights model --dtype f16 --out nano-f16.safetensors',
  ],
  run: ([target], values) => exportRun(target!, values),
});

async function exportRun(target: string, values: Values<typeof options>): Promise<number> {
  if (!values.out) throw new UsageError('needs --out FILE.safetensors');
  if (!/\.safetensors$/.test(values.out)) throw new UsageError(`--out must end in .safetensors, got '${values.out}'`);
  const out = resolve(values.out);
  checkOutputFile(out, '--out');
  const which = values.weights ?? 'ema';
  const dtype = values.dtype ?? 'f32';
  const { runDir, checkpoint } = resolveRunTarget(target);
  const ir = readRunIr(runDir);
  // Loaded here: checkpoint.ts loads tfjs, which no other part of the command line needs at start.
  const { readCheckpoint } = await import('../runtime/train/checkpoint.ts');
  const ck = readCheckpoint(checkpoint);
  const prefix = `${which}.`;
  const tensors = new Map<string, SafeTensor>();
  let bytes = 0;
  for (const [name, data] of ck.tensors) {
    if (!name.startsWith(prefix)) continue;
    const shape = ck.shapes.get(name)!;
    const t: SafeTensor = dtype === 'f16' ? { dtype: 'F16', shape, data: toHalf(data) } : { dtype: 'F32', shape, data };
    tensors.set(name.slice(prefix.length), t);
    bytes += t.data.byteLength;
  }
  if (tensors.size === 0) {
    process.stderr.write(`unetc export: ${checkpoint} has no ${which} weights${which === 'ema' ? ' (give --weights model)' : ''}\n`);
    return 1;
  }
  const record = existsSync(join(runDir, 'run.json'))
    ? (JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { spec?: { file?: string; sha256?: string } })
    : undefined;
  const metadata: Record<string, string> = {
    format: WEIGHTS_FORMAT,
    config: JSON.stringify(modelConfig(ir)),
    spec: record?.spec?.file ?? ir.name,
    ...(record?.spec?.sha256 ? { spec_sha256: record.spec.sha256 } : {}),
    step: String(ck.state.step),
    weights: which,
    dtype,
    unetc: unetcVersion(),
  };
  writeSafetensorsAtomic(out, tensors, metadata, { checksums: true });
  if (values.json)
    process.stdout.write(
      JSON.stringify({ out, checkpoint, step: ck.state.step, weights: which, dtype, tensors: tensors.size, bytes }) + '\n',
    );
  else
    process.stdout.write(
      `wrote ${out}: ${tensors.size} tensors of ${which} weights at step ${ck.state.step} (${dtype}, ${(bytes / 2 ** 20).toFixed(1)} MiB) from ${checkpoint}\n`,
    );
  return 0;
}
