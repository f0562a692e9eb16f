/**
 * Which file on disk belongs to which object, computed the way workerd does.
 *
 * A self-hosted workerd names each Durable Object's SQLite file by the
 * object's id (`<data>/objects/<uniqueKey>/<id hex>.sqlite`), and for objects
 * addressed by name (`idFromName`) that id is a keyed hash of the name:
 * workerd's ActorIdFactoryImpl (src/workerd/server/actor-id-impl.c++) keys
 * HMAC-SHA256 with SHA-256(uniqueKey); the id's first 16 bytes are
 * HMAC(key, name)[0..16], its last 16 bytes HMAC(key, first 16 bytes)[0..16]
 * (the half that lets idFromString reject ids of another namespace).
 * Reproduced here so `npm run doctor` can name the room or user of a file it
 * cannot read; test/faults/corrupt-room.test.ts checks it against the files a
 * real node writes.
 *
 * @example
 *   objectIdFromName(uniqueKeyFor("RoomObject"), "r_0123456789abcdef@local") // "4202ca48…" (64 hex digits)
 */
import { createHash, createHmac } from "node:crypto";

/** @param {string} uniqueKey @param {string} name @returns {string} */
export function objectIdFromName(uniqueKey, name) {
  const key = createHash("sha256").update(uniqueKey, "utf8").digest();
  const base = createHmac("sha256", key).update(name, "utf8").digest().subarray(0, 16);
  const mac = createHmac("sha256", key).update(base).digest().subarray(0, 16);
  return Buffer.concat([base, mac]).toString("hex");
}
