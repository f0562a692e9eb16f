/**
 * The streaming multipart parser (worker/multipart.ts) and Content-Disposition
 * (worker/content-disposition.ts), run inside workerd: no Node built-ins.
 * Every input is also fed split at every byte position (and byte by byte), so
 * a boundary, a CRLF or a header block cut across chunks is proven to parse
 * exactly as the whole body does.
 */
import { describe, expect, it } from "vitest";
import { boundaryOf, MultipartError, MultipartParser, type MultipartEvent } from "../../worker/multipart";
import { contentDisposition, decodeExtValue, encodeExtValue, parsePartDisposition } from "../../worker/content-disposition";

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};

interface Parsed {
  parts: { headers: Record<string, string>; data: Uint8Array }[];
  ended: boolean;
}

/** Feed `chunks` to a fresh parser; collect parts (data copied as it comes, since views die with their chunk). */
function parse(boundary: string, chunks: Uint8Array[]): Parsed {
  const parser = new MultipartParser(boundary);
  const out: Parsed = { parts: [], ended: false };
  let data: Uint8Array[] = [];
  const handle = (ev: MultipartEvent) => {
    if (ev.type === "part") {
      data = [];
      out.parts.push({ headers: Object.fromEntries(ev.headers), data: new Uint8Array(0) });
    } else if (ev.type === "data") data.push(ev.bytes.slice());
    else if (ev.type === "part-end") out.parts[out.parts.length - 1].data = concat(data);
    else out.ended = true;
  };
  for (const c of chunks) parser.push(c).forEach(handle);
  parser.end().forEach(handle);
  return out;
}

/** Parse whole, then split at every position, then byte by byte: all must agree. */
function parseEverySplit(boundary: string, body: Uint8Array): Parsed {
  const whole = parse(boundary, [body]);
  for (let i = 0; i <= body.byteLength; i++) {
    expect(parse(boundary, [body.subarray(0, i), body.subarray(i)]), `split at ${i}`).toEqual(whole);
  }
  expect(parse(boundary, [...body].map((b) => Uint8Array.of(b)))).toEqual(whole);
  return whole;
}

/** Expect a MultipartError whole and at every split. */
function expectMalformedEverySplit(boundary: string, body: Uint8Array, message: RegExp) {
  expect(() => parse(boundary, [body])).toThrow(message);
  for (let i = 0; i <= body.byteLength; i++) {
    expect(() => parse(boundary, [body.subarray(0, i), body.subarray(i)]), `split at ${i}`).toThrow(MultipartError);
  }
}

