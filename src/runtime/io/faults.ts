/**
 * Fault injection for tests of full and read-only disks (root ignores chmod, so a test cannot
 * make a folder unwritable): `UNETC_INJECT_FAULT=CODE:OP:TEXT` makes the run-folder writes whose
 * operation is OP (write, append, mkdir, or * for any) and whose path contains TEXT fail with
 * a Node-style errno error CODE (ENOSPC, EROFS, EIO, ...). Unset, it costs one env lookup.
 */
const MESSAGES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EIO: 'i/o error',
  EACCES: 'permission denied',
};

export function injectedFault(op: string, path: string): void {
  const spec = process.env.UNETC_INJECT_FAULT;
  if (!spec) return;
  const [code, want, ...rest] = spec.split(':');
  const text = rest.join(':');
  if ((want !== '*' && want !== op) || !path.includes(text)) return;
  throw Object.assign(new Error(`${code}: ${MESSAGES[code] ?? 'injected fault'}, ${op} '${path}'`), { code, syscall: op, path, errno: -1 });
}
