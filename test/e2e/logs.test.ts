/**
 * The node's log on a real `workerd serve` node: every line workerd prints on
 * stdout is one JSON object; every request has an id, returned in
 * `X-Request-Id` and found in its log line; a well-formed incoming id is kept
 * and a hostile one replaced; and nothing secret or personal — passwords,
 * tokens, cookies, socket tickets, message text, file names, query strings —
 * reaches the log (stdout or stderr), whatever the node was asked to do.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { api, deviceSocket, ok, roomSocket, sleep, type TestUser } from "./client";

interface LogLine {
  t: string;
  level: "info" | "warn" | "error";
  event: string;
  [field: string]: unknown;
}

let t: TestNode;
let ann: TestUser;
let roomId: string;

/** Every stdout line so far, each parsed as JSON (the test fails on the first that is not). */
function lines(): LogLine[] {
  const text = t.node.stdout();
  expect(text.endsWith("\n") || text === "").toBe(true);
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        throw new Error(`a stdout line that is not JSON: ${l.slice(0, 300)}`);
      }
      expect(v, l).toEqual(expect.objectContaining({ t: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.stringMatching(/^(info|warn|error)$/), event: expect.any(String) }));
      return v as LogLine;
    });
}

/** The request line with this id (waits a moment: the line is written as the answer leaves). */
async function requestLine(rid: string): Promise<LogLine> {
  for (let i = 0; i < 50; i++) {
    const line = lines().find((l) => l.event === "request" && l.rid === rid);
    if (line) return line;
    await sleep(50);
  }
  throw new Error(`no request line with rid ${rid} in:\n${t.node.stdout().slice(-2000)}`);
}

/** One HTTP/1.1 request written byte for byte (fetch refuses a newline in a header value). */
function rawRequest(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(t.node.port, "127.0.0.1", () => socket.end(text));
    let out = "";
    socket.on("data", (d) => (out += d.toString("latin1")));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer")));
  });
}

beforeAll(async () => {
  t = await withNode();
  ann = await t.user("ann");
  roomId = (await t.room(ann.token, "Logs", [])).id;
}, 60_000);
afterAll(() => t?.stop());

