/**
 * What an operator's monitoring sees of a cluster link, on two real nodes:
 * `outpost_link_up{peer}` and `outpost_link_send_queue_depth{peer}` at
 * `GET /metrics`, sockets on a mirror (`outpost_websockets_open{kind="mirror"}`),
 * and the `link.down` / `link.up` lines of the JSON log, through a cut and its
 * healing; node-to-node requests that went through counted, not logged; a
 * room's pushes on its channel, not one request each.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { loginAs } from "../harness";
import { roomWs } from "../e2e/client";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
let cluster: TestCluster;
const admin: Record<string, string> = {};
const people: Record<string, { id: string; node: string; token: string }> = {};

/** One sample of a scrape of `node` (admin's bearer token), or 0 when the series is absent. */
async function metric(node: string, name: string, labels: string): Promise<number> {
  const res = await fetch(`${cluster.nodes[node].url}/metrics`, { headers: { authorization: `Bearer ${admin[node]}` } });
  expect(res.status).toBe(200);
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

const logEvents = (node: string) =>
  cluster.nodes[node]
    .stdout()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { event: string; peer?: string; route?: string; status?: number });

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD });
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"]]) {
    const made = await callNode(cluster, node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

it("link up/down and the send queue at /metrics, mirror sockets, link.down/link.up in the log", async () => {
  await eventually("shanghai's link to beijing is up", async () => (await metric("shanghai", "outpost_link_up", '{peer="beijing"}')) === 1, 20_000);
  await eventually("shanghai knows liwei", async () => (await callNode(cluster, "shanghai", admin.shanghai, "GET", `/users?q=liwei`)).body.users.length >= 1, 20_000);
  // The room is made at beijing with a member of shanghai: beijing must have her from the directory feed first.
  await eventually("beijing knows chenmei", async () => (await callNode(cluster, "beijing", admin.beijing, "GET", `/users/${encodeURIComponent(people.chenmei.id)}`)).status === 200, 20_000);
  const made = await callNode(cluster, "beijing", people.liwei.token, "POST", "/rooms", { name: "Metrics", visibility: "private", members: [people.chenmei.id] });
  expect(made.status).toBe(201);
  const roomId = made.body.id as string;
  await eventually("chenmei can open the room", async () => (await callNode(cluster, "shanghai", people.chenmei.token, "GET", `/rooms/${encodeURIComponent(roomId)}`)).status === 200);

  const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, people.chenmei.token);
  await ws.next("hello");
  expect(await metric("shanghai", "outpost_websockets_open", '{kind="mirror"}')).toBe(1);

  await cluster.cut("beijing", "shanghai");
  await eventually("shanghai sees the link down", async () => (await metric("shanghai", "outpost_link_up", '{peer="beijing"}')) === 0, 20_000);
  expect(logEvents("shanghai").some((e) => e.event === "link.down" && e.peer === "beijing")).toBe(true);
  for (let i = 1; i <= 3; i++) {
    ws.send({ type: "msg.send", clientId: `q-${i}`, text: `queued ${i}` });
    await ws.next("msg.queued", (f) => f.clientId === `q-${i}`, 10_000);
  }
  expect(await metric("shanghai", "outpost_link_send_queue_depth", '{peer="beijing"}')).toBe(3);

  await cluster.heal("beijing", "shanghai");
  await ws.next("msg.ack", (f) => f.clientId === "q-3", 20_000);
  await eventually("the queue drained and the link is up", async () =>
    (await metric("shanghai", "outpost_link_send_queue_depth", '{peer="beijing"}')) === 0 && (await metric("shanghai", "outpost_link_up", '{peer="beijing"}')) === 1,
  );
  const events = logEvents("shanghai").filter((e) => e.peer === "beijing" && (e.event === "link.up" || e.event === "link.down")).map((e) => e.event);
  expect(events.slice(-2)).toEqual(["link.down", "link.up"]);
  // The pushes and sends that went through are counted, not logged line by line (a busy room
  // makes hundreds a second); people's own requests are logged as ever.
  // The room's pushes ride its channel (one upgrade per (room, node) and connection), not a request each.
  const channels = await metric("shanghai", "outpost_http_requests_total", '{method="GET",route="/link/v1/rooms/:id/stream",status="101"}');
  expect(channels).toBeGreaterThan(0);
  expect(await metric("shanghai", "outpost_http_requests_total", '{method="POST",route="/link/v1/rooms/:id/push",status="200"}')).toBe(0);
  expect(logEvents("shanghai").filter((e) => e.event === "request" && e.route?.startsWith("/link/") && (e.status ?? 0) < 400)).toEqual([]);
  expect(logEvents("shanghai").some((e) => e.event === "request" && e.route === "/api/v1/rooms/:id")).toBe(true);
  await ws.close();
  await eventually("the mirror socket counted down", async () => (await metric("shanghai", "outpost_websockets_open", '{kind="mirror"}')) === 0);
}, 90_000);
