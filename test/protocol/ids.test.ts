/**
 * Id patterns are built from one node-name pattern (protocol/ids.ts); the node
 * config's own copy (ops/node-config.mjs, plain JavaScript that cannot import
 * protocol/) must say the same, or a node could be configured with a name its
 * ids would not match.
 */
import { describe, expect, it } from "vitest";
import { CLIENT_ID_RE, FILE_ID_RE, MESSAGE_ID_RE, NODE_NAME_RE, ROOM_ID_RE, USER_ID_RE, newFileId, newId, roomOfFile } from "../../protocol/ids";
import { ClientIdSchema } from "../../protocol/rest";
import { NODE_NAME_RE as OPS_NODE_NAME_RE } from "../../ops/node-config.mjs";

const names = ["a", "shanghai", "bj-2", "a".repeat(32), "0", "x-y-z", "", "-a", "a-", "A", "a".repeat(33), "a_b", "a.b", "上海"];

describe("ids", () => {
  it("the node config accepts exactly the node names ids carry", () => {
    for (const n of names) expect(OPS_NODE_NAME_RE.test(n), n).toBe(NODE_NAME_RE.test(n));
    for (const n of names) {
      expect(USER_ID_RE.test(`u_aaaaaaaaaaaaaaaa@${n}`), n).toBe(NODE_NAME_RE.test(n));
      expect(ROOM_ID_RE.test(`r_aaaaaaaaaaaaaaaa@${n}`), n).toBe(NODE_NAME_RE.test(n));
      expect(FILE_ID_RE.test(`f_aaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbb@${n}`), n).toBe(NODE_NAME_RE.test(n));
    }
  });

  it("new ids match their patterns; a file id names its room", () => {
    const room = newId("r", "bj-2");
    expect(ROOM_ID_RE.test(room)).toBe(true);
    expect(USER_ID_RE.test(newId("u", "bj-2"))).toBe(true);
    const file = newFileId(room);
    expect(FILE_ID_RE.test(file)).toBe(true);
    expect(roomOfFile(file)).toBe(room);
    expect(MESSAGE_ID_RE.test("m_aaaaaaaaaaaaaaaa")).toBe(true);
    expect(USER_ID_RE.test("u_aaaaaaaaaaaaaaa@x")).toBe(false); // 15 characters
  });

  it("CLIENT_ID_RE (the room's fast path) accepts exactly what ClientIdSchema accepts", () => {
    for (const id of ["a", "a".repeat(64), "a".repeat(65), "", "ok:1.2_3-4", "ok/", "ü", "a b"]) {
      expect(CLIENT_ID_RE.test(id), id).toBe(ClientIdSchema.safeParse(id).success);
    }
  });
});
