/**
 * The password policy module and its common-password list, without a runtime:
 * the list comes from the npm package (not typed by hand), every one of the
 * 10,000 most common passwords is refused, only what can matter is shipped,
 * and none of it reaches the web client's JavaScript.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { COMMON_PASSWORD_COUNT, MIN_PASSWORD_LENGTH, passwordProblem } from "../durable-objects/shared/password-policy.mjs";
import { commonPasswordsToShip, readSourceList } from "../scripts/common-passwords.mjs";

const ROOT = path.resolve(import.meta.dirname, "..");

const shipped: readonly string[] = (await import("../durable-objects/shared/common-passwords.gen.mjs")).default;
const common = new Set(shipped);
const problem = (password: string, username = "someone") => passwordProblem(password, username, (p) => common.has(p))?.rule ?? null;

describe("common-password list", () => {
  it("is the package's ranked list, at least 10,000 long, shipped as generated", () => {
    const { list } = readSourceList();
    expect(list.length).toBeGreaterThanOrEqual(COMMON_PASSWORD_COUNT);
    expect(list.slice(0, 3)).toEqual(["123456", "password", "12345678"]); // ranked, most common first
    expect(shipped, "the committed list is behind the package: run node scripts/common-passwords.mjs").toEqual(commonPasswordsToShip(list));
  });

  it("refuses every one of the 10,000 most common passwords, though only the long ones are shipped", () => {
    const top = readSourceList().list.slice(0, COMMON_PASSWORD_COUNT);
    const accepted = top.filter((p) => problem(p) === null);
    expect(accepted).toEqual([]);
    expect(shipped.length).toBeLessThan(1000);
    expect(shipped.every((p) => [...p].length >= MIN_PASSWORD_LENGTH)).toBe(true);
  });

  it("stays out of the web client's JavaScript", () => {
    const dir = path.join(ROOT, "web", "dist", "assets");
    const js = fs.readdirSync(dir).filter((f) => f.endsWith(".js")).map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("\n");
    expect(js.length).toBeGreaterThan(0);
    expect(shipped.filter((p) => /[a-z]/.test(p) && /\d/.test(p) && js.includes(p))).toEqual([]);
  });
});

describe("passwordProblem", () => {
  it("names the rule that fails", () => {
    expect(problem("password")).toBe("too_short");
    expect(problem("12345678")).toBe("too_short");
    expect(problem("        ")).toBe("too_short");
    expect(problem("一二三四五六七八九")).toBe("too_short"); // nine characters, 27 bytes
    expect(problem("qwertyuiop")).toBe("common");
    expect(problem("QWERTYuiop")).toBe("common");
    expect(problem(" 1q2w3e4r5t ")).toBe("common");
    expect(problem("alice-in-chains", "alice")).toBe("contains_username");
    expect(problem("I AM ALICE, hello", "alice")).toBe("contains_username");
    expect(problem("jonathan.lee", "jonathan.lee")).toBe("contains_username");
    expect(problem("          ")).toBe("repetitive");
    expect(problem("zzzzzzzzzzzz")).toBe("repetitive");
  });

  it("accepts passphrases; a two-letter username only as the whole password", () => {
    expect(problem("correct horse battery")).toBeNull();
    expect(problem("我的密码是一句很长的话")).toBeNull();
    expect(problem("alpine meadow flowers", "al")).toBeNull();
  });
});
