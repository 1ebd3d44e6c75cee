/**
 * JSON-like values as Python literals (True/False/None), laid out as black would: on one line
 * when it fits in `width` columns (120, as the TypeScript emitter's prettier), else one item per line with a trailing comma.
 */
export function pyLit(v: unknown, indent = 0, lead = 0, width = 120): string {
  const flat = pyFlat(v);
  if (indent + lead + flat.length + 1 <= width || typeof v !== 'object' || v === null) return flat;
  const pad = ' '.repeat(indent + 4);
  const end = ' '.repeat(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => `${pad}${pyLit(x, indent + 4, 0, width)},`).join('\n')}\n${end}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries
    .map(([k, x]) => {
      const key = `${JSON.stringify(k)}: `;
      return `${pad}${key}${pyLit(x, indent + 4, key.length, width)},`;
    })
    .join('\n')}\n${end}}`;
}

/** The literal on one line. */
export function pyFlat(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`pyLit: ${v} has no Python literal here`);
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyFlat).join(', ')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${pyFlat(x)}`).join(', ')}}`;
}
