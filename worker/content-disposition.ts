/**
 * `Content-Disposition` both ways: the header a download is served with
 * (RFC 6266, the UTF-8 name in `filename*` per RFC 8187), and the header of a
 * `multipart/form-data` part an upload arrives with (RFC 7578).
 */

/** RFC 8187 attr-char: the only bytes a `filename*` value may carry unencoded. */
const ATTR_CHAR = new Set([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~"].map((c) => c.charCodeAt(0)));

/**
 * A name as an RFC 8187 ext-value: `UTF-8''` then every UTF-8 byte that is not an
 * attr-char as `%XX`. (`encodeURIComponent` is not enough: it leaves `' ( ) *` bare,
 * and a strict parser stops at the `'`.)
 *
 * @example encodeExtValue("a'b 报.txt") // "UTF-8''a%27b%20%E6%8A%A5.txt"
 */
export function encodeExtValue(value: string): string {
  let out = "UTF-8''";
  for (const byte of new TextEncoder().encode(value)) {
    out += ATTR_CHAR.has(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * An RFC 8187 ext-value (`charset'lang'pct-encoded`) decoded, or null when it is
 * malformed or in a charset other than UTF-8 / ISO-8859-1.
 */
export function decodeExtValue(value: string): string | null {
  const m = /^([A-Za-z0-9!#$%&+\-^_`{}~]+)'[A-Za-z0-9-]*'((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})*)$/.exec(value);
  if (!m) return null;
  const charset = m[1].toLowerCase();
  const bytes: number[] = [];
  for (let i = 0; i < m[2].length; i++) {
    if (m[2][i] === "%") {
      bytes.push(parseInt(m[2].slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(m[2].charCodeAt(i));
  }
  if (charset === "iso-8859-1") return String.fromCharCode(...bytes);
  if (charset !== "utf-8") return null;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
}

/**
 * The header a file is served with: a plain-ASCII `filename` for old clients
 * (anything outside printable ASCII, and `" \ % ;`, become `_`) and the exact
 * name in `filename*`, which every current browser and HTTP library prefers.
 */
export function contentDisposition(kind: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=${encodeExtValue(name)}`;
}

export interface PartDisposition {
  /** `form-data` for a form part */
  type: string;
  /** the form field's name */
  name: string | null;
  /** the file's name as the client gave it (`filename*` wins over `filename`), or null for a plain field */
  filename: string | null;
}

/**
 * A multipart part's `Content-Disposition` (`form-data; name="file"; filename="a.png"`).
 * Parameter values are tokens or quoted strings (backslash escapes undone). Browsers
 * write a non-ASCII filename as raw UTF-8 inside the quotes, which the multipart
 * parser has already decoded; a `filename*` (RFC 8187), if a client sends one, wins.
 */
export function parsePartDisposition(value: string): PartDisposition {
  const typeMatch = /^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*/.exec(value);
  const params = new Map<string, string>();
  let rest = value.slice(typeMatch ? typeMatch[0].length : 0);
  const param = /^;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\[\s\S])*)"|([^;"\s]*))\s*/;
  for (let m = param.exec(rest); m; m = param.exec(rest)) {
    const key = m[1].toLowerCase();
    if (!params.has(key)) params.set(key, m[2] !== undefined ? m[2].replace(/\\([\s\S])/g, "$1") : m[3]);
    rest = rest.slice(m[0].length);
  }
  const extended = params.has("filename*") ? decodeExtValue(params.get("filename*")!) : null;
  return {
    type: (typeMatch?.[1] ?? "").toLowerCase(),
    name: params.get("name") ?? null,
    filename: extended ?? params.get("filename") ?? null,
  };
}
