/**
 * Path selectors of the conditioning section: `"dec.*.block3.attn"`. `*` matches one path
 * segment or part of one (no dots), `**` matches any run of segments.
 */
export function selectorRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (ch === '*') re += '[^.]*';
    else re += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function matchesPath(pattern: string, path: string): boolean {
  return selectorRegExp(pattern).test(path);
}
