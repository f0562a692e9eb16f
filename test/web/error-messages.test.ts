import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../protocol/errors";
import { errors as ERROR_MESSAGES_EN } from "../../web/src/strings-en";
import { errors as ERROR_MESSAGES_ZH } from "../../web/src/strings-zh";
import { plainSnippet } from "../../web/src/plain-snippet";
import { parseInline } from "../../web/src/markdown";

describe("every server error code has a sentence in both languages", () => {
  for (const code of Object.keys(ERROR_STATUS)) {
    it(code, () => {
      expect(ERROR_MESSAGES_EN[code as keyof typeof ERROR_MESSAGES_EN], `en: ${code}`).toMatch(/\S/);
      expect(ERROR_MESSAGES_ZH[code as keyof typeof ERROR_MESSAGES_ZH], `zh: ${code}`).toMatch(/\p{Script=Han}/u);
    });
  }
});

describe("search snippets without markdown", () => {
  it("drops paired marks and keeps the highlights on the words", () => {
    const text = "the **audit** starts ~~Monday~~ `ledger` [report](https://x.example/r)";
    const at = text.indexOf("audit");
    const out = plainSnippet(text, [[at, at + 5]]);
    expect(out.text).toBe("the audit starts Monday ledger report");
    expect(out.text.slice(out.highlights[0][0], out.highlights[0][1])).toBe("audit");
  });
  it("a lone mark cut off by the snippet window stays", () => {
    expect(plainSnippet("…end of **bold", []).text).toBe("…end of **bold");
    expect(plainSnippet("snake_case_name", []).text).toBe("snake_case_name");
  });
});

describe("strikethrough", () => {
  it("~~x~~ is struck through, ~~ alone is text", () => {
    expect(parseInline("~~old~~ new")).toEqual([{ t: "s", c: [{ t: "text", v: "old" }] }, { t: "text", v: " new" }]);
    expect(parseInline("a ~~ b")).toEqual([{ t: "text", v: "a ~~ b" }]);
  });
});
