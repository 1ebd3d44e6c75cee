/**
 * Crash-safe file replacement: a checkpoint or sample sheet is either the old file or the complete
 * new one, never a half-written mix, even if the process is killed or the machine loses power
 * mid-write. The data goes to a sibling temp file (same directory, so the rename cannot cross file
 * systems), is fsynced, renamed over the target (atomic on POSIX), and then the directory is
 * fsynced so the rename itself survives a power loss.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { injectedFault } from './faults.ts';

export function writeFileAtomic(target: string, data: Uint8Array): void {
  // The pid suffix keeps two processes writing the same target from clobbering each other's temp.
  const tmp = `${target}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    injectedFault('write', target);
    let written = 0;
    while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDirectory(path.dirname(path.resolve(target)));
}

/** Makes a rename durable. Some platforms (Windows) cannot open a directory; there it is skipped. */
function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    // EINVAL/EPERM: the file system does not support fsync on directories; the rename still happened.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw err;
  } finally {
    fs.closeSync(fd);
  }
}
