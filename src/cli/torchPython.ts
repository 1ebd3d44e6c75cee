/**
 * The Python that runs the torch target: $UNETC_PYTHON, else `python3` on PATH if it imports torch,
 * else /usr/bin/python3 (Debian's python3-torch); a clear error when none of them has torch.
 */
import { spawnSync } from 'node:child_process';

export type TorchPython = { path: string; torch: string } | { error: string };

function probe(exe: string): string | undefined {
  const r = spawnSync(exe, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function findTorchPython(env: NodeJS.ProcessEnv = process.env): TorchPython {
  const tried: string[] = [];
  const given = env.UNETC_PYTHON;
  if (given) {
    const v = probe(given);
    if (v) return { path: given, torch: v };
    return { error: `UNETC_PYTHON=${given} cannot import torch and numpy (install them there, or unset UNETC_PYTHON)` };
  }
  for (const exe of ['python3', '/usr/bin/python3']) {
    const v = probe(exe);
    if (v) return { path: exe, torch: v };
    tried.push(exe);
  }
  return {
    error: `no Python with torch and numpy found (tried ${tried.join(', ')}); install PyTorch (Debian: apt-get install python3-torch python3-numpy) or set UNETC_PYTHON`,
  };
}
