/**
 * The node-side half of an erasure across nodes, inside workerd: the job an
 * asked node keeps for a person of another node (directory/erasure-foreign.ts)
 * survives a crash and is finished by the directory's alarm; asking again
 * finds the same job; a node alone reports no other node pending and the
 * job's state can be read without resuming it. (The link route and the home's
 * side run on real nodes: test/cluster/erasure.test.ts.)
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, api, newRoom, newUser, postMessage } from "./helpers";
import type { HistoryPage } from "../../protocol/responses";
import { directoryStub } from "../../durable-objects/shared/objects";
import type { DirectoryObject } from "../../durable-objects/directory/directory-object";
import { localRoomIds } from "../../durable-objects/directory/erasure";

async function textOf(token: string, roomId: string, id: string): Promise<string | undefined> {
  const r = await api("GET", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token });
  return (r.body as HistoryPage).messages.find((m) => m.id === id)?.text;
}

/** The job rows of ForeignErasures (directory/erasure-jobs.ts). */
type ForeignJobs = { jobs: { save(job: unknown): void } };

describe("erasure asked by another node", () => {
  it("is resumed by the directory's alarm after a crash right after the job was recorded, and a second ask finds it done", async () => {
    // The sender stands in for a person of another node: the room-level erasure is the same,
    // the check that the asking node is their home is the link route's (cluster test).
    const gone = await newUser("fgone");
    const stay = await newUser("fstay");
    const room = await newRoom(stay.token, "Foreign erasure room", "private", [gone.id]);
    const msg = await postMessage(gone.token, room.id, "words of a visitor from elsewhere");
    // The job row only, as `request` writes it before the first room; then the isolate dies.
    await runInDurableObject(directoryStub(env), (d: DirectoryObject, state) => {
      const rooms = localRoomIds((d as unknown as { db: Parameters<typeof localRoomIds>[0] }).db, "local");
      (d as unknown as { foreignErasures: ForeignJobs }).foreignErasures.jobs.save({ userId: gone.id, from: "beijing", state: "running", startedAt: Date.now(), finishedAt: null, rooms, roomsDone: 0 });
      return state.storage.setAlarm(Date.now() + 30_000);
    });
    expect(await textOf(stay.token, room.id, msg.id)).toBe("words of a visitor from elsewhere");
    expect(await runDurableObjectAlarm(directoryStub(env))).toBe(true);
    expect(await textOf(stay.token, room.id, msg.id)).toBe("");
    const again = await runInDurableObject(directoryStub(env), (d: DirectoryObject) => d.eraseForeignUser(gone.id, "beijing", 1000));
    expect(again.state).toBe("done");
    expect(again.roomsDone).toBe(again.roomsTotal);
  });

  it("on a node alone: no other node is pending, and the state is readable without resuming", async () => {
    const gone = await newUser("falone");
    const token = await admin();
    expect((await api("GET", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token })).status).toBe(404);
    const r = await api("POST", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token });
    expect(r.body).toMatchObject({ state: "done", nodesPending: [] });
    const read = await api("GET", `/api/v1/admin/users/${encodeURIComponent(gone.id)}/erase`, { token });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(r.body);
    expect((await api("GET", "/api/v1/admin/users/u_0000000000000000@elsewhere/erase", { token })).status).toBe(404);
  });
});
