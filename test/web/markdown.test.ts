import { describe, expect, it } from "vitest";
import { parseInline, parseMarkdown, safeHref } from "../../web/src/markdown";

describe("safe markdown subset", () => {
  it("parses bold, italic, code, links, mentions, lists, quotes and code blocks", () => {
    expect(parseInline("**b** *i* `c` @bob [x](https://a.example/)")).toEqual([
      { t: "b", c: [{ t: "text", v: "b" }] },
      { t: "text", v: " " },
      { t: "i", c: [{ t: "text", v: "i" }] },
      { t: "text", v: " " },
      { t: "code", v: "c" },
      { t: "text", v: " " },
      { t: "mention", v: "bob" },
      { t: "text", v: " " },
      { t: "a", href: "https://a.example/", c: [{ t: "text", v: "x" }] },
    ]);
    expect(parseMarkdown("- a\n- b\n\n1. one\n> quoted\n```\n<b>raw</b>\n```").map((b) => b.t)).toEqual(["ul", "ol", "quote", "pre"]);
  });

  it("only http, https and mailto become links; everything else stays text", () => {
    for (const bad of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x", "//evil.example", "/relative", "java\nscript:x"]) {
      expect(safeHref(bad)).toBeNull();
      expect(parseInline(`[x](${bad})`).some((n) => n.t === "a")).toBe(false);
    }
    expect(safeHref("mailto:a@b.example")).toBe("mailto:a@b.example");
  });

  it("malformed and deeply nested input terminates and keeps every character", () => {
    const nasty = "**".repeat(500) + "[".repeat(500) + "*_`".repeat(300);
    const flat = (nodes: ReturnType<typeof parseInline>): string =>
      nodes.map((n) => (n.t === "text" || n.t === "code" ? (n.t === "code" ? "`" + n.v + "`" : n.v) : n.t === "mention" ? "@" + n.v : n.t === "br" ? "\n" : n.t === "a" ? flat(n.c) : "")).join("");
    const started = Date.now();
    const out = parseInline(nasty);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(flat(out).length).toBeGreaterThan(0);
    expect(parseInline("<script>alert(1)</script>")).toEqual([{ t: "text", v: "<script>alert(1)</script>" }]);
  });
});
