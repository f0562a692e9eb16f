/**
 * `GET /metrics` on a real `workerd serve` node: who may scrape (the node's
 * metrics token or an admin's bearer token; nobody by cookie), the text format
 * (parsed here by a small parser of the exposition format 0.0.4), and that the
 * numbers move with what happens: messages sent over a socket and over REST,
 * sockets opened and closed, requests and errors by route pattern.
 *
 * Counters moved inside room and user objects are read by the Worker's route:
 * this also checks that the Worker and the objects share one isolate in
 * self-hosted workerd (the registry is module state: durable-objects/shared/metrics.ts).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { api, deviceSocket, roomSocket, sleep, type TestUser } from "./client";
import { makeNodeConfig } from "../../ops/node-config.mjs";

const METRICS_TOKEN = randomBytes(24).toString("base64url"); // 32 characters

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Scrape {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

/** The exposition format 0.0.4, as much of it as a node writes (no timestamps, no exemplars). */
function parseProm(text: string): Scrape {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.slice(0, -1).split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) help.set(m[1], m[2]);
    else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) type.set(m[1], m[2]);
    else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line))) {
      const labels: Record<string, string> = {};
      if (m[2]) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
        let l: RegExpExecArray | null;
        let end = 0;
        while ((l = re.exec(m[2]))) {
          labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
          end = re.lastIndex;
        }
        expect(end, `labels of: ${line}`).toBe(m[2].length);
      }
      const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
      expect(Number.isNaN(value) && m[3] !== "NaN", `value of: ${line}`).toBe(false);
      samples.push({ name: m[1], labels, value });
    } else throw new Error(`not a line of the text format: ${JSON.stringify(line)}`);
  }
  return { help, type, samples };
}

/** The family a sample belongs to (a histogram's _bucket/_sum/_count belong to it). */
function familyOf(s: Scrape, name: string): string {
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return s.type.get(base) === "histogram" ? base : name;
}

function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return found.reduce((a, x) => a + x.value, 0);
}

let t: TestNode;
let ann: TestUser;
let bob: TestUser;
let roomId: string;

async function scrape(token: string = METRICS_TOKEN): Promise<Scrape> {
  const res = await fetch(`${t.node.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseProm(text);
}

/** Scrape until `ok` holds (what objects do after a socket closes reaches the registry a moment later). */
async function scrapeUntil(ok: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  let s = await scrape();
  for (let i = 0; i < 50 && !ok(s); i++) {
    await sleep(100);
    s = await scrape();
  }
  expect(ok(s), what).toBe(true);
  return s;
}

beforeAll(async () => {
  t = await withNode({ metricsToken: METRICS_TOKEN });
  [ann, bob] = await Promise.all([t.user("ann"), t.user("bob")]);
  roomId = (await t.room(ann.token, "Ops", [bob.id])).id;
}, 60_000);
afterAll(() => t?.stop());

describe("who may scrape", () => {
  it("the metrics token and an admin's bearer token: 200", async () => {
    await scrape(METRICS_TOKEN);
    await scrape(t.admin);
  });

  it("no token, a wrong token, a member's token, a cookie alone: refused with the standard error shape", async () => {
    const cases: [string, Record<string, string>, number, string][] = [
      ["no token", {}, 401, "unauthorized"],
      ["a wrong token", { authorization: `Bearer ${randomBytes(24).toString("base64url")}` }, 401, "unauthorized"],
      ["the metrics token with one character changed", { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}${METRICS_TOKEN.endsWith("A") ? "B" : "A"}` }, 401, "unauthorized"],
      ["not a bearer header", { authorization: `Basic ${METRICS_TOKEN}` }, 401, "unauthorized"],
      ["a member's session", { authorization: `Bearer ${ann.token}` }, 403, "forbidden"],
      ["the admin's session as a cookie", { cookie: `outpost_session=${t.admin}` }, 401, "unauthorized"],
    ];
    for (const [what, headers, status, code] of cases) {
      const res = await api(t.node.url, "GET", "/metrics", { headers });
      expect(res.status, what).toBe(status);
      expect(res.body, what).toEqual({ error: { code, message: expect.any(String) } });
      expect(res.text, what).not.toContain("outpost_");
    }
  });

  it("the node config refuses a metrics token shorter than 32 characters, without echoing it", () => {
    const short = "s3cret-but-short";
    let message = "";
    try {
      makeNodeConfig({ metrics: { token: short } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^metrics: .*at least 32 characters/);
    expect(message).not.toContain(short);
    expect(makeNodeConfig({ metrics: { token: METRICS_TOKEN } }).metrics).toEqual({ token: METRICS_TOKEN });
  });
});

