/**
 * Names for the room and user ids an admin answer mentions (the audit page:
 * routes/admin-audit.ts), looked up once per answer. The directory names this
 * node's rooms and every person it knows; a room of another node is named by
 * this node's mirror of it, which exists only where the directory lists one —
 * so no object is touched, and no file created, for an id nobody registered
 * (durable-objects/shared/objects.ts). A mirror that fails to answer leaves
 * its room unnamed (the screen shows the id) rather than failing the page.
 */
import type { Env } from "../durable-objects/shared/env";
import { directoryStub, storedMirror } from "../durable-objects/shared/objects";

/** Mirrors asked at once. */
const MIRROR_BATCH = 16;

export async function namesFor(env: Env, ids: Iterable<string>): Promise<Record<string, string>> {
  const wanted = [...new Set(ids)].filter((id) => id.startsWith("r_") || id.startsWith("u_"));
  if (wanted.length === 0) return {};
  const { names, mirrored } = await directoryStub(env).namesOf(wanted);
  for (let i = 0; i < mirrored.length; i += MIRROR_BATCH) {
    const batch = mirrored.slice(i, i + MIRROR_BATCH);
    const answers = await Promise.allSettled(batch.map((id) => storedMirror(env, id).roomName()));
    answers.forEach((a, j) => {
      if (a.status === "fulfilled" && a.value) names[batch[j]] = a.value;
    });
  }
  return names;
}
