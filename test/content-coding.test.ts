/**
 * Which precompressed form of a web asset a client gets (worker/content-coding.ts):
 * Accept-Encoding with q-values as RFC 9110 reads them, and If-None-Match lists.
 */
import { describe, expect, it } from "vitest";
import { chooseEncoding, noneMatch, parseAcceptEncoding } from "../worker/content-coding";

const BOTH = ["br", "gzip"] as const;

describe("chooseEncoding", () => {
  it.each([
    // [Accept-Encoding, expected]
    [undefined, "identity"],
    ["", "identity"],
    ["identity", "identity"],
    ["deflate", "identity"],
    ["gzip, deflate", "gzip"], // Chromium over plain http
    ["gzip, deflate, br, zstd", "br"], // Chromium over https
    ["br", "br"],
    ["BR", "br"],
    ["x-gzip", "gzip"],
    ["br;q=0, gzip", "gzip"],
    ["br; q=0 , gzip", "gzip"],
    ["br;q=0.0, gzip;q=0.000", "identity"],
    ["gzip;q=1, br;q=0.5", "gzip"], // the client's preference wins over ours
    ["gzip;q=0.5, br;q=0.5", "br"], // a tie: the smaller
    ["*", "br"],
    ["*;q=0.2, br;q=0", "gzip"],
    ["*;q=0", "identity"],
    ["br;q=abc, gzip", "gzip"], // a malformed weight is no "yes"
    ["br;q=1.5, gzip", "gzip"],
    ["br;q=-1", "identity"],
    [",,; ,", "identity"],
    ["gzip, gzip;q=0", "identity"], // the last word counts
  ] as const)("%j → %s", (header, expected) => {
    expect(chooseEncoding(header, BOTH)).toBe(expected);
  });

  it("only offers what is stored", () => {
    expect(chooseEncoding("br", ["gzip"])).toBe("identity");
    expect(chooseEncoding("br, gzip", ["gzip"])).toBe("gzip");
    expect(chooseEncoding("br, gzip", [])).toBe("identity");
  });

  it("parses weights", () => {
    expect([...parseAcceptEncoding("gzip;q=0.8, br, *;q=0")]).toEqual([
      ["gzip", 0.8],
      ["br", 1],
      ["*", 0],
    ]);
  });
});

describe("noneMatch", () => {
  it("matches lists, weak tags and *", () => {
    expect(noneMatch('"a.br"', '"a.br"')).toBe(true);
    expect(noneMatch('"x", W/"a.br"', '"a.br"')).toBe(true);
    expect(noneMatch("*", '"a.br"')).toBe(true);
    expect(noneMatch('"a.gz"', '"a.br"')).toBe(false); // another form's validator
    expect(noneMatch('"a"', '"a.br"')).toBe(false);
    expect(noneMatch("", '"a"')).toBe(false);
    expect(noneMatch(undefined, '"a"')).toBe(false);
  });
});