describe("the text format", () => {
  it("every sample is outpost_…, under a HELP and a TYPE; the histogram has monotone buckets, _sum and _count", async () => {
    const s = await scrape();
    expect(s.samples.length).toBeGreaterThan(10);
    for (const x of s.samples) {
      const family = familyOf(s, x.name);
      expect(family).toMatch(/^outpost_/);
      expect(s.help.has(family), `HELP for ${family}`).toBe(true);
      expect(s.type.has(family), `TYPE for ${family}`).toBe(true);
    }
    for (const [name, type] of s.type) if (type === "counter") expect(name, "counters end in _total").toMatch(/_total$/);
    expect(s.type.get("outpost_message_ack_seconds")).toBe("histogram");
    for (const name of ["outpost_messages_sent_total", "outpost_http_requests_total", "outpost_http_errors_total", "outpost_storage_errors_total"]) {
      expect(s.type.get(name), name).toBe("counter");
    }
    for (const name of ["outpost_websockets_open", "outpost_room_outbox_depth", "outpost_link_send_queue_depth", "outpost_start_time_seconds"]) {
      expect(s.type.get(name), name).toBe("gauge");
    }
  });
});

describe("the numbers move", () => {
  it("messages (socket and REST), the ack histogram, open sockets by kind, requests and errors by route", async () => {
    const before = await scrape();
    const { ws } = await roomSocket(t.node.wsUrl, ann.token, roomId);
    const { ws: device } = await deviceSocket(t.node.wsUrl, bob.token);
    for (let i = 0; i < 3; i++) {
      ws.send({ type: "msg.send", clientId: `m${i}`, text: `metrics ${i}` });
      await ws.next("msg.ack", (f) => f.clientId === `m${i}`);
    }
    // A retry of a stored message is acked again but stores nothing: not counted.
    ws.send({ type: "msg.send", clientId: "m0", text: "metrics 0" });
    await ws.next("msg.ack", (f) => f.clientId === "m0" && f.duplicate);
    await sleep(110);
    const rest = await api(t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token: ann.token, body: { clientId: "r1", text: "over REST" } });
    expect(rest.status).toBe(201);
    const missing = await api(t.node.url, "GET", `/api/v1/rooms/${encodeURIComponent("r_aaaaaaaaaaaaaaaa@local")}/messages`, { token: ann.token });
    expect(missing.status).toBe(404);

    // Acks are timed at most once per room per 100 ms (node-metrics.ts): the REST send, 100 ms
    // after the socket's, is timed whatever happened before it.
    const during = await scrapeUntil(
      (s) => value(s, "outpost_message_ack_seconds_count") - value(before, "outpost_message_ack_seconds_count") >= 2,
      "the first socket send and the REST send timed",
    );
    expect(value(during, "outpost_message_ack_seconds_count") - value(before, "outpost_message_ack_seconds_count")).toBeLessThanOrEqual(4);
    expect(value(during, "outpost_messages_sent_total") - value(before, "outpost_messages_sent_total")).toBe(4);
    expect(value(during, "outpost_message_ack_seconds_sum")).toBeGreaterThan(value(before, "outpost_message_ack_seconds_sum"));
    expect(value(during, "outpost_websockets_open", { kind: "room" }) - value(before, "outpost_websockets_open", { kind: "room" })).toBe(1);
    expect(value(during, "outpost_websockets_open", { kind: "device" }) - value(before, "outpost_websockets_open", { kind: "device" })).toBe(1);
    const posts = { method: "POST", route: "/api/v1/rooms/:id/messages", status: "201" };
    expect(value(during, "outpost_http_requests_total", posts) - value(before, "outpost_http_requests_total", posts)).toBe(1);
    const upgrades = { method: "GET", route: "/api/v1/rooms/:id/socket", status: "101" };
    expect(value(during, "outpost_http_requests_total", upgrades) - value(before, "outpost_http_requests_total", upgrades)).toBe(1);
    const notFound = { route: "/api/v1/rooms/:id/messages", code: "not_found" };
    expect(value(during, "outpost_http_errors_total", notFound) - value(before, "outpost_http_errors_total", notFound)).toBe(1);
    // Route patterns, never raw paths: no id in any label.
    for (const x of during.samples) for (const v of Object.values(x.labels)) expect(v).not.toMatch(/[ru]_[a-z0-9]{16}@/);

    // The histogram: cumulative buckets in increasing `le`, +Inf equal to _count.
    const buckets = during.samples.filter((x) => x.name === "outpost_message_ack_seconds_bucket");
    const les = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
    expect(les).toEqual([...les].sort((a, b) => a - b));
    expect(les.at(-1)).toBe(Infinity);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    expect(buckets.at(-1)!.value).toBe(value(during, "outpost_message_ack_seconds_count"));

    await ws.close();
    await device.close();
    await scrapeUntil(
      (s) =>
        value(s, "outpost_websockets_open", { kind: "room" }) === value(before, "outpost_websockets_open", { kind: "room" }) &&
        value(s, "outpost_websockets_open", { kind: "device" }) === value(before, "outpost_websockets_open", { kind: "device" }),
      "sockets counted down after they closed",
    );
  });

  it("a scrape is cheap: wakes nothing, renders module state (time per scrape)", async () => {
    const n = 50;
    const started = performance.now();
    for (let i = 0; i < n; i++) await scrape();
    const ms = (performance.now() - started) / n;
    console.log(`metrics scrape: ${ms.toFixed(2)} ms per scrape (round trip, ${n} in a row)`);
    expect(ms).toBeLessThan(100);
  });
});
