/** A copy of an AST without source spans, for comparing trees parsed from different text. */
export function stripSpans<T>(node: T): T {
  return JSON.parse(
    JSON.stringify(node, (k, v) =>
      k === 'span' || k === 'nameSpan' || k === 'keySpan' || k === 'calleeSpan' || k === 'file' ? undefined : v,
    ),
  ) as T;
}
