/**
 * The run folder as a unit that is never lost, mixed up or silently damaged (DESIGN.md section 4):
 *
 * - a lock (`.lock`: pid, process start time, host) held while a process trains in it; a second
 *   process refuses at once, and the lock of a dead process is recovered;
 * - `run.json`: what produced the run (spec text and hash, the options that decide the weights,
 *   versions), compared on `--resume` so that a different spec or option is refused with a diff;
 * - what counts as an existing run (so that a fresh start never overwrites one);
 * - the loss log: appended through one helper, and repaired on resume (a torn last line from a
 *   kill or a full disk, lines past the checkpoint's step) with a note.
 *
 * Everything here checks before it writes; the callers run every check that can refuse before
 * the first write to the folder. Node only (no tfjs), so the CLI checks a folder before it loads
 * a backend.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomicWrite.ts';
import { injectedFault } from '../io/faults.ts';

export class RunFolderError extends Error {}

// ---------------------------------------------------------------------------------------------
// What a folder holds

/** The files that show a folder holds a run (model/ and ir.json alone do not: they are regenerated). */
export function existingRun(dir: string): string[] {
  const found: string[] = [];
  const ck = join(dir, 'checkpoints');
  if (existsSync(ck) && statSync(ck).isDirectory()) {
    const n = readdirSync(ck).filter((f) => /^step-\d+\.safetensors$/.test(f)).length;
    if (n > 0) found.push(`${n} checkpoint${n === 1 ? '' : 's'}`);
  }
  if (existsSync(join(dir, 'loss.jsonl'))) found.push('loss.jsonl');
  if (existsSync(join(dir, 'run.json'))) found.push('run.json');
  return found;
}

/** Refuses a fresh start in a folder that holds a run, naming the ways on. */
export function refuseExistingRun(dir: string): void {
  const found = existingRun(dir);
  if (found.length === 0) return;
  throw new RunFolderError(
    `${dir} already holds a run (${found.join(', ')}); nothing was changed. ` +
      `Continue it with --resume, train into a new folder with --out, or move it aside with --force`,
  );
}

// ---------------------------------------------------------------------------------------------
// The lock

export interface LockOwner {
  pid: number;
  /** The process's start time (Linux: clock ticks since boot, /proc/PID/stat field 22); '' when unknown. */
  start: string;
  host: string;
  since: string;
  command?: string;
}

const LOCK = '.lock';

function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may hold spaces: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function alive(o: LockOwner): boolean {
  if (o.host !== hostname()) return true; // another machine (a shared file system): cannot tell
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid exists; a different start time means it was reused by another process.
  const now = processStart(o.pid);
  return !(o.start && now && now !== o.start);
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' ? o : undefined;
  } catch {
    return undefined; // gone, or torn by a kill between create and write: treat as stale
  }
}

const describeOwner = (o: LockOwner) =>
  `process ${o.pid}${o.host !== hostname() ? ` on ${o.host}` : ''} (since ${o.since}${o.command ? `: ${o.command}` : ''})`;

/** Refuses when a live process holds the folder's lock; reads only. */
export function checkNotLocked(dir: string): void {
  const o = readOwner(join(dir, LOCK));
  if (o && o.pid !== process.pid && alive(o)) {
    throw new RunFolderError(`${dir} is in use by ${describeOwner(o)}; wait for it to finish, or train into another folder with --out`);
  }
}

export interface RunLock {
  release(): void;
}

const held = new Map<string, number>();
let exitHook = false;

/**
 * Takes the folder's lock (the folder must exist). Re-entrant within a process; a stale lock (its
 * process is dead, or the pid now belongs to another process) is replaced with a note.
 */
