/**
 * A streaming `multipart/form-data` parser (RFC 7578 over RFC 2046): bytes go
 * in as they arrive, events come out; a part's body is never held, only the
 * few bytes at the end of a chunk that might be the start of the next
 * boundary. Pure: no runtime or Node built-ins, so it runs in workerd as is.
 *
 * Why our own: the maintained parsers on npm either need Node streams
 * (busboy, dicer, formidable) or buffer each part's content in memory
 * (@mjackson/@remix-run multipart-parser), and an upload must stream to disk.
 *
 * The grammar, and how it is read here:
 *
 *   body     := [preamble CRLF] "--" boundary padding CRLF part
 *               *(CRLF "--" boundary padding CRLF part)
 *               CRLF "--" boundary "--" padding [CRLF epilogue]
 *   part     := *(header CRLF) CRLF content
 *
 * The parser starts as if a CRLF came before the first byte, so the first
 * boundary line is found by the same search as every other delimiter
 * (`CRLF "--" boundary`). Preamble and epilogue are skipped. A delimiter that
 * is followed by anything but `--`, spaces/tabs and CRLF is malformed: the
 * boundary must not occur inside a part (RFC 2046 §5.1.1), so there is no
 * "maybe it was data" case to undo.
 *
 * @example
 *   const parser = new MultipartParser(boundaryOf(request.headers.get("content-type")));
 *   for await (const chunk of request.body) for (const ev of parser.push(chunk)) handle(ev);
 *   for (const ev of parser.end()) handle(ev); // throws MultipartError if the body was cut short
 */

export type MultipartEvent =
  /** a part begins; header names are lower-case, values decoded as UTF-8 */
  | { type: "part"; headers: Map<string, string> }
  /** some of the current part's content (a view into the chunk given: use or copy it before the next push) */
  | { type: "data"; bytes: Uint8Array }
  /** the current part's content is complete */
  | { type: "part-end" }
  /** the closing boundary: no more parts (the epilogue, if any, is skipped) */
  | { type: "end" };

/** The body is not well-formed multipart; the message says what was wrong (safe to show the client). */
export class MultipartError extends Error {}

/** One part's header block may not exceed this (browsers send a few hundred bytes). */
export const MAX_PART_HEADER_BYTES = 16 * 1024;

const CR = 13;
const LF = 10;
const DASH = 45;
const SP = 32;
const HTAB = 9;

// RFC 2046 bchars. The RFC allows at most 70; longer ones are accepted (they do no harm) up to 200.
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,199}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * The boundary from a `multipart/form-data; boundary=…` Content-Type.
 * Throws MultipartError when it is missing or not a valid boundary.
 */
export function boundaryOf(contentType: string | null | undefined): string {
  const m = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(contentType ?? "");
  if (!m) throw new MultipartError("multipart/form-data needs a boundary parameter in its Content-Type");
  const boundary = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
  if (!BOUNDARY_RE.test(boundary)) throw new MultipartError("the multipart boundary is not valid (1 to 70 letters, digits or '()+_,-./:=? )");
  return boundary;
}

type State = "preamble" | "after-delimiter" | "padding" | "headers" | "body" | "epilogue";

export class MultipartParser {
  private readonly delimiter: Uint8Array;
  private state: State = "preamble";
  /** bytes of the previous chunk still undecided (a partial delimiter, or an unfinished header block) */
  private carry: Uint8Array = Uint8Array.of(CR, LF);
  private readonly decoder = new TextDecoder();

  constructor(boundary: string) {
    this.delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
  }

