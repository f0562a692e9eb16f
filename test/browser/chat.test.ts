/**
 * Two people in two real Chromium profiles against a real node: first-run
 * setup, sign-in, a DM, live delivery within a second, reply, reaction, edit,
 * recall, typing, receipts, unread and mention badges; then the node is killed
 * mid-conversation and restarted: the clients show "reconnecting", come back,
 * and a message written while the node was down is delivered exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, signIn, type UserBrowser } from "./browser";

let node: OutpostNode;
let alice: UserBrowser;
let bob: UserBrowser;
const ADMIN_PASSWORD = "operator-passphrase-123";

beforeAll(async () => {
  node = await startNode(); // no admin password: first-run setup happens in the browser
}, 120_000);

afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await node?.stop();
});

const messageBody = (page: Page, text: string) => page.locator(".msg .md", { hasText: text });
async function hoverAndClick(page: Page, text: string, label: string) {
  const msg = page.locator("article.msg", { hasText: text }).last();
  await msg.hover();
  await msg.getByRole("button", { name: label, exact: true }).click();
}
async function send(page: Page, text: string) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

describe("web client: two people chatting", () => {
  it("first-run setup creates the admin in the browser", async () => {
    const admin = await openBrowser(node.url);
    try {
      await admin.page.goto(`/setup#token=${node.setupToken}`);
      await admin.page.locator('input[name="password"]').fill(ADMIN_PASSWORD);
      await admin.page.locator('input[name="displayName"]').fill("The Admin");
      await admin.page.getByRole("button", { name: "Create administrator" }).click();
      await admin.page.locator("nav.sidebar").waitFor({ timeout: 15000 });
      expect(await admin.page.locator(".me").textContent()).toBe("The Admin");
      expect(new URL(admin.page.url()).hash).toBe(""); // the token does not stay in the address bar
    } finally {
      await admin.close();
    }
    const token = await loginAs(node.url, "admin", ADMIN_PASSWORD);
    await createUser(node.url, token, { username: "alice", password: "tea at the old bridge", displayName: "Alice Wang" });
    await createUser(node.url, token, { username: "bob", password: "rain on the tin roof", displayName: "Bob 李" });
  });

  it("both sign in; Alice starts a DM and Bob gets an unread badge", async () => {
    alice = await openBrowser(node.url);
    bob = await openBrowser(node.url);
    await signIn(alice.page, "alice", "tea at the old bridge");
    await signIn(bob.page, "bob", "rain on the tin roof");
    await alice.page.getByRole("button", { name: "New message" }).click();
    await alice.page.getByRole("searchbox", { name: "Search people" }).fill("bob");
    await alice.page.locator('button.person[data-username="bob"]').click();
    await expect.poll(() => alice.page.locator(".chat-title").textContent()).toBe("Bob 李");
    await send(alice.page, "hello **bob**");
    await messageBody(alice.page, "hello bob").waitFor();
    expect(await messageBody(alice.page, "hello bob").locator("strong").textContent()).toBe("bob");

    const item = bob.page.locator("button.room", { hasText: "Alice Wang" });
    await item.waitFor({ timeout: 10000 });
    await expect.poll(() => item.locator('[data-testid="unread-badge"]').textContent(), { timeout: 10000 }).toBe("1");
    expect(await item.locator(".preview").textContent()).toContain("hello **bob**");
    await item.click();
    await messageBody(bob.page, "hello bob").waitFor();
    // Where the unread messages start, and which day it is.
    await bob.page.locator('[data-testid="unread-divider"]').waitFor();
    expect(await bob.page.locator('[data-testid="unread-divider"]').textContent()).toBe("New messages");
    expect(await bob.page.locator(".day").first().textContent()).toBe("Today");
    await expect.poll(() => item.locator('[data-testid="unread-badge"]').count(), { timeout: 10000 }).toBe(0);
  });

  it("a message appears on the other side within a second", async () => {
    await bob.page.evaluate(() => {
      const w = window as unknown as { __seenAt?: number };
      new MutationObserver(() => {
        if (!w.__seenAt && document.body.textContent?.includes("ping-latency")) w.__seenAt = Date.now();
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    });
    const box = alice.page.getByRole("textbox", { name: "Message" });
    await box.fill("ping-latency");
    const sentAt = await alice.page.evaluate(() => Date.now());
    await box.press("Enter");
    await messageBody(bob.page, "ping-latency").waitFor({ timeout: 10000 });
    const seenAt = await bob.page.evaluate(() => (window as unknown as { __seenAt: number }).__seenAt);
    expect(seenAt - sentAt).toBeLessThan(1000);
  });

  it("reply with a quote that jumps to the original, reaction, typing, receipts", async () => {
    await hoverAndClick(bob.page, "hello bob", "Reply");
    await expect.poll(() => bob.page.locator(".composer-mode").textContent()).toContain("Replying to Alice Wang");
    await send(bob.page, "a reply from bob");
    const reply = alice.page.locator("article.msg", { hasText: "a reply from bob" });
    await reply.waitFor();
    expect(await reply.locator(".quote").textContent()).toContain("hello **bob**");
    await reply.locator(".quote").click();
    await alice.page.locator("article.msg.highlight", { hasText: "hello bob" }).waitFor();

    await hoverAndClick(alice.page, "a reply from bob", "React 👍");
    await bob.page.locator("article.msg", { hasText: "a reply from bob" }).locator("button.reaction", { hasText: "👍 1" }).waitFor();

    await bob.page.getByRole("textbox", { name: "Message" }).pressSequentially("typing something", { delay: 150 });
    await expect.poll(() => alice.page.locator('[data-testid="typing"]').textContent(), { timeout: 10000 }).toBe("Bob 李 is typing…");
    await bob.page.getByRole("textbox", { name: "Message" }).fill("");

    await send(alice.page, "are you there?");
    await expect.poll(() => alice.page.locator('[data-testid="receipts"]').textContent(), { timeout: 10000 }).toBe("Seen by Bob 李");
  });

  it("edit and recall reach the other side", async () => {
    await hoverAndClick(alice.page, "ping-latency", "Edit");
    const box = alice.page.getByRole("textbox", { name: "Message" });
    await expect.poll(() => box.inputValue()).toBe("ping-latency");
    await box.fill("ping-latency (edited)");
    await box.press("Enter");
    const edited = bob.page.locator("article.msg", { hasText: "ping-latency (edited)" });
    await edited.waitFor();
    expect(await edited.locator(".meta").textContent()).toContain("edited");

    await hoverAndClick(alice.page, "are you there?", "Recall");
    await expect.poll(() => messageBody(bob.page, "are you there?").count(), { timeout: 10000 }).toBe(0);
    expect(await bob.page.locator('[data-testid="tombstone"]').count()).toBeGreaterThan(0);
    expect(await bob.page.locator('[data-testid="tombstone"]').first().textContent()).toBe("This message was recalled");
  });

  it("@mention autocomplete, and a mention badge for someone not looking", async () => {
    await alice.page.getByRole("button", { name: "New room" }).click();
    await alice.page.locator('input[name="roomName"]').fill("Team");
    await alice.page.getByRole("searchbox", { name: "Search people" }).fill("bob");
    // Clicked once the list answers "bob" (the empty search's list, admin and bob, may still be
    // shown for a moment and be replaced under the pointer: a CI run lost the click that way).
    await expect.poll(() => alice.page.locator("button.person").evaluateAll((els) => els.map((e) => e.getAttribute("data-username")))).toEqual(["bob"]);
    await alice.page.locator('button.person[data-username="bob"]').click();
    // Picked: he shows among the room's members-to-be before the room is made.
    await alice.page.locator(".chips li", { hasText: "Bob 李" }).waitFor();
    await alice.page.getByRole("button", { name: "Create" }).click();
    await expect.poll(() => alice.page.locator(".chat-title").textContent()).toBe("Team");
    await expect.poll(() => alice.page.locator(".chat-head button.link").textContent(), { timeout: 10000 }).toContain("(2)");
    const box = alice.page.getByRole("textbox", { name: "Message" });
    await box.pressSequentially("hi @bo");
    await alice.page.getByRole("listbox", { name: "People to mention" }).getByRole("option", { name: /Bob 李/ }).waitFor();
    await box.press("Enter"); // picks the suggestion, does not send
    await expect.poll(() => box.inputValue()).toBe("hi @bob ");
    await box.pressSequentially("look here");
    await box.press("Enter");
    await alice.page.locator("article.msg .mention", { hasText: "@bob" }).waitFor();

    const team = bob.page.locator("button.room", { hasText: "Team" });
    await expect.poll(() => team.locator('[data-testid="mention-badge"]').textContent(), { timeout: 10000 }).toBe("@1");
    expect(await team.locator('[data-testid="unread-badge"]').textContent()).toBe("1");
  });

  it("the people search shows the answer to what the box says, not an earlier search answered late", async () => {
    // The first search, the empty one that lists everyone, answers 1.5 s late; "bob" is typed meanwhile.
    const EMPTY = /\/api\/v1\/users\?q=&/;
    let delayed = 0;
    await alice.page.route(EMPTY, async (route) => {
      delayed++;
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    try {
      const first = alice.page.waitForRequest(EMPTY);
      await alice.page.getByRole("button", { name: "New room" }).click();
      await first;
      await alice.page.getByRole("searchbox", { name: "Search people" }).fill("bob");
      await alice.page.locator('button.person[data-username="bob"]').waitFor();
      // Past the late answer, the list is still bob's alone.
      await alice.page.waitForTimeout(2000);
      expect(delayed).toBe(1);
      expect(await alice.page.locator("button.person").evaluateAll((els) => els.map((e) => e.getAttribute("data-username")))).toEqual(["bob"]);
    } finally {
      await alice.page.unroute(EMPTY);
      await alice.page.getByRole("button", { name: "Cancel" }).click();
    }
  });

  it("a people search that fails says why, not that nobody matched", async () => {
    const FAILING = /\/api\/v1\/users\?q=zz&/;
    await alice.page.route(FAILING, (route) => route.fulfill({ status: 500, contentType: "application/json", body: JSON.stringify({ error: { code: "internal", message: "boom" } }) }));
    try {
      await alice.page.getByRole("button", { name: "New room" }).click();
      const dialog = alice.page.getByRole("dialog");
      await dialog.getByRole("searchbox", { name: "Search people" }).fill("zz");
      await expect.poll(() => dialog.getByRole("alert").textContent(), { timeout: 10000 }).toBe("The server had a problem. Try again later.");
      expect(await dialog.locator("ul.people li").count()).toBe(0);
      // The next search that works clears it.
      await dialog.getByRole("searchbox", { name: "Search people" }).fill("bob");
      await dialog.locator('button.person[data-username="bob"]').waitFor();
      expect(await dialog.getByRole("alert").count()).toBe(0);
    } finally {
      await alice.page.unroute(FAILING);
      await alice.page.getByRole("button", { name: "Cancel" }).click();
    }
  });

  it("node killed mid-conversation: reconnecting banner, then nothing lost or doubled", async () => {
    // Both back in the DM.
    await alice.page.locator("button.room", { hasText: "Bob 李" }).click();
    await messageBody(alice.page, "a reply from bob").waitFor();
    await send(alice.page, "before the crash");
    await messageBody(bob.page, "before the crash").waitFor();

    await node.kill9();
    await alice.page.locator('[data-testid="conn-banner"]').waitFor({ timeout: 15000 });
    await bob.page.locator('[data-testid="conn-banner"]').waitFor({ timeout: 15000 });
    expect(await alice.page.locator('[data-testid="conn-banner"]').textContent()).toBe("Reconnecting…");

    await send(alice.page, "written while down");
    await alice.page.locator('[data-testid="pending"]', { hasText: "written while down" }).waitFor();

    await node.restart();
    await alice.page.locator('[data-testid="conn-banner"]').waitFor({ state: "detached", timeout: 30000 });
    await bob.page.locator('[data-testid="conn-banner"]').waitFor({ state: "detached", timeout: 30000 });
    await messageBody(bob.page, "written while down").waitFor({ timeout: 20000 });
    await expect.poll(() => alice.page.locator('[data-testid="pending"]').count(), { timeout: 20000 }).toBe(0);
    await send(bob.page, "after the restart");
    await messageBody(alice.page, "after the restart").waitFor({ timeout: 10000 });

    for (const page of [alice.page, bob.page]) {
      for (const text of ["hello bob", "a reply from bob", "before the crash", "written while down", "after the restart"]) {
        expect(await messageBody(page, text).count(), `${text} once`).toBe(1);
      }
    }
    // And on the node: stored exactly once.
    const token = await loginAs(node.url, "alice", "tea at the old bridge");
    const rooms = (await (await fetch(`${node.url}/api/v1/me/rooms`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rooms: { roomId: string; peerId: string | null }[] };
    const dm = rooms.rooms.find((r) => r.peerId)!;
    const history = (await (await fetch(`${node.url}/api/v1/rooms/${encodeURIComponent(dm.roomId)}/messages?limit=100`, { headers: { authorization: `Bearer ${token}` } })).json()) as { messages: { text: string }[] };
    expect(history.messages.filter((m) => m.text === "written while down")).toHaveLength(1);
    expect([...alice.pageErrors, ...bob.pageErrors].join("\n")).toBe("");
    expect([...alice.cspViolations, ...bob.cspViolations].join("\n")).toBe("");
  });
});
