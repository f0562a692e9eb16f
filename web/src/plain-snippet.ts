/**
 * A search snippet as people read the message: markdown's marks (`**`, `~~`,
 * backticks, `[label](url)`, quote and list markers) taken out of the text the
 * node sent, with the highlight ranges moved along so they still cover the
 * matched words. The snippet is a window cut out of the message, so a mark may
 * have lost its partner: only pairs are removed, a lone `*` stays.
 *
 * @example plainSnippet("the **audit** starts", [[6, 11]]) // { text: "the audit starts", highlights: [[4, 9]] }
 */
export function plainSnippet(text: string, highlights: [number, number][]): { text: string; highlights: [number, number][] } {
  const drop = new Uint8Array(text.length);
  const mark = (from: number, to: number) => drop.fill(1, from, to);
  let m: RegExpExecArray | null;
  // Paired marks around something that does not start or end with a space.
  for (const re of [/(\*\*|__|~~)(?=\S)([\s\S]*?\S)\1/g, /`([^`\n]+)`/g, /(?<![\p{L}\p{N}*_])([*_])(?=\S)([^*_\n]*?\S)\1(?![\p{L}\p{N}])/gu]) {
    while ((m = re.exec(text))) {
      const open = m[0].startsWith("**") || m[0].startsWith("__") || m[0].startsWith("~~") ? 2 : 1;
      mark(m.index, m.index + open);
      mark(m.index + m[0].length - open, m.index + m[0].length);
    }
  }
  // [label](url): the label stays.
  const link = /\[([^\]\n]{1,500})\]\(([^()\s]{1,2000})\)/g;
  while ((m = link.exec(text))) {
    mark(m.index, m.index + 1);
    mark(m.index + 1 + m[1].length, m.index + m[0].length);
  }
  // Quote and list markers at the start of a line.
  const lineStart = /(^|\n)(>\s?|\s*[-*+]\s+|\s*\d{1,9}[.)]\s+)/g;
  while ((m = lineStart.exec(text))) mark(m.index + m[1].length, m.index + m[0].length);

  // New position of every old offset (offset i → number of kept chars before it).
  const at = new Uint32Array(text.length + 1);
  let out = "";
  for (let i = 0; i < text.length; i++) {
    at[i] = out.length;
    if (!drop[i]) out += text[i];
  }
  at[text.length] = out.length;
  const moved = highlights.map(([s, e]) => [at[Math.max(0, Math.min(s, text.length))], at[Math.max(0, Math.min(e, text.length))]] as [number, number]).filter(([s, e]) => e > s);
  return { text: out, highlights: moved };
}