describe("multipart parser", () => {
  it("reads fields and a file, skipping preamble and epilogue, at every split", () => {
    const b = "----formdata-x1";
    const body = bytes(
      "This is the preamble.\r\n" +
        `--${b}\r\n` +
        'Content-Disposition: form-data; name="caption"\r\n\r\n' +
        "hello\r\n" +
        `--${b}   \t\r\n` + // transport padding after a boundary is allowed
        'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n' +
        "Content-Type: application/octet-stream\r\n\r\n" +
        // content that looks like boundaries but is not: CRs, dashes, a prefix of the delimiter
        `x\r\n--${b.slice(0, 6)}\r\r\n-\r\n--\r\n--${b.slice(0, -1)}y\r\n\r\n` +
        `\r\n--${b}--  \r\n` +
        "the epilogue, ignored\r\n--also ignored",
    );
    const parsed = parseEverySplit(b, body);
    expect(parsed.ended).toBe(true);
    expect(parsed.parts.map((p) => p.headers)).toEqual([
      { "content-disposition": 'form-data; name="caption"' },
      { "content-disposition": 'form-data; name="file"; filename="a.bin"', "content-type": "application/octet-stream" },
    ]);
    expect(new TextDecoder().decode(parsed.parts[0].data)).toBe("hello");
    expect(new TextDecoder().decode(parsed.parts[1].data)).toBe(`x\r\n--${b.slice(0, 6)}\r\r\n-\r\n--\r\n--${b.slice(0, -1)}y\r\n\r\n`);
  });

  it("takes a body that starts with its boundary, a part with no headers, an empty part, and a close right after", () => {
    const b = "AaB03x";
    const body = bytes(`--${b}\r\n\r\nno headers\r\n--${b}\r\nX-A: 1\r\n\r\n\r\n--${b}--`);
    const parsed = parseEverySplit(b, body);
    expect(parsed.parts).toEqual([
      { headers: {}, data: bytes("no headers") },
      { headers: { "x-a": "1" }, data: new Uint8Array(0) },
    ]);
    expect(parsed.ended).toBe(true);
  });

  it("keeps UTF-8 filenames, folded and repeated headers", () => {
    const b = "q";
    const body = bytes(`--${b}\r\nContent-Disposition: form-data; name="file";\r\n filename="报告 2026.pdf"\r\nX-Y: 1\r\nx-y: 2\r\n\r\n%PDF\r\n--${b}--\r\n`);
    const parsed = parseEverySplit(b, body);
    expect(parsed.parts[0].headers).toEqual({ "content-disposition": 'form-data; name="file"; filename="报告 2026.pdf"', "x-y": "1, 2" });
    expect(parsePartDisposition(parsed.parts[0].headers["content-disposition"]).filename).toBe("报告 2026.pdf");
  });

  it("streams random binary content exactly, whatever the chunking", () => {
    // Binary full of CRs, LFs and dashes, so partial delimiters show up everywhere.
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const alphabet = [13, 10, 45, 45, 13, 10, 66, 0, 255];
    const b = "--B";
    for (let round = 0; round < 8; round++) {
      const content = Uint8Array.from({ length: 200 + rand() }, () => alphabet[rand() % alphabet.length]);
      // A well-formed body never contains its delimiter; skip the rare content that does.
      if (new TextDecoder("latin1").decode(content).includes(`\r\n--${b}`)) continue;
      const body = concat([bytes(`--${b}\r\nContent-Type: application/octet-stream\r\n\r\n`), content, bytes(`\r\n--${b}--\r\n`)]);
      const parsed = parseEverySplit(b, body);
      expect(parsed.parts).toHaveLength(1);
      expect(parsed.parts[0].data).toEqual(content);
    }
  });

  it("parses what workerd's own FormData serialiser writes", async () => {
    const file = crypto.getRandomValues(new Uint8Array(3000));
    const form = new FormData();
    form.append("note", "hi");
    form.append("file", new File([file], "pic.png", { type: "image/png" }));
    const res = new Response(form);
    const body = new Uint8Array(await res.arrayBuffer());
    const b = boundaryOf(res.headers.get("content-type"));
    const whole = parse(b, [body]);
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < body.byteLength; i += size) chunks.push(body.subarray(i, i + size));
      expect(parse(b, chunks)).toEqual(whole);
    }
    expect(whole.parts).toHaveLength(2);
    expect(whole.parts[1].headers["content-type"]).toBe("image/png");
    expect(parsePartDisposition(whole.parts[1].headers["content-disposition"])).toEqual({ type: "form-data", name: "file", filename: "pic.png" });
    expect(whole.parts[1].data).toEqual(file);
  });

  it("refuses malformed bodies at every split", () => {
    const b = "xyz";
    expectMalformedEverySplit(b, bytes("no boundary anywhere in here"), /no multipart boundary/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\n\r\ncut short`), /ended before its closing boundary/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\n\r\ndata\r\n--${b}`), /ended before its closing boundary/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\n\r\ndata\r\n--${b}-`), /ended before/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\n\r\ndata\r\n--${b}-x\r\n`), /stray '-'/);
    expectMalformedEverySplit(b, bytes(`--${b}X\r\n\r\ndata\r\n--${b}--`), /characters after the boundary/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\r\n\r\ndata\r\n--${b}--`), /does not end with CRLF/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\nno colon here\r\n\r\ndata\r\n--${b}--`), /malformed header/);
    expectMalformedEverySplit(b, bytes(`--${b}\r\n continued\r\n\r\ndata\r\n--${b}--`), /continuation/);
    expect(() => parse(b, [bytes(`--${b}\r\nX-Big: ${"a".repeat(20000)}\r\n\r\n`)])).toThrow(/headers exceed/);
    // A header block that never ends is refused once it is too big, not buffered forever.
    const parser = new MultipartParser(b);
    parser.push(bytes(`--${b}\r\nX-Big: `));
    expect(() => {
      for (let i = 0; i < 100; i++) parser.push(bytes("a".repeat(1000)));
    }).toThrow(/headers exceed/);
  });

  it("reads the boundary from the Content-Type, and refuses a missing or malformed one", () => {
    expect(boundaryOf("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW")).toBe("----WebKitFormBoundary7MA4YWxkTrZu0gW");
    expect(boundaryOf('multipart/form-data; charset=utf-8; Boundary="a b:c"')).toBe("a b:c");
    expect(boundaryOf("multipart/form-data;boundary=x;foo=bar")).toBe("x");
    for (const bad of [undefined, "multipart/form-data", "multipart/form-data; boundary=", 'multipart/form-data; boundary=""', "multipart/form-data; boundary=a<b", 'multipart/form-data; boundary="ends with space "', `multipart/form-data; boundary=${"x".repeat(201)}`]) {
      expect(() => boundaryOf(bad), String(bad)).toThrow(MultipartError);
    }
  });
});

describe("Content-Disposition", () => {
  /** RFC 8187 ext-value decoding, strict, written from the RFC here (not the module's decoder). */
  function decodeStrict(header: string): string {
    const m = /filename\*=UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})*)(?:;|$)/.exec(header);
    if (!m) throw new Error(`no valid filename* in ${header}`);
    const raw = m[1].replace(/%([0-9A-F]{2})|[\s\S]/g, (all, hex) => String.fromCharCode(hex ? parseInt(hex, 16) : all.charCodeAt(0)));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(raw, (c) => c.charCodeAt(0)));
  }

  it("encodes everything but attr-char, so ' ( ) * and CJK round-trip through a strict parser", () => {
    const name = "it's (final) *draft* 报告 100%; \"q\" \\ é.txt";
    expect(encodeExtValue("'()*")).toBe("UTF-8''%27%28%29%2A");
    expect(encodeExtValue("a-Z_0.~!#$&+^`|")).toBe("UTF-8''a-Z_0.~!#$&+^`|");
    const header = contentDisposition("attachment", name);
    expect(header).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=/);
    expect(decodeStrict(header)).toBe(name);
    expect(decodeExtValue(encodeExtValue(name))).toBe(name);
  });

  it("reads form-data part dispositions", () => {
    expect(parsePartDisposition('form-data; name="file"; filename="a \\"b\\".txt"')).toEqual({ type: "form-data", name: "file", filename: 'a "b".txt' });
    expect(parsePartDisposition("form-data; name=file; filename=plain.txt")).toEqual({ type: "form-data", name: "file", filename: "plain.txt" });
    expect(parsePartDisposition(`form-data; name="f"; filename="fallback.txt"; filename*=UTF-8''%E6%8A%A5.txt`).filename).toBe("报.txt");
    expect(parsePartDisposition('form-data; name="note"')).toEqual({ type: "form-data", name: "note", filename: null });
    expect(parsePartDisposition("").filename).toBeNull();
  });
});
