/**
 * Names everywhere (issue 15, item 9), two people in two Chromium profiles: on
 * a fresh sign-in the room list's previews name the sender by display name
 * before any room is opened (one batched users request); mentions show the
 * display name (@陈梅); typing `@陈` suggests 陈梅, and a username prefix works too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";
import { loginAs } from "../harness";

const PASSWORD = "a long enough passphrase";
let t: TestNode;
let ann: UserBrowser;
let chen: UserBrowser;
const requests: string[] = [];

beforeAll(async () => {
  t = await withNode();
  const ids: Record<string, string> = {};
  for (const [u, name] of [["ann", "Ann Wang"], ["chen", "陈梅"], ["bob", "Bob Li"]]) ids[u] = (await createUser(t.node.url, t.admin, { username: u, password: PASSWORD, displayName: name })).id;
  const bob = await loginAs(t.node.url, "bob", PASSWORD);
  const room = (await rest(t.node.url, bob, "POST", "/rooms", { name: "Team", visibility: "private", members: [ids.ann, ids.chen] })) as { id: string };
  await rest(t.node.url, bob, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text: "hi team, @chen has the keys", clientId: "names-1" });
  const other = (await rest(t.node.url, bob, "POST", "/rooms", { name: "Other", visibility: "private", members: [ids.ann] })) as { id: string };
  await rest(t.node.url, bob, "POST", `/rooms/${encodeURIComponent(other.id)}/messages`, { text: "second room", clientId: "names-2" });
  ann = await openBrowser(t.node.url);
  chen = await openBrowser(t.node.url, { locale: "zh-CN" });
  ann.page.on("request", (r) => r.url().includes("/api/v1/users") && requests.push(new URL(r.url()).pathname + new URL(r.url()).search));
}, 120_000);

afterAll(async () => {
  await ann?.close();
  await chen?.close();
  await t?.stop();
});

describe("names", () => {
  it("a fresh sign-in names the senders in the room list's previews, in one request", async () => {
    await signIn(ann.page, "ann", PASSWORD);
    const team = ann.page.locator("button.room", { hasText: "Team" });
    await expect.poll(() => team.locator(".preview").textContent(), { timeout: 10000 }).toBe("Bob Li: hi team, @chen has the keys");
    await expect.poll(() => ann.page.locator("button.room", { hasText: "Other" }).locator(".preview").textContent()).toBe("Bob Li: second room");
    // Bob once, for both rooms: one batched lookup, not one request per room or per person.
    expect(requests.filter((r) => r.startsWith("/api/v1/users?ids="))).toHaveLength(1);
    expect(requests.filter((r) => /^\/api\/v1\/users\/u_/.test(r))).toHaveLength(0);
  });

  it("mentions show the display name; @陈 suggests 陈梅, a username prefix too", async () => {
    await ann.page.locator("button.room", { hasText: "Team" }).click();
    const mention = ann.page.locator(".msg .mention").first();
    await expect.poll(() => mention.textContent()).toBe("@陈梅");
    const box = ann.page.getByRole("textbox", { name: "Message" });
    await box.fill("");
    await box.pressSequentially("lunch? @陈");
    const options = ann.page.locator(".suggest [role=option]");
    await expect.poll(() => options.allTextContents()).toEqual(["陈梅 @chen"]);
    await box.press("Enter"); // takes the suggestion
    await expect.poll(() => box.inputValue()).toBe("lunch? @chen ");
    await box.fill("");
    await box.pressSequentially("@bo");
    await expect.poll(() => options.allTextContents()).toEqual(["Bob Li @bob"]);
    await box.press("Escape");
    await box.fill("@chen lunch?");
    await box.press("Enter");
  });

  it("the other person sees the mention as their own name, highlighted", async () => {
    await signIn(chen.page, "chen", PASSWORD);
    await chen.page.locator("button.room", { hasText: "Team" }).click();
    const mine = chen.page.locator(".msg", { hasText: "lunch?" }).locator(".mention");
    await mine.waitFor({ timeout: 10000 });
    expect(await mine.textContent()).toBe("@陈梅");
    expect(await mine.getAttribute("class")).toContain("mention-me");
    expect(await chen.page.locator(".msg", { hasText: "lunch?" }).locator(".sender").textContent()).toBe("Ann Wang");
  });
});