describe("request ids", () => {
  it("every answer has one; its log line has the method, route pattern, status, duration and user", async () => {
    const res = await api(t.node.url, "GET", `/api/v1/rooms/${encodeURIComponent(roomId)}`, { token: ann.token });
    expect(res.status).toBe(200);
    const rid = res.headers.get("x-request-id")!;
    expect(rid).toMatch(/^[0-9a-f-]{36}$/);
    const line = await requestLine(rid);
    expect(line).toEqual({ t: expect.any(String), level: "info", event: "request", rid, method: "GET", route: "/api/v1/rooms/:id", status: 200, ms: expect.any(Number), user: ann.id });
    // Errors carry their code; the web client's pages and /healthz have ids too.
    const missing = await api(t.node.url, "GET", "/api/v1/rooms/r_aaaaaaaaaaaaaaaa@local", { token: ann.token });
    expect(await requestLine(missing.headers.get("x-request-id")!)).toMatchObject({ level: "warn", status: 404, code: "not_found", route: "/api/v1/rooms/:id" });
    const unauth = await api(t.node.url, "GET", "/api/v1/me");
    expect(await requestLine(unauth.headers.get("x-request-id")!)).toMatchObject({ status: 401, code: "unauthorized" });
    const health = await fetch(`${t.node.url}/healthz`);
    expect(await requestLine(health.headers.get("x-request-id")!)).toMatchObject({ route: "/healthz", status: 200 });
  });

  it("a well-formed incoming X-Request-Id is kept; a hostile one (1 KB, quotes, spaces, a JSON fragment) is replaced", async () => {
    const kept = "proxy-7f3a.b_9";
    const res = await api(t.node.url, "GET", "/api/v1/me", { token: ann.token, headers: { "x-request-id": kept } });
    expect(res.headers.get("x-request-id")).toBe(kept);
    expect(await requestLine(kept)).toMatchObject({ route: "/api/v1/me", status: 200 });

    const hostile = ["x".repeat(1024), "a".repeat(65), 'abc"},"level":"error","event":"forged', "two words", "tab\there", "ümlaut", ""];
    for (const h of hostile) {
      const r = await api(t.node.url, "GET", "/api/v1/me", { token: ann.token, headers: { "x-request-id": h } });
      const rid = r.headers.get("x-request-id")!;
      expect(rid, JSON.stringify(h)).toMatch(/^[0-9a-f-]{36}$/);
      await requestLine(rid);
    }
    const text = t.node.logs();
    expect(text).not.toContain("x".repeat(100));
    expect(text).not.toContain("forged");
    expect(lines().some((l) => l.event === "forged")).toBe(false);
  });

  it("a newline smuggled into the header (bare LF, CRLF + folding) never splits or forges a line", async () => {
    const rids: string[] = [];
    for (const raw of ["abc\ninjected-bare-lf: 1", "abc\r\n injected-folded"]) {
      const answer = await rawRequest(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: ${raw}\r\nConnection: close\r\n\r\n`);
      // workerd either refuses the request (400) or answers it under a fresh or well-formed id.
      const rid = /^x-request-id: (.*)$/im.exec(answer)?.[1]?.trim();
      if (rid !== undefined) {
        expect(rid).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
        expect(rid).not.toContain("injected");
        rids.push(rid);
      } else expect(answer).toMatch(/^HTTP\/1\.1 400/);
    }
    for (const rid of rids) await requestLine(rid);
    expect(lines().filter((l) => JSON.stringify(l).includes("injected"))).toEqual([]);
  });
});

describe("no secrets, no content", () => {
  it("a sign-in, a socket with a ticket, a message, an upload and a query string leave no password, token, cookie, text or file name in the log", async () => {
    const password = "Correct-Horse-Battery-Log-Probe-91";
    const created = await ok<{ id: string }>(201, t.node.url, "POST", "/api/v1/users", { token: t.admin, body: { username: "logprobe", password, displayName: "Log Probe" } });
    const login = await fetch(`${t.node.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "logprobe", password }) });
    expect(login.status).toBe(200);
    const cookies = login.headers.getSetCookie().map((c) => c.split(";")[0].split("=").slice(1).join("="));
    const { token, deviceToken } = (await login.json()) as { token: string; deviceToken: string };
    await ok(200, t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/members`, { token: ann.token, body: { userId: created.id } });

    // A socket ticket, used in the query string as a browser does.
    const ticket = (await ok<{ ticket: string }>(201, t.node.url, "POST", "/api/v1/socket-tickets", { token })).ticket;
    const { ws } = await roomSocket(t.node.wsUrl, "", roomId, `?ticket=${encodeURIComponent(ticket)}`);
    const text = "the quarterly numbers are in the blue folder 4471";
    ws.send({ type: "msg.send", clientId: "log-1", text });
    await ws.next("msg.ack");
    await ok(201, t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token, body: { clientId: "log-2", text: `${text} (REST)` } });
    const fileName = "Salaries-Zhang-Wei-2026.xlsx";
    const upload = await fetch(`${t.node.url}/api/v1/rooms/${encodeURIComponent(roomId)}/files?name=${encodeURIComponent(fileName)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: "numbers",
    });
    expect(upload.status).toBe(201);
    await api(t.node.url, "GET", "/api/v1/me?access_token=query-secret-5521", { token });
    // A failed sign-in with a password that is almost right.
    expect((await api(t.node.url, "POST", "/api/v1/auth/login", { body: { username: "logprobe", password: `${password}x` } })).status).toBe(401);
    const { ws: device } = await deviceSocket(t.node.wsUrl, token);
    await ws.close();
    await device.close();
    // Each close is logged by its object once the close reaches it.
    const closed = (kind: string) => lines().some((l) => l.event === "socket.close" && l.kind === kind && l.user === created.id);
    for (let i = 0; i < 50 && !(closed("room") && closed("device")); i++) await sleep(50);

    const all = t.node.logs(); // stdout and stderr
    const secrets: [string, string][] = [
      ["the password", password],
      ["the session token", token],
      ["the token's secret", token.split(".").pop()!],
      ["the device token", deviceToken],
      ["the socket ticket", ticket],
      ["the ticket's secret", ticket.split(".").pop()!],
      ["the message text", "quarterly numbers"],
      ["the file name", "Salaries-Zhang"],
      ["a query string", "query-secret-5521"],
      ["the admin's token", t.admin.split(".").pop()!],
      ...cookies.filter((c) => c.length > 8).map((c): [string, string] => ["a cookie", c]),
    ];
    for (const [what, secret] of secrets) expect(all.includes(secret), `${what} appears in the log`).toBe(false);

    // What is there: the sign-ins (one refused), the socket's open and close, the sends by route.
    const ls = lines();
    expect(ls.some((l) => l.event === "request" && l.route === "/api/v1/auth/login" && l.status === 401 && l.code === "unauthorized")).toBe(true);
    expect(ls.some((l) => l.event === "socket.open" && l.kind === "room" && l.user === created.id)).toBe(true);
    expect(ls.some((l) => l.event === "socket.close" && l.kind === "room" && l.user === created.id)).toBe(true);
    expect(ls.some((l) => l.event === "socket.open" && l.kind === "device" && l.user === created.id)).toBe(true);
    expect(ls.some((l) => l.event === "socket.close" && l.kind === "device" && l.user === created.id)).toBe(true);
    expect(ls.some((l) => l.event === "request" && l.route === "/api/v1/rooms/:id/files" && l.status === 201 && l.user === created.id)).toBe(true);
  });
});
