/**
 * The compliance export in real Chromium: an administrator opens People
 * administration, manages a colleague, clicks "Export data", sees the progress
 * line, and the browser receives the download (Chromium's download event):
 * a zip whose manifest names the colleague and whose messages are theirs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";
import { readZip } from "../zip-reader";
import { ExportManifestSchema, ExportMessageSchema } from "../../protocol/export";

const ADMIN_PASSWORD = "operator-passphrase-123";
let node: OutpostNode;
let b: UserBrowser | undefined;

beforeAll(async () => {
  node = await startNode({ adminPassword: ADMIN_PASSWORD });
}, 120_000);

afterAll(async () => {
  await b?.close();
  await node?.stop();
});

describe("web client: compliance export", () => {
  it("an admin exports a person's data from People administration and the download arrives", async () => {
    const admin = await loginAs(node.url, "admin", ADMIN_PASSWORD);
    const mei = await createUser(node.url, admin, { username: "mei", password: "plum blossoms in spring", displayName: "陈梅" });
    const meiToken = await loginAs(node.url, "mei", "plum blossoms in spring");
    const room = (await rest(node.url, meiToken, "POST", "/rooms", { name: "报表", visibility: "private", members: [] })) as { id: string };
    await rest(node.url, meiToken, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text: "季度报表已上传", clientId: "c1" });

    b = await openBrowser(node.url);
    await signIn(b.page, "admin", ADMIN_PASSWORD);
    await b.page.getByRole("button", { name: "People", exact: true }).click();
    const panel = b.page.getByTestId("people-panel");
    await panel.waitFor();
    await panel.getByRole("button", { name: "Manage 陈梅" }).click();
    const download = b.page.waitForEvent("download");
    await panel.getByRole("button", { name: "Export data", exact: true }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^outpost-user-u_[a-z0-9]{16}-local-\d{4}-\d\d-\d\d\.zip$/);
    await expect.poll(() => panel.getByTestId("export-status").textContent()).toBe("Export downloaded.");

    const entries = readZip(fs.readFileSync((await file.path())!));
    const manifest = ExportManifestSchema.parse(JSON.parse(entries.get("manifest.json")!.data.toString("utf8")));
    expect(manifest.query).toEqual({ user: mei.id });
    const messages = entries.get("messages.jsonl")!.data.toString("utf8").trim().split("\n").map((l) => ExportMessageSchema.parse(JSON.parse(l)));
    expect(messages.map((m) => [m.text, m.senderName])).toEqual([["季度报表已上传", "陈梅"]]);
    expect([...b.pageErrors, ...b.cspViolations, ...b.dialogs]).toEqual([]);
  }, 120_000);
});
