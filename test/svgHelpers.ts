/** Checks on the SVG the figures write. */
import { expect } from 'vitest';

/**
 * A strict well-formedness check of the XML we write: every tag closes in order, attribute values
 * are quoted, no stray '<' or unescaped '&' in text.
 */
export function expectWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+);)/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(body))) {
    if (m[0] === '<') throw new Error(`malformed tag at ${m.index}: ${body.slice(m.index, m.index + 60)}`);
    if (m[0] === '&') throw new Error(`unescaped & at ${m.index}: ${body.slice(m.index, m.index + 30)}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${m.index}`);
    } else if (!selfClose) stack.push(name!);
    last = re.lastIndex;
  }
  expect(stack).toEqual([]);
  expect(body.slice(last).trim()).toBe('');
  expect(body.startsWith('<svg')).toBe(true);
}
