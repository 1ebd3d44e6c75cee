/** `unetc stats SPEC [--json]` */
import { computeStats, formatStats } from '../analysis/stats.ts';
import { checkSpec } from '../pipeline.ts';
import { defineCommand } from './command.ts';
import { reportDiagnostics } from './io.ts';

export const stats = defineCommand({
  name: 'stats',
  args: '<spec>',
  summary: 'parameters, FLOPs and memory of a model',
  options: {
    json: { help: 'print the numbers as JSON' },
  },
  examples: ['unetc stats specs/edm-cifar10.unet', 'unetc stats specs/nano-mnist.unet --json'],
  run([spec], values) {
    const r = checkSpec(spec!);
    if (reportDiagnostics(r) || !r.ir) return 1;
    const s = computeStats(r.ir);
    process.stdout.write(values.json ? JSON.stringify(s, null, 2) + '\n' : formatStats(s, r.ir) + '\n');
    return 0;
  },
});
