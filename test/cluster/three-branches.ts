/**
 * The cluster most channel tests start from: three real nodes (beijing,
 * shanghai, shenzhen), one person on each (liwei, chenmei, zhaolei) whom
 * beijing knows, and a private room homed on beijing with all three, open to
 * each on their own node.
 */
import { expect } from "vitest";
import { loginAs } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

export const PASSWORD = "cluster operator passphrase";
export const USER_PASSWORD = "a long enough passphrase";

export interface ThreeBranches {
  cluster: TestCluster;
  /** each node's admin token */
  admin: Record<string, string>;
  people: Record<string, { id: string; node: string; token: string }>;
  roomId: string;
}

export async function threeBranches(roomName: string): Promise<ThreeBranches> {
  const cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD });
  const admin: Record<string, string> = {};
  const people: ThreeBranches["people"] = {};
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"], ["zhaolei", "shenzhen"]]) {
    const made = await callNode(cluster, node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  for (const who of ["chenmei", "zhaolei"]) {
    await eventually(`beijing knows ${who}`, async () => (await callNode(cluster, "beijing", admin.beijing, "GET", `/users/${encodeURIComponent(people[who].id)}`)).status === 200, 20_000);
  }
  const made = await callNode(cluster, "beijing", people.liwei.token, "POST", "/rooms", { name: roomName, visibility: "private", members: [people.chenmei.id, people.zhaolei.id] });
  expect(made.status).toBe(201);
  const roomId = made.body.id as string;
  for (const who of ["chenmei", "zhaolei"]) {
    await eventually(`${who} can open the room`, async () => (await callNode(cluster, people[who].node, people[who].token, "GET", `/rooms/${encodeURIComponent(roomId)}`)).status === 200, 20_000);
  }
  return { cluster, admin, people, roomId };
}
