/**
 * Notifications in real Chromium (issue 15, item 5), two people in two
 * browsers: the permission is asked once, from a click on the prompt bar; the
 * tab title carries the unread total; with the tab hidden a mention and a DM
 * make a desktop notification for the other person; muting the room (in its
 * settings) silences its mentions.
 *
 * The Notification constructor is wrapped by an init script so the test sees
 * each call; a hidden tab is simulated by overriding document.hidden /
 * visibilityState and dispatching visibilitychange.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

let node: OutpostNode;
let bob: UserBrowser;
let aliceToken = "";
let roomId = "";
let bobId = "";
const PW = "operator-passphrase-123";

/** Runs in the page before the app: record Notification calls, and let the test hide the tab. */
function instrument() {
  const w = window as unknown as { __notes: { title: string; body?: string; tag?: string }[]; __setHidden(h: boolean): void };
  w.__notes = [];
  const Real = window.Notification;
  function Recorded(this: { close(): void; onclick: unknown }, title: string, opts?: NotificationOptions) {
    w.__notes.push({ title, body: opts?.body, tag: opts?.tag });
    this.close = () => {};
    this.onclick = null;
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  (Recorded as unknown as { requestPermission: typeof Notification.requestPermission }).requestPermission = (...a) => Real.requestPermission(...a);
  Object.defineProperty(window, "Notification", { value: Recorded, configurable: true, writable: true });
  let hidden = false;
  Object.defineProperty(document, "hidden", { get: () => hidden, configurable: true });
  Object.defineProperty(document, "visibilityState", { get: () => (hidden ? "hidden" : "visible"), configurable: true });
  w.__setHidden = (h: boolean) => {
    hidden = h;
    document.dispatchEvent(new Event("visibilitychange"));
  };
}

const notes = (p: Page) => p.evaluate(() => (window as unknown as { __notes: { title: string; body?: string }[] }).__notes);
const setHidden = (p: Page, h: boolean) => p.evaluate((h) => (window as unknown as { __setHidden(h: boolean): void }).__setHidden(h), h);
const say = (text: string, clientId: string) => rest(node.url, aliceToken, "POST", `/rooms/${roomId}/messages`, { text, clientId });

beforeAll(async () => {
  node = await startNode({ adminPassword: PW });
  const token = await loginAs(node.url, "admin", PW);
  await createUser(node.url, token, { username: "alice", password: "tea at the old bridge", displayName: "Alice 王" });
  bobId = (await createUser(node.url, token, { username: "bob", password: "rain on the tin roof", displayName: "Bob" })).id;
  aliceToken = await loginAs(node.url, "alice", "tea at the old bridge");
  roomId = (await rest(node.url, aliceToken, "POST", "/rooms", { name: "Ledger", visibility: "private", members: [bobId] })).id;
}, 120_000);

afterAll(async () => {
  await bob?.close();
  await node?.stop();
});

describe("notifications", () => {
  it("asks for permission once, from a click on the prompt bar", async () => {
    bob = await openBrowser(node.url);
    await bob.page.addInitScript(instrument);
    await signIn(bob.page, "bob", "rain on the tin roof");
    // Not asked yet: the bar offers it; nothing has prompted on its own.
    expect(await bob.page.evaluate(() => Notification.permission)).toBe("default");
    const bar = bob.page.getByTestId("notify-prompt");
    await bar.waitFor();
    // The person says yes (headless Chromium has no prompt UI: the context answers for them).
    await bob.context.grantPermissions(["notifications"], { origin: node.url });
    await bar.getByRole("button", { name: "Turn on notifications" }).click();
    await expect.poll(() => bar.count()).toBe(0);
    await bob.page.reload();
    await bob.page.locator("nav.sidebar").waitFor();
    expect(await bob.page.getByTestId("notify-prompt").count()).toBe(0);
  });

  it("the tab title carries the unread total", async () => {
    await expect.poll(() => bob.page.title()).toBe("Outpost");
    await say("first", "n1");
    await say("second", "n2");
    await expect.poll(() => bob.page.title(), { timeout: 5000 }).toBe("(2) Outpost");
  });

  it("a mention and a DM make a desktop notification while the tab is hidden, not while it is shown", async () => {
    await say("@bob visible tab", "n3");
    await expect.poll(() => bob.page.title(), { timeout: 5000 }).toBe("(3) Outpost");
    expect(await notes(bob.page)).toEqual([]);

    await setHidden(bob.page, true);
    await say("@bob 请看一下对账单", "n4");
    await expect.poll(() => notes(bob.page), { timeout: 5000 }).toEqual([{ title: "Alice 王 mentioned you in Ledger", body: "@bob 请看一下对账单", tag: roomId }]);

    const dm = await rest(node.url, aliceToken, "POST", "/dms", { userId: bobId });
    await rest(node.url, aliceToken, "POST", `/rooms/${dm.id}/messages`, { text: "私信 hi", clientId: "d1" });
    await expect.poll(async () => (await notes(bob.page)).length, { timeout: 5000 }).toBe(2);
    expect((await notes(bob.page))[1]).toEqual({ title: "Alice 王", body: "私信 hi", tag: dm.id });
    await setHidden(bob.page, false);
  });

  it("a muted room's mentions notify nobody; its count is still shown, quietly", async () => {
    await bob.page.locator(`button.room[data-room-id="${roomId}"]`).click();
    await bob.page.getByTestId("open-room-settings").click();
    const dialog = bob.page.getByRole("dialog", { name: "Room settings" });
    await dialog.waitFor({ timeout: 10000 });
    await dialog.getByRole("checkbox", { name: /Mute this room/ }).check();
    await expect.poll(() => bob.page.locator(`button.room[data-room-id="${roomId}"] [data-testid="muted-mark"]`).count()).toBe(1);
    await dialog.getByRole("button", { name: "Close" }).click();
    const before = (await notes(bob.page)).length;
    await setHidden(bob.page, true);
    await say("@bob muted mention", "n5");
    // The message arrived (the room's preview shows it) …
    await expect.poll(() => bob.page.locator(`button.room[data-room-id="${roomId}"] .preview`).textContent(), { timeout: 5000 }).toContain("muted mention");
    // … and a mention in a room that is not muted still notifies, so the silence is the mute's.
    const other = await rest(node.url, aliceToken, "POST", "/rooms", { name: "Other", visibility: "private", members: [bobId] });
    await rest(node.url, aliceToken, "POST", `/rooms/${other.id}/messages`, { text: "@bob elsewhere", clientId: "o1" });
    await expect.poll(async () => (await notes(bob.page)).length, { timeout: 5000 }).toBe(before + 1);
    expect((await notes(bob.page)).at(-1)!.body).toBe("@bob elsewhere");
  });
});