export function acquireRunLock(dir: string, log: (s: string) => void = () => {}): RunLock {
  const path = join(dir, LOCK);
  const release = () => {
    const n = (held.get(path) ?? 1) - 1;
    if (n > 0) return void held.set(path, n);
    held.delete(path);
    if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  if (held.has(path)) {
    held.set(path, held.get(path)! + 1);
    return { release };
  }
  const me: LockOwner = {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    since: new Date().toISOString(),
    command: process.argv.slice(2).join(' ') || undefined,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const o = readOwner(path);
      if (o && o.pid !== process.pid && alive(o))
        throw new RunFolderError(`${dir} is in use by ${describeOwner(o)}; wait for it to finish, or train into another folder with --out`);
      log(`recovered the stale lock of ${o ? `process ${o.pid}, which is no longer running` : 'an unreadable lock file'} (${path})`);
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    held.set(path, 1);
    if (held.size === 1 && !exitHook) {
      // An exit without release (process.exit on a second Ctrl-C): drop the locks still held.
      exitHook = true;
      process.once('exit', () => {
        for (const p of held.keys()) if (readOwner(p)?.pid === process.pid) rmSync(p, { force: true });
      });
    }
    return { release };
  }
  throw new RunFolderError(`cannot take the lock ${path}: other processes keep replacing it`);
}

// ---------------------------------------------------------------------------------------------
// run.json: what produced the run

export const RUN_FORMAT = 'unetc-run-1';

export interface RunRecord {
  format: string;
  spec: {
    /** The entry file's name (no folder: a run folder holds no absolute path). */
    file: string;
    /** sha256 over the texts of the spec and every file it extends. */
    sha256: string;
    /** The texts, by file name, base last. */
    sources: Record<string, string>;
  };
  /** The options that decide the weights a step produces. */
  options: Record<string, string | number | boolean | null>;
  /** Every option given to the session that last trained (paths relative to the run folder). */
  given?: Record<string, unknown>;
  seed?: number;
  /** unetc, node, tfjs and the backend that trained. */
  versions: Record<string, string>;
  /** When the run was first started. */
  created: string;
  /** When the last training session started and finished (null while it runs or if it was killed). */
  started?: string;
  finished?: string | null;
  /** Steps done when that session finished. */
  steps?: number;
  /** Resumes that accepted a changed spec or option (--allow-spec-change), with what changed. */
  specChanges?: { at: string; step?: number; changes: string[] }[];
}

export function specHash(sources: Record<string, string>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(sources).sort()) h.update(`${name}\0${sources[name]}\0`);
  return h.digest('hex');
}

export function readRunRecord(dir: string): RunRecord | undefined {
  const path = join(dir, 'run.json');
  if (!existsSync(path)) return undefined;
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
    if (r.format !== RUN_FORMAT || !r.spec || !r.options) throw new Error(`not a ${RUN_FORMAT} record`);
    return r;
  } catch (e) {
    throw new RunFolderError(`${path}: cannot read the run record (${(e as Error).message})`);
  }
}

export function writeRunRecord(dir: string, r: RunRecord): void {
  writeFileAtomic(join(dir, 'run.json'), Buffer.from(JSON.stringify(r, null, 1) + '\n'));
}

/** A line diff of two texts: the changed lines with their numbers, at most `max` of them. */
function lineDiff(a: string, b: string, max = 12): string[] {
  const x = a.split('\n');
  const y = b.split('\n');
  // Longest common subsequence (spec files are small); then walk it for - and + lines.
  const n = x.length;
  const m = y.length;
  if (n * m > 4_000_000) return [`(texts of ${n} and ${m} lines differ)`];
  const L: Uint16Array[] = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      i++;
      j++;
    } else if (i < n && (j === m || L[i + 1][j] >= L[i][j + 1])) out.push(`- ${i + 1}: ${x[i++]}`);
    else out.push(`+ ${j + 1}: ${y[j++]}`);
  }
  return out.length > max ? [...out.slice(0, max), `... ${out.length - max} more changed lines`] : out;
}

/** What differs between the run's record and this start (empty when they agree). */
export function runChanges(old: RunRecord, now: RunRecord): string[] {
  const changes: string[] = [];
  if (old.spec.sha256 !== now.spec.sha256) {
    const names = new Set([...Object.keys(old.spec.sources), ...Object.keys(now.spec.sources)]);
    for (const f of names) {
      const a = old.spec.sources[f];
      const b = now.spec.sources[f];
      if (a === b) continue;
      if (a === undefined) changes.push(`spec ${f}: not part of the run's spec before`);
      else if (b === undefined) changes.push(`spec ${f}: no longer part of the spec`);
      else changes.push(`spec ${f}:\n      ${lineDiff(a, b).join('\n      ')}`);
    }
    if (changes.length === 0) changes.push('spec: the texts differ');
  }
  const keys = new Set([...Object.keys(old.options), ...Object.keys(now.options)]);
  for (const k of keys) {
    const a = old.options[k] ?? null;
    const b = now.options[k] ?? null;
    if (a !== b) changes.push(`--${k}: ${a === null ? '(not given)' : String(a)} -> ${b === null ? '(not given)' : String(b)}`);
  }
  return changes;
}

