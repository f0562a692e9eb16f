/**
 * search-tokens.ts against real SQLite FTS5 (better-sqlite3), with the room's own
 * FTS table definition: what indexText writes and what compileQuery asks must
 * agree, on text that mixes scripts as Chinese, Japanese and Korean chat does.
 * The same corpus goes through the room object in test/workers/search.test.ts.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { compileQuery, indexText, snippet } from "../../durable-objects/room/search-tokens";
import { LEGACY_FORMATS } from "../../durable-objects/room/search-tokens-legacy";
import { MIXED_CORPUS, MIXED_QUERIES } from "./mixed-corpus";

const ftsTable = (() => {
  const sql = fs.readFileSync(new URL("../../durable-objects/room/migrations/0004_search_prefix.sql", import.meta.url), "utf8");
  return /CREATE VIRTUAL TABLE[^;]+;/.exec(sql)![0];
})();

function indexed(texts: readonly string[], index: (t: string) => string = indexText) {
  const db = new Database(":memory:");
  db.exec(ftsTable);
  const insert = db.prepare("INSERT INTO message_fts (rowid, body) VALUES (?, ?)");
  texts.forEach((t, i) => insert.run(i + 1, index(t)));
  const stmt = db.prepare("SELECT rowid AS id FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid");
  return (match: string) => (stmt.all(match) as { id: number }[]).map((r) => texts[r.id - 1]);
}

describe("mixed-script search (index and query through real FTS5)", () => {
  const search = indexed(MIXED_CORPUS);
  const find = (q: string) => search(compileQuery(q)!.match).sort();

  for (const [q, want] of Object.entries(MIXED_QUERIES)) {
    it(`${q} finds exactly ${want.length} message(s)`, () => {
      expect(find(q)).toEqual([...want].sort());
    });
  }

  it("every message finds itself", () => {
    for (const text of MIXED_CORPUS) expect(find(text)).toContain(text);
  });

  it("every substring of a CJK run is found, and so is each run together with the word next to it", () => {
    for (const text of MIXED_CORPUS) {
      // As the index sees it: full-width forms folded, "1,299" one number.
      const runs = [...text.replace(/(\d),(?=\d{3})/g, "$1").normalize("NFKC").matchAll(/([A-Za-z0-9]*)([\p{sc=Han}\p{sc=Hira}\p{sc=Kana}\p{sc=Hang}ー]+)([A-Za-z0-9]*)/gu)];
      for (const [, before, run, after] of runs) {
        const chars = [...run];
        for (let i = 0; i < chars.length; i++) for (let j = i + 2; j <= chars.length; j++) expect(find(chars.slice(i, j).join("")), chars.slice(i, j).join("")).toContain(text);
        // The word before a run with the run's first characters, the run's last ones with the word after.
        if (before) expect(find(before + chars[0]), before + chars[0]).toContain(text);
        if (after) expect(find(chars[chars.length - 1] + after), chars[chars.length - 1] + after).toContain(text);
      }
    }
  });

  it("the old format left CJK runs after letters or digits unsearchable (what the re-index fixes)", () => {
    const old = indexed(MIXED_CORPUS, LEGACY_FORMATS[1]!.indexText);
    const oldFind = (q: string) => old(LEGACY_FORMATS[1]!.compileMatch(q)!);
    expect(oldFind("季度")).toEqual([]);
    expect(oldFind("照片")).not.toContain("用iPhone拍的照片");
    expect(find("季度")).toEqual(["大家好，明天上午10点开会讨论季度报表。"]);
  });
});

describe("compileQuery", () => {
  it("quotes everything: FTS syntax in a query is text", () => {
    for (const q of ['"', "AND", "NEAR(a b)", "*", "a OR b", "'; DROP TABLE messages; --", '上海"', "(((", "col:上海", 'Q3"报表']) {
      const c = compileQuery(q);
      if (!c) continue;
      // Every clause is one quoted string, optionally followed by *.
      expect(c.match).toMatch(/^("([^"]|"")*"\*?)( "([^"]|"")*"\*?)*$/);
      expect(() => indexed(["x"])(c.match)).not.toThrow();
    }
  });

  it("a prefix only ever follows a word of 3+ characters or a lone CJK character (no short prefix scans a big room)", () => {
    const queries = [...Object.keys(MIXED_QUERIES), ...MIXED_CORPUS, "a", "ok", "Q3", "10点", "Q3报", "用iPhone拍", "海", "e-mail", "A 301"];
    for (const q of queries) {
      for (const [, phrase] of compileQuery(q)!.match.matchAll(/"((?:[^"]|"")*)"\*/g)) {
        const last = phrase.split(" ").at(-1)!;
        const ok = [...last].length >= 3 || (phrase === last && [...last].length === 1 && /\p{sc=Han}|\p{sc=Hira}|\p{sc=Kana}|\p{sc=Hang}/u.test(last));
        expect(ok, `${q} → ${compileQuery(q)!.match}`).toBe(true);
      }
    }
    expect(compileQuery("Q3")!.match).toBe('"Q3"');
    expect(compileQuery("10点")!.match).toBe('"10 点"');
    expect(compileQuery("Q3报表")!.match).toBe('"Q3 报 报表"');
    expect(compileQuery("iPhone 照片")!.match).toBe('"iPhone"* "照片"');
  });

  it("nothing searchable: null", () => {
    for (const q of ["", "   ", "👍", "!!!", "，。"]) expect(compileQuery(q)).toBeNull();
  });
});

describe("indexText", () => {
  it("splits CJK runs out of words, with anchors where a run touches a word", () => {
    expect(indexText("Q3报表已经发出")).toBe("Q3 报 报表 表已 已经 经发 发出");
    expect(indexText("上午10点开会")).toBe("上午 午 10 点 点开 开会");
    expect(indexText("¥1,299元")).toBe("1299 元");
    expect(indexText("１０点")).toBe("10 点");
    expect(indexText("iPhoneで撮った写真")).toBe("iPhone で で撮 撮っ った た写 写真");
    expect(indexText("コーヒー")).toBe("コー ーヒ ヒー");
    // Pure Chinese and pure English are as before: bigrams, words.
    expect(indexText("我家在上海东边")).toBe("我家 家在 在上 上海 海东 东边");
    expect(indexText("The Café opens")).toBe("The Café opens");
  });
});

describe("snippet", () => {
  it("highlights the parts of a mixed query, with CJK next to a word as a boundary", () => {
    const s = snippet("请查看PDF报表和3月份预算", compileQuery("PDF报表 3月")!.terms);
    expect(s.highlights.map(([a, b]) => s.text.slice(a, b))).toEqual(["PDF", "报表", "3", "月"]);
    const p = snippet("耳机促销价¥1,299元", compileQuery("1299元")!.terms);
    expect(p.highlights.map(([a, b]) => p.text.slice(a, b))).toEqual(["1,299", "元"]);
    // A short word is highlighted whole only ("Q3" not inside "Q30").
    const q = snippet("Q30 and Q3报表", compileQuery("Q3")!.terms);
    expect(q.highlights).toEqual([[8, 10]]);
  });
});
