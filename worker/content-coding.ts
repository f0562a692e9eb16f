/**
 * Content negotiation for the web client's precompressed files (RFC 9110
 * §12.5.3 Accept-Encoding, §13.1.2 If-None-Match). Pure functions: no runtime.
 *
 * @example
 *   chooseEncoding("gzip, deflate, br;q=0", ["br", "gzip"]);   // "gzip"
 *   chooseEncoding(undefined, ["br", "gzip"]);                 // "identity"
 *   noneMatch('W/"abc.br", "x"', '"abc.br"');                  // true: answer 304
 */

/** The content codings the build stores (scripts/build-web.mjs), smallest first. */
export type StoredEncoding = "br" | "gzip";
export type ChosenEncoding = StoredEncoding | "identity";

/**
 * The coding to send: among the stored ones the client accepts (q > 0), the one
 * it weights highest; on a tie the first in `available` (br: smaller). When it
 * accepts none, the identity. That includes a client that says `identity;q=0`
 * too: RFC 9110 lets a server ignore Accept-Encoding rather than answer 406, and
 * a page that loads beats an error page for a client with a broken header.
 */
export function chooseEncoding(header: string | undefined | null, available: readonly StoredEncoding[]): ChosenEncoding {
  if (!header || available.length === 0) return "identity";
  const weights = parseAcceptEncoding(header);
  let best: ChosenEncoding = "identity";
  let bestQ = 0;
  for (const coding of available) {
    const q = weights.get(coding) ?? weights.get("*") ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}

/**
 * `gzip;q=0.8, br, *;q=0` → Map { gzip → 0.8, br → 1, * → 0 }. Codings are
 * case-insensitive; `x-gzip` is gzip (RFC 9110 §8.4.1.3). A malformed q-value
 * makes its entry unusable (q 0) rather than silently 1: a client that meant
 * "no" must not get the coding it refused. Repeated codings: the last one wins.
 */
export function parseAcceptEncoding(header: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const part of header.split(",")) {
    const [rawCoding, ...params] = part.split(";");
    let coding = rawCoding.trim().toLowerCase();
    if (!coding) continue;
    if (coding === "x-gzip") coding = "gzip";
    let q = 1;
    for (const param of params) {
      const eq = param.indexOf("=");
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "q") continue;
      const value = param.slice(eq + 1).trim();
      // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
    }
    weights.set(coding, q);
  }
  return weights;
}

/**
 * Does If-None-Match name this ETag? A list, `*`, and weak tags (compared weakly,
 * as §13.1.2 says for If-None-Match: a proxy that re-compressed may have weakened it).
 */
export function noneMatch(header: string | undefined | null, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  const want = opaque(etag);
  return header.split(",").some((tag) => opaque(tag) === want);
}