// ---------------------------------------------------------------------------------------------
// The loss log

/** Appends one record to the loss log (fault-injectable, like every run write). */
export function appendLogLine(path: string, rec: unknown): void {
  injectedFault('append', path);
  appendFileSync(path, JSON.stringify(rec) + '\n');
}

/**
 * Reads the loss log for a run that continues at `step`: a torn last line (a kill or a full disk
 * during the append) and lines past `step` are dropped, with a note; a bad line elsewhere is an
 * error naming the line. Returns the records kept and whether the file must be rewritten.
 */
export function readLossLog(
  path: string,
  step: number,
  note: (s: string) => void,
): { kept: { step: number; loss: number }[]; rewrite: boolean } {
  if (!existsSync(path)) return { kept: [], rewrite: false };
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const recs: { step: number; loss: number }[] = [];
  let rewrite = text.length > 0 && !text.endsWith('\n');
  for (const [i, line] of lines.entries()) {
    let r: { step: number; loss: number } | undefined;
    try {
      r = JSON.parse(line) as { step: number; loss: number };
    } catch {
      r = undefined;
    }
    if (!r || typeof r.step !== 'number') {
      if (i === lines.length - 1) {
        note(
          `${path}: dropped a torn last line (${JSON.stringify(line.length > 40 ? line.slice(0, 40) + '...' : line)}), left by an interrupted write`,
        );
        rewrite = true;
        break;
      }
      throw new RunFolderError(`${path}:${i + 1}: not a loss record (${JSON.stringify(line.slice(0, 60))}); fix or delete that line`);
    }
    recs.push(r);
  }
  const kept = recs.filter((r) => r.step <= step);
  if (kept.length < recs.length) {
    note(`${path}: dropped ${recs.length - kept.length} line(s) past step ${step}, the step of the checkpoint resumed from`);
    rewrite = true;
  }
  return { kept, rewrite };
}

// ---------------------------------------------------------------------------------------------
// Write failures, as one line naming the file and the cause

const CAUSES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  EEXIST: 'it already exists',
  ENOENT: 'no such file or folder',
  EIO: 'an i/o error',
  ENOMEM: 'out of memory',
};

/** "PATH: CAUSE (CODE)" for a Node errno error; the message otherwise. */
export function describeFsError(e: unknown, fallbackPath?: string): string {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || !/^E[A-Z]+$/.test(err.code)) return (e as Error)?.message ?? String(e);
  const cause = CAUSES[err.code] ?? err.message.replace(/^E[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return `${err.path ?? fallbackPath ?? '?'}: ${cause} (${err.code}${err.syscall ? ` in ${err.syscall}` : ''})`;
}

/**
 * Why a folder cannot be created: recursive mkdir reports ENOENT when a parent cannot be made (a
 * read-only file system, say); probing the nearest existing ancestor gives the real cause.
 */
export function explainMkdirFailure(dir: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') {
    let at = dir;
    while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
    if (existsSync(at) && !statSync(at).isDirectory()) return `${at}: a part of the path is a file, not a folder (ENOTDIR)`;
    const probe = join(at, `.unetc-probe-${process.pid}`);
    try {
      mkdirSync(probe);
      rmSync(probe, { recursive: true, force: true });
    } catch (inner) {
      return `cannot create ${dir}: ${describeFsError(inner, at)}`;
    }
  }
  return `cannot create ${dir}: ${describeFsError(e, dir)}`;
}

/** Creates the run folder's subfolders (fault-injectable); a failure names the real cause. */
export function makeRunDirs(dir: string, subdirs: string[]): void {
  try {
    for (const d of subdirs) {
      injectedFault('mkdir', join(dir, d));
      mkdirSync(join(dir, d), { recursive: true });
    }
  } catch (e) {
    throw new RunFolderError(`cannot write to ${dir}: ${explainMkdirFailure(dir, e)}`);
  }
}
