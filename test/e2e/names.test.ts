/**
 * The names rule on a real node: uploaded file names are cleaned by it
 * (cleanFilename in worker/routes/files.ts delegates to protocol/names.ts)
 * rather than refused, and a name survives the trip to disk and back through a
 * restart exactly as the rule stored it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, type OutpostNode } from "../harness";
import { TEST_ADMIN_PASSWORD, withNode } from "../fixtures";
import { checkName, NAME_LIMITS } from "../../protocol/names";

let node: OutpostNode;
let token: string;

beforeAll(async () => {
  ({ node, admin: token } = await withNode());
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

async function upload(roomId: string, rawQueryName: string) {
  const r = await fetch(`${node.url}/api/v1/rooms/${encodeURIComponent(roomId)}/files?name=${rawQueryName}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    body: "hello",
  });
  return { status: r.status, body: await r.json() };
}

describe("file names", () => {
  it("are cleaned by the names rule: never refused, never stored hostile", async () => {
    const room = await (await fetch(`${node.url}/api/v1/rooms`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "files", visibility: "private" }) })).json();
    const cases: [string, string][] = [
      [encodeURIComponent("report\u202egpj.exe"), "reportgpj.exe"], // bidi override: would show as "reportexe.jpg"
      [encodeURIComponent("a\u0000b\u0007c\u200b.txt"), "abc.txt"],
      [encodeURIComponent("\u2066\u200f\u3164"), "file"], // nothing visible left
      [encodeURIComponent("   "), "file"],
      [encodeURIComponent("../../etc/passwd"), "passwd"],
      [encodeURIComponent("  ..\\.hidden.txt"), "hidden.txt"],
      [encodeURIComponent("Cafe\u0301 menu.pdf"), "Café menu.pdf"],
      [encodeURIComponent("❤\ufe0f.png"), "❤\ufe0f.png"],
      [encodeURIComponent("x".repeat(300) + ".pdf"), "x".repeat(NAME_LIMITS.fileName - 4) + ".pdf"],
      ["%ED%A0%80x.txt", ""], // the UTF-8 of a lone surrogate: whatever it becomes, it is a clean name
      ["%E2%80%AEevil.txt", "evil.txt"],
    ];
    for (const [query, expected] of cases) {
      const r = await upload(room.id, query);
      expect({ query, status: r.status }).toEqual({ query, status: 201 });
      if (expected) expect(r.body.name).toBe(expected);
      expect(checkName(r.body.name, NAME_LIMITS.fileName)).toEqual({ ok: true, name: r.body.name });
    }
  });
});

describe("room and display names", () => {
  it("are stored as the rule normalised them and read back the same after a restart", async () => {
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const room = await (await fetch(`${node.url}/api/v1/rooms`, { method: "POST", headers, body: JSON.stringify({ name: "\u3000Cafe\u0301 👨\u200d👩\u200d👧 ", visibility: "public" }) })).json();
    expect(room.name).toBe("Café 👨\u200d👩\u200d👧");
    const bad = await fetch(`${node.url}/api/v1/rooms/${room.id}`, { method: "PATCH", headers, body: JSON.stringify({ name: "Eve\ud800" }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toEqual({ code: "invalid_request", message: "name: is not well-formed Unicode (a lone surrogate, U+D800)", field: "name" });
    await node.restart();
    token = await loginAs(node.url, "admin", TEST_ADMIN_PASSWORD);
    const after = await (await fetch(`${node.url}/api/v1/rooms/${room.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(after.room.name).toBe("Café 👨\u200d👩\u200d👧");
  });
});
