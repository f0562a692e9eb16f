/**
 * Retention, legal holds and erasure driven from the web client in real
 * Chromium, as a node administrator does it (docs/OPERATIONS.md "Retention,
 * legal hold and erasure"): the node's default retention and one room's own
 * policy; a legal hold on a person, which refuses their erasure (said in
 * words); the hold released; the erasure done, the person shown as erased;
 * a hold on any room of the node, found by part of its name.
 * Each step is checked against the node's REST answers, not only the screen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, OpenBrowsers, rest, signIn, type UserBrowser } from "./browser";

const PW = "operator-passphrase-123";
let node: OutpostNode;
let adminToken = "";
let olgaId = "";
let roomId = "";
const browsers = new OpenBrowsers();

beforeAll(async () => {
  node = await startNode({ adminPassword: PW });
  adminToken = await loginAs(node.url, "admin", PW);
  olgaId = (await createUser(node.url, adminToken, { username: "olga", password: "rowing on the grey river", displayName: "Olga" })).id;
  roomId = (await rest(node.url, adminToken, "POST", "/rooms", { name: "Board", visibility: "private", members: [olgaId] })).id;
  const olga = await loginAs(node.url, "olga", "rowing on the grey river");
  await rest(node.url, olga, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text: "minutes of the board", clientId: "olga-1" });
}, 120_000);

afterAll(async () => {
  await browsers.closeAll();
  await node?.stop();
});

async function adminBrowser(locale = "en-US"): Promise<UserBrowser> {
  const b = await browsers.open(node.url, { locale });
  // Every destructive step asks first (window.confirm), which openBrowser's pages accept.
  await signIn(b.page, "admin", PW);
  return b;
}

describe("web client: retention, legal holds and erasure", () => {
  it("an admin sets the node default and a room's retention, holds a person, is refused their erasure, releases the hold and erases them", async () => {
    const { page, pageErrors, cspViolations } = await adminBrowser();

    // The node's default: 400 days, with the warning of what it deletes shown before saving.
    await page.getByRole("button", { name: "Retention and legal holds", exact: true }).click();
    const panel = page.getByTestId("compliance-panel");
    await expect.poll(() => panel.getByTestId("retention-in-force").textContent(), { timeout: 10_000 }).toBe("In force now: Messages are kept forever.");
    await panel.getByLabel("Delete messages older than").check();
    await panel.locator('input[name="defaultDays"]').fill("400");
    await expect.poll(() => panel.getByTestId("retention-warning").textContent()).toMatch(/^Messages older than 400 days, with their files, will be deleted for good/);
    await panel.getByTestId("retention-default").getByRole("button", { name: "Save" }).click();
    await expect.poll(() => panel.getByTestId("retention-in-force").textContent()).toBe("In force now: Messages older than 400 days are removed.");
    expect(await rest(node.url, adminToken, "GET", "/admin/retention")).toEqual({ defaultDays: 400 });

    // A legal hold on Olga, picked with the people search.
    const place = panel.getByTestId("place-hold");
    await place.getByLabel("On a person").check();
    await place.getByRole("searchbox", { name: "Search people" }).fill("olga");
    await place.locator('button.person[data-username="olga"]').click();
    await expect.poll(() => place.getByTestId("hold-target").textContent()).toContain("To hold: Olga (@olga)");
    await place.locator('input[name="holdReason"]').fill("case 2026-17");
    await place.getByRole("button", { name: "Place hold" }).click();
    const row = panel.getByTestId("hold-list").locator(`tr[data-target-id="${olgaId}"]`);
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toMatch(/^Person: Olgacase 2026-17/);
    const holds = (await rest(node.url, adminToken, "GET", "/admin/holds")).holds;
    expect(holds).toHaveLength(1);
    expect(holds[0]).toMatchObject({ kind: "user", targetId: olgaId, reason: "case 2026-17" });
    await page.keyboard.press("Escape");

    // The room's own policy, in its settings: 30 days instead of the node's 400.
    await page.locator(`button.room[data-room-id="${roomId}"]`).click();
    await page.getByTestId("open-room-settings").click();
    const form = page.getByTestId("room-retention-form");
    await expect.poll(() => form.getByLabel("Follow the node default (Messages older than 400 days are removed.)").isChecked(), { timeout: 10_000 }).toBe(true);
    await form.getByLabel("Delete messages older than a number of days").check();
    await form.locator('input[name="roomDays"]').fill("30");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByTestId("room-retention").textContent()).toBe("Message retention: Messages older than 30 days are removed.");
    expect((await rest(node.url, adminToken, "GET", `/rooms/${encodeURIComponent(roomId)}`)).room.retentionDays).toBe(30);
    await page.keyboard.press("Escape");
    // A room's own policy that happens to equal the node default is still its own (a later
    // change of the default must not move it): the form says so after a reload.
    await rest(node.url, adminToken, "PUT", `/admin/rooms/${encodeURIComponent(roomId)}/retention`, { days: 400 });
    await page.reload();
    await page.locator(`button.room[data-room-id="${roomId}"]`).click();
    await page.getByTestId("open-room-settings").click();
    await expect.poll(() => form.getByLabel("Delete messages older than a number of days").isChecked(), { timeout: 10_000 }).toBe(true);
    expect(await form.locator('input[name="roomDays"]').inputValue()).toBe("400");
    await page.keyboard.press("Escape");

    // Erasing Olga while the hold lasts: refused, and the screen says why and what to do.
    await page.getByRole("button", { name: "People", exact: true }).click();
    const people = page.getByTestId("people-panel");
    await people.locator('input[name="accountSearch"]').fill("olga");
    // By id: the row's username changes when she is erased.
    const olgaRow = people.locator(`li.account[data-user-id="${olgaId}"]`);
    await olgaRow.getByRole("button", { name: "Manage Olga" }).click();
    const erase = olgaRow.getByTestId("erase-account");
    const button = erase.getByRole("button", { name: "Erase personal data" });
    expect(await button.isDisabled()).toBe(true); // until the username is typed in full
    await erase.locator('input[name="eraseConfirm"]').fill("olg");
    expect(await button.isDisabled()).toBe(true);
    await erase.locator('input[name="eraseConfirm"]').fill("olga");
    await button.click();
    await expect.poll(() => erase.getByRole("alert").textContent(), { timeout: 10_000 }).toBe(
      "Olga is under a legal hold, so their data cannot be erased while the hold lasts. When the case allows it, release the hold under “Retention and legal holds”, then erase.",
    );
    expect((await rest(node.url, adminToken, "GET", `/users/${encodeURIComponent(olgaId)}`)).username).toBe("olga");
    await page.keyboard.press("Escape");

    // The hold released (after a confirmation), then the erasure goes through.
    await page.getByRole("button", { name: "Retention and legal holds", exact: true }).click();
    await panel.getByRole("button", { name: "Release the hold on Person: Olga" }).click();
    await expect.poll(() => panel.getByTestId("holds").getByRole("status").textContent(), { timeout: 10_000 }).toBe("The legal hold on Person: Olga was released.");
    await expect.poll(() => panel.getByText("No legal holds.").count()).toBe(1);
    expect((await rest(node.url, adminToken, "GET", "/admin/holds")).holds).toEqual([]);
    await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "People", exact: true }).click();
    await people.locator('input[name="accountSearch"]').fill("olga");
    await olgaRow.getByRole("button", { name: "Manage Olga" }).click();
    await erase.locator('input[name="eraseConfirm"]').fill("olga");
    await erase.getByRole("button", { name: "Erase personal data" }).click();
    await expect.poll(() => erase.getByTestId("erase-state").textContent(), { timeout: 20_000 }).toMatch(/^Erased: all \d+ rooms done \(.+\)\.$/);
    // The row is the placeholder now, marked as erased.
    await expect.poll(() => olgaRow.locator(".account-line").textContent()).toMatch(new RegExp(`Deleted user @deleted-${olgaId.slice(2, 18)}Erased`));
    // Opened again later, the person shows the finished job the node keeps (GET …/erase).
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "People", exact: true }).click();
    await people.locator('input[name="accountSearch"]').fill("deleted");
    await olgaRow.getByRole("button", { name: "Manage Deleted user" }).click();
    await expect.poll(() => erase.getByTestId("erase-state").textContent(), { timeout: 10_000 }).toMatch(/^Erased: all \d+ rooms done \(.+\)\.$/);
    const account = await rest(node.url, adminToken, "GET", `/users/${encodeURIComponent(olgaId)}`);
    expect(account).toMatchObject({ displayName: "Deleted user", username: `deleted-${olgaId.slice(2, 18)}` });
    expect([...pageErrors, ...cspViolations].join("\n")).toBe("");
  }, 120_000);

  it("the screen and its warning are in Chinese for a Chinese browser", async () => {
    const { page } = await adminBrowser("zh-CN");
    await page.getByRole("button", { name: "保留与保全", exact: true }).click();
    const panel = page.getByTestId("compliance-panel");
    await expect.poll(() => panel.getByRole("heading", { level: 2 }).first().textContent(), { timeout: 10_000 }).toBe("消息保留与法律保全");
    await expect.poll(() => panel.getByTestId("retention-in-force").textContent()).toBe("当前生效：超过 400 天的消息会被删除。");
    await panel.locator('input[name="defaultDays"]').fill("90");
    await expect.poll(() => panel.getByTestId("retention-warning").textContent()).toMatch(/^所有沿用节点默认策略的房间中，超过 90 天的消息及其文件将被永久删除/);
    expect(await panel.getByText("当前没有法律保全。").count()).toBe(1);
  }, 60_000);

  it("finds any room of the node for a hold, a private room or a DM the admin is not in, by part of its name", async () => {
    await createUser(node.url, adminToken, { username: "anouk", password: "cycling along the dunes", displayName: "Anouk" });
    const jules = (await createUser(node.url, adminToken, { username: "jules", password: "sailing past the old pier", displayName: "Jules" })).id as string;
    const anouk = await loginAs(node.url, "anouk", "cycling along the dunes");
    const merger = (await rest(node.url, anouk, "POST", "/rooms", { name: "并购 Merger talks", visibility: "private", members: [] })).id as string;
    const dm = (await rest(node.url, anouk, "POST", "/dms", { userId: jules })).id as string;
    const { page, pageErrors, cspViolations } = await adminBrowser();
    await page.getByRole("button", { name: "Retention and legal holds", exact: true }).click();
    const place = page.getByTestId("compliance-panel").getByTestId("place-hold");
    await place.getByLabel("On a room").check();
    const search = place.getByRole("searchbox", { name: "Search rooms, or paste a room id" });
    // A DM is named by its two people; it is marked as one.
    await search.fill("Jules");
    const dmButton = place.locator(`button.person[data-room-id="${dm}"]`);
    await expect.poll(() => dmButton.textContent(), { timeout: 10_000 }).toBe("Anouk & Jules Direct message");
    // Part of a private room's name, in Chinese.
    await search.fill("并购");
    const button = place.locator(`button.person[data-room-id="${merger}"]`);
    await expect.poll(() => button.textContent(), { timeout: 10_000 }).toBe("并购 Merger talks Private");
    await button.click();
    await expect.poll(() => place.getByTestId("hold-target").textContent()).toContain("并购 Merger talks");
    await place.locator('input[name="holdReason"]').fill("case 2026-21");
    await place.getByRole("button", { name: "Place hold" }).click();
    const row = page.getByTestId("hold-list").locator(`tr[data-target-id="${merger}"]`);
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toMatch(/^Room: 并购 Merger talkscase 2026-21/);
    const hold = (await rest(node.url, adminToken, "GET", "/admin/holds")).holds.find((h: { targetId: string }) => h.targetId === merger);
    expect(hold).toMatchObject({ kind: "room", targetId: merger, reason: "case 2026-21" });
    // The admin is in neither room.
    expect(await page.locator(`button.room[data-room-id="${merger}"]`).count()).toBe(0);
    await rest(node.url, adminToken, "DELETE", `/admin/holds/${hold.id}`);
    expect([...pageErrors, ...cspViolations].join("\n")).toBe("");
  }, 60_000);

  it("a hold on a private room the admin is not in shows the room's name, its id on hover", async () => {
    await createUser(node.url, adminToken, { username: "piet", password: "walking by the long canal", displayName: "Piet" });
    const piet = await loginAs(node.url, "piet", "walking by the long canal");
    const secret = (await rest(node.url, piet, "POST", "/rooms", { name: "薪酬 Payroll review", visibility: "private", members: [] })).id as string;
    // Placed by id (as pasted from the audit trail or an export), so this browser never saw the room.
    const hold = await rest(node.url, adminToken, "POST", "/admin/holds", { roomId: secret, reason: "case 2026-18" });
    const { page, pageErrors, cspViolations } = await adminBrowser();
    await page.getByRole("button", { name: "Retention and legal holds", exact: true }).click();
    const cell = page.getByTestId("hold-list").locator(`tr[data-target-id="${secret}"] [data-testid="hold-target-name"]`);
    await expect.poll(() => cell.textContent(), { timeout: 10_000 }).toBe("Room: 薪酬 Payroll review");
    expect(await cell.getAttribute("title")).toBe(secret);
    // Not a member: the name came from the node's answer, not from the admin's own rooms.
    expect(await page.locator(`button.room[data-room-id="${secret}"]`).count()).toBe(0);
    await rest(node.url, adminToken, "DELETE", `/admin/holds/${hold.id}`);
    expect([...pageErrors, ...cspViolations].join("\n")).toBe("");
  }, 60_000);
});
