/**
 * Password hashing inside workerd, and on a platform that caps PBKDF2 iterations
 * as Cloudflare's hosted platform does (at 100,000; self-hosted workerd has no
 * cap). That platform is outside the product and not available here, so it is
 * stood in for by WebCrypto with the same refusal, word for word.
 */
import { describe, expect, it } from "vitest";
import { env, runInDurableObject } from "cloudflare:test";
import { dummyHash, hashPassword, PBKDF2_ITERATIONS, verifyPassword, type Pbkdf2Crypto } from "../../durable-objects/shared/passwords";
import { directoryStub } from "../../durable-objects/shared/objects";
import { limitsOf } from "../../durable-objects/shared/env";
import { login, newUser } from "./helpers";

const DUMMY_HASH = dummyHash(PBKDF2_ITERATIONS);

/** workerd's WebCrypto, refusing counts above `cap` with the hosted platform's error; records the counts it ran. */
function cappedCrypto(cap: number): Pbkdf2Crypto & { ran: number[] } {
  const ran: number[] = [];
  return {
    ran,
    importKey: ((...args: Parameters<SubtleCrypto["importKey"]>) => crypto.subtle.importKey(...args)) as SubtleCrypto["importKey"],
    async deriveBits(algorithm, key, length) {
      const n = (algorithm as SubtleCryptoDeriveKeyAlgorithm).iterations!;
      if (n > cap) throw new DOMException(`Pbkdf2 failed: iteration counts above ${cap} are not supported (requested ${n}).`, "NotSupportedError");
      ran.push(n);
      return crypto.subtle.deriveBits(algorithm, key, length);
    },
  };
}

describe("password hashes", () => {
  it("use 600,000 iterations in workerd, and check right and wrong passwords", async () => {
    const hash = await hashPassword("correct horse", PBKDF2_ITERATIONS);
    expect(hash).toMatch(new RegExp(`^pbkdf2\\$${PBKDF2_ITERATIONS}\\$`));
    expect(await verifyPassword("correct horse", hash)).toBe(true);
    expect(await verifyPassword("correct horsf", hash)).toBe(false);
    expect(await verifyPassword("anything", DUMMY_HASH)).toBe(false);
  });

  it("fit a platform's iteration cap instead of failing every sign-in", async () => {
    const capped = cappedCrypto(100_000);
    const hash = await hashPassword("correct horse", PBKDF2_ITERATIONS, capped);
    expect(hash).toMatch(/^pbkdf2\$100000\$/);
    expect(await verifyPassword("correct horse", hash, capped)).toBe(true);
    expect(await verifyPassword("wrong", hash, capped)).toBe(false);
    // the count is in the hash: a node (no cap) checks it too
    expect(await verifyPassword("correct horse", hash)).toBe(true);
    expect(capped.ran.every((n) => n === 100_000)).toBe(true);
  });

  it("check an unknown user's login at the cap too, so it costs what a wrong password costs", async () => {
    const capped = cappedCrypto(100_000);
    expect(await verifyPassword("anything", DUMMY_HASH, capped)).toBe(false);
    expect(capped.ran).toEqual([100_000]);
  });

  it("never match a hash stronger than the platform allows (one carried over from a node), without throwing", async () => {
    const fromNode = await hashPassword("correct horse", PBKDF2_ITERATIONS);
    const capped = cappedCrypto(100_000);
    expect(await verifyPassword("correct horse", fromNode, capped)).toBe(false);
  });

  it("check each hash at the count it records, whatever count new hashes get now", async () => {
    const recorder = cappedCrypto(Number.MAX_SAFE_INTEGER);
    const cheap = await hashPassword("correct horse", 1000, recorder);
    expect(cheap).toMatch(/^pbkdf2\$1000\$/);
    // The node's count moved on (to the default) since this hash was made: it still verifies, at 1,000.
    expect(await verifyPassword("correct horse", cheap, recorder)).toBe(true);
    expect(await verifyPassword("correct horsf", cheap, recorder)).toBe(false);
    expect(recorder.ran).toEqual([1000, 1000, 1000]);
  });

  it("check an unknown user's login at the count new hashes get, so it costs what a wrong password costs", async () => {
    const recorder = cappedCrypto(Number.MAX_SAFE_INTEGER);
    expect(await verifyPassword("anything", dummyHash(2000), recorder)).toBe(false);
    expect(recorder.ran).toEqual([2000]);
  });

  it("are made at the node's passwordHashIterations (cheap in these tests: vitest.workers.config.ts)", async () => {
    const iterations = limitsOf(env).passwordHashIterations;
    expect(iterations).toBe(1000);
    const u = await newUser("hashcost");
    const stored = await runInDurableObject(directoryStub(env), async (_o, state) =>
      state.storage.sql.exec<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = ?", u.id).one().password_hash,
    );
    expect(stored).toMatch(new RegExp(`^pbkdf2\\$${iterations}\\$`));
    expect((await login(u.username, u.password)).status).toBe(200);
  });

  it("pass other WebCrypto errors through", async () => {
    const broken: Pbkdf2Crypto = {
      importKey: crypto.subtle.importKey.bind(crypto.subtle) as SubtleCrypto["importKey"],
      deriveBits: async () => {
        throw new DOMException("Pbkdf2 failed: something else", "OperationError");
      },
    };
    await expect(hashPassword("x", PBKDF2_ITERATIONS, broken)).rejects.toThrow(/something else/);
  });

  it("learn the cap against a stable crypto object (one refusal per isolate, not one per sign-in)", () => {
    expect(crypto.subtle).toBe(crypto.subtle);
  });
});
