/**
 * The safe markdown subset: bold, italic, ~~strikethrough~~, inline code, code blocks, links
 * (http, https, mailto only), lists, quotes, @mentions. Text is parsed into a
 * small tree which the view turns into VNodes: user text only ever becomes
 * text nodes and vetted `href`s, never HTML. Anything that does not parse
 * cleanly stays literal text.
 */
export type Inline =
  | { t: "text"; v: string }
  | { t: "b" | "i" | "s"; c: Inline[] }
  | { t: "code"; v: string }
  | { t: "a"; href: string; c: Inline[] }
  | { t: "mention"; v: string }
  | { t: "br" };
export type Block =
  | { t: "p"; c: Inline[] }
  | { t: "pre"; v: string }
  | { t: "quote"; c: Block[] }
  | { t: "ul" | "ol"; items: Inline[][] };

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const MAX_DEPTH = 4;

/** The URL if it is absolute with an allowed scheme and no control characters; otherwise null. */
export function safeHref(raw: string): string | null {
  if (/[\u0000-\u001f\u007f\s]/.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

export function parseMarkdown(text: string, depth = 0): Block[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push({ t: "p", c: parseInline(para.join("\n"), depth) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
      if (end > i) {
        flush();
        blocks.push({ t: "pre", v: lines.slice(i + 1, end).join("\n") });
        i = end;
        continue;
      }
    }
    if (/^>\s?/.test(line) && depth < MAX_DEPTH) {
      flush();
      const inner: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) inner.push(lines[i++].replace(/^>\s?/, ""));
      i--;
      blocks.push({ t: "quote", c: parseMarkdown(inner.join("\n"), depth + 1) });
      continue;
    }
    const bullet = /^\s*[-*+]\s+/;
    const numbered = /^\s*\d{1,9}[.)]\s+/;
    if (bullet.test(line) || numbered.test(line)) {
      flush();
      const re = bullet.test(line) ? bullet : numbered;
      const items: Inline[][] = [];
      while (i < lines.length && re.test(lines[i])) items.push(parseInline(lines[i++].replace(re, ""), depth));
      i--;
      blocks.push({ t: re === bullet ? "ul" : "ol", items });
      continue;
    }
    if (line.trim() === "") {
      flush();
      continue;
    }
    para.push(line);
  }
  flush();
  return blocks;
}

const AUTOLINK = /^(?:https?:\/\/|mailto:)[^\s<>"]*[^\s<>".,:;'!?)\]]/;
const LINK = /^\[([^\]\n]{1,500})\]\(([^()\s]{1,2000})\)/;
const MENTION = /^@([a-z0-9][a-z0-9._-]{0,31})/;

export function parseInline(s: string, depth = 0): Inline[] {
  const out: Inline[] = [];
  let buf = "";
  const text = () => {
    if (buf) out.push({ t: "text", v: buf });
    buf = "";
  };
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    const rest = s.slice(i, i + 2100);
    const prev = i > 0 ? s[i - 1] : " ";
    if (ch === "\n") {
      text();
      out.push({ t: "br" });
      i++;
      continue;
    }
    if (ch === "`") {
      const end = s.indexOf("`", i + 1);
      if (end > i + 1) {
        text();
        out.push({ t: "code", v: s.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (depth < MAX_DEPTH && (rest.startsWith("**") || rest.startsWith("__"))) {
      const mark = rest.slice(0, 2);
      const end = s.indexOf(mark, i + 2);
      if (end > i + 2 && !/\s/.test(s[i + 2])) {
        text();
        out.push({ t: "b", c: parseInline(s.slice(i + 2, end), depth + 1) });
        i = end + 2;
        continue;
      }
    }
    if (depth < MAX_DEPTH && rest.startsWith("~~")) {
      const end = s.indexOf("~~", i + 2);
      if (end > i + 2 && !/\s/.test(s[i + 2]) && !/\s/.test(s[end - 1])) {
        text();
        out.push({ t: "s", c: parseInline(s.slice(i + 2, end), depth + 1) });
        i = end + 2;
        continue;
      }
    }
    if (depth < MAX_DEPTH && (ch === "*" || ch === "_") && !/[\p{L}\p{N}]/u.test(prev)) {
      const end = s.indexOf(ch, i + 1);
      if (end > i + 1 && !/\s/.test(s[i + 1]) && !/\s/.test(s[end - 1])) {
        text();
        out.push({ t: "i", c: parseInline(s.slice(i + 1, end), depth + 1) });
        i = end + 1;
        continue;
      }
    }
    if (ch === "[" && depth < MAX_DEPTH) {
      const m = LINK.exec(rest);
      const href = m && safeHref(m[2]);
      if (m && href) {
        text();
        out.push({ t: "a", href, c: parseInline(m[1], depth + 1) });
        i += m[0].length;
        continue;
      }
    }
    if ((ch === "h" || ch === "m") && !/[\p{L}\p{N}]/u.test(prev)) {
      const m = AUTOLINK.exec(rest);
      const href = m && safeHref(m[0]);
      if (m && href) {
        text();
        out.push({ t: "a", href, c: [{ t: "text", v: m[0] }] });
        i += m[0].length;
        continue;
      }
    }
    if (ch === "@" && !/[\p{L}\p{N}._-]/u.test(prev)) {
      const m = MENTION.exec(rest);
      if (m) {
        text();
        out.push({ t: "mention", v: m[1] });
        i += m[0].length;
        continue;
      }
    }
    buf += ch;
    i++;
  }
  text();
  return out;
}