  /** Feed the next chunk of the body; returns the events it completes, in order. */
  push(chunk: Uint8Array): MultipartEvent[] {
    const events: MultipartEvent[] = [];
    let buf = chunk;
    if (this.carry.byteLength > 0) {
      buf = new Uint8Array(this.carry.byteLength + chunk.byteLength);
      buf.set(this.carry, 0);
      buf.set(chunk, this.carry.byteLength);
      this.carry = new Uint8Array(0);
    }
    let i = 0;
    while (i < buf.byteLength) {
      switch (this.state) {
        case "preamble":
        case "body": {
          const at = this.find(buf, i);
          if (at >= 0) {
            if (this.state === "body") {
              if (at > i) events.push({ type: "data", bytes: buf.subarray(i, at) });
              events.push({ type: "part-end" });
            }
            i = at + this.delimiter.byteLength;
            this.state = "after-delimiter";
            break;
          }
          // No whole delimiter here: keep the tail that could be the start of one.
          const keep = this.partialAtEnd(buf, i);
          if (this.state === "body" && keep > i) events.push({ type: "data", bytes: buf.subarray(i, keep) });
          this.carry = buf.slice(keep);
          return events;
        }
        case "after-delimiter": {
          if (buf[i] !== DASH) {
            this.state = "padding";
            break;
          }
          if (i + 1 >= buf.byteLength) {
            this.carry = buf.slice(i);
            return events;
          }
          if (buf[i + 1] !== DASH) throw new MultipartError("a multipart boundary is followed by a stray '-'");
          i += 2;
          this.state = "epilogue";
          events.push({ type: "end" });
          break;
        }
        case "padding": {
          while (i < buf.byteLength && (buf[i] === SP || buf[i] === HTAB)) i++;
          if (i >= buf.byteLength) return events;
          if (buf[i] !== CR) throw new MultipartError("a multipart boundary line has characters after the boundary");
          if (i + 1 >= buf.byteLength) {
            this.carry = buf.slice(i);
            return events;
          }
          if (buf[i + 1] !== LF) throw new MultipartError("a multipart boundary line does not end with CRLF");
          i += 2;
          this.state = "headers";
          break;
        }
        case "headers": {
          const end = headerBlockEnd(buf, i);
          if (end < 0) {
            if (buf.byteLength - i > MAX_PART_HEADER_BYTES) throw new MultipartError(`a part's headers exceed ${MAX_PART_HEADER_BYTES} bytes`);
            this.carry = buf.slice(i);
            return events;
          }
          if (end - i > MAX_PART_HEADER_BYTES) throw new MultipartError(`a part's headers exceed ${MAX_PART_HEADER_BYTES} bytes`);
          events.push({ type: "part", headers: this.parseHeaders(buf.subarray(i, end)) });
          // The block ends with CRLF CRLF, or is a lone CRLF when the part has no headers.
          i = end + (end === i ? 2 : 4);
          this.state = "body";
          break;
        }
        case "epilogue":
          return events;
      }
    }
    return events;
  }

  /** The body has ended: throws MultipartError unless the closing boundary was seen. */
  end(): MultipartEvent[] {
    if (this.state !== "epilogue") {
      throw new MultipartError(this.state === "preamble" ? "no multipart boundary was found in the body" : "the multipart body ended before its closing boundary");
    }
    return [];
  }

  /** Index of the first whole delimiter at or after `from`, or -1. */
  private find(buf: Uint8Array, from: number): number {
    const d = this.delimiter;
    const last = buf.byteLength - d.byteLength;
    for (let at = buf.indexOf(CR, from); at >= 0 && at <= last; at = buf.indexOf(CR, at + 1)) {
      if (matchesAt(buf, at, d, d.byteLength)) return at;
    }
    return -1;
  }

  /** Where the undecided tail starts: the first index ≥ from whose rest is a proper prefix of the delimiter (or the end). */
  private partialAtEnd(buf: Uint8Array, from: number): number {
    const d = this.delimiter;
    for (let at = Math.max(from, buf.byteLength - d.byteLength + 1); at < buf.byteLength; at++) {
      if (buf[at] === CR && matchesAt(buf, at, d, buf.byteLength - at)) return at;
    }
    return buf.byteLength;
  }

  private parseHeaders(block: Uint8Array): Map<string, string> {
    const headers = new Map<string, string>();
    if (block.byteLength === 0) return headers;
    let last: string | null = null;
    for (const line of this.decoder.decode(block).split("\r\n")) {
      if (/^[ \t]/.test(line)) {
        // obs-fold: a continuation of the previous header's value
        if (last === null) throw new MultipartError("a part's headers start with a continuation line");
        headers.set(last, `${headers.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*:[ \t]*(.*?)[ \t]*$/.exec(line);
      if (!m) throw new MultipartError("a part has a malformed header line");
      last = m[1].toLowerCase();
      headers.set(last, headers.has(last) ? `${headers.get(last)}, ${m[2]}` : m[2]);
    }
    return headers;
  }
}

function matchesAt(buf: Uint8Array, at: number, pattern: Uint8Array, length: number): boolean {
  for (let k = 0; k < length; k++) if (buf[at + k] !== pattern[k]) return false;
  return true;
}

/** Index where a header block starting at `from` ends (its final CRLF CRLF, or `from` for a lone CRLF), or -1. */
function headerBlockEnd(buf: Uint8Array, from: number): number {
  if (buf.byteLength - from < 2) return -1;
  if (buf[from] === CR && buf[from + 1] === LF) return from;
  for (let at = buf.indexOf(CR, from); at >= 0 && at + 3 < buf.byteLength; at = buf.indexOf(CR, at + 1)) {
    if (buf[at + 1] === LF && buf[at + 2] === CR && buf[at + 3] === LF) return at;
  }
  return -1;
}
