/**
 * "Your profile" in real Chromium (issue 15, item 4): Ann renames herself and
 * uploads a picture in Settings (cropped square, scaled to 256×256 in a
 * canvas); Ben, signed in in another browser with the room open, sees the new
 * name and the picture beside her messages and in his room list without
 * reloading; removing it brings the first letter back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";
import { encodePng } from "../../scripts/png.mjs";

let node: OutpostNode;
let ann: UserBrowser;
let ben: UserBrowser;
let annId = "";
let roomId = "";
let dmId = "";
const PW = "operator-passphrase-123";

beforeAll(async () => {
  node = await startNode({ adminPassword: PW });
  const admin = await loginAs(node.url, "admin", PW);
  annId = (await createUser(node.url, admin, { username: "ann", password: "kites over the harbour", displayName: "Ann" })).id;
  const benId = (await createUser(node.url, admin, { username: "ben", password: "snow on the pine trees", displayName: "Ben" })).id;
  const annToken = await loginAs(node.url, "ann", "kites over the harbour");
  roomId = (await rest(node.url, annToken, "POST", "/rooms", { name: "Studio", visibility: "private", members: [benId] })).id;
  dmId = (await rest(node.url, annToken, "POST", "/dms", { userId: benId })).id;
  await rest(node.url, annToken, "POST", `/rooms/${roomId}/messages`, { text: "hello from ann", clientId: "a1" });
}, 120_000);

afterAll(async () => {
  await ann?.close();
  await ben?.close();
  await node?.stop();
});

describe("your profile", () => {
  it("a new name and picture reach the other person's open room without a reload", async () => {
    ben = await openBrowser(node.url);
    await signIn(ben.page, "ben", "snow on the pine trees");
    await ben.page.locator(`button.room[data-room-id="${roomId}"]`).click();
    const row = ben.page.locator(".msg", { hasText: "hello from ann" });
    await row.locator(".sender", { hasText: "Ann" }).waitFor();
    expect(await row.locator(".avatar img").count()).toBe(0);
    expect(await row.locator(".avatar").getAttribute("data-letter")).toBe("A");

    ann = await openBrowser(node.url, { viewport: { width: 390, height: 800 }, colorScheme: "dark" });
    await signIn(ann.page, "ann", "kites over the harbour");
    await ann.page.getByTestId("open-settings").click();
    const dialog = ann.page.getByRole("dialog", { name: "Settings" });
    await dialog.waitFor();
    // The name field keeps the node's rules: too long shows the counter and is not sent.
    const name = dialog.locator('input[name="displayName"]');
    await name.fill("安".repeat(70));
    await dialog.getByTestId("counter-displayName").waitFor();
    await name.fill("安娜 Ann");
    await dialog.getByTestId("save-display-name").click();
    await expect.poll(async () => (await rest(node.url, await loginAs(node.url, "ann", "kites over the harbour"), "GET", "/me")).displayName).toBe("安娜 Ann");

    // One colour, not square: the crop has work to do.
    await dialog.locator('input[name="avatarFile"]').setInputFiles({ name: "me.png", mimeType: "image/png", buffer: encodePng(90, 60, () => [220, 40, 40]) });
    await dialog.getByTestId("avatar-preview").waitFor();
    await dialog.getByTestId("save-avatar").click();
    await dialog.getByTestId("remove-avatar").waitFor();
    const me = await rest(node.url, await loginAs(node.url, "ann", "kites over the harbour"), "GET", "/me");
    expect(me.avatar).toMatch(/^[0-9a-f]{64}$/);

    // Ben, without reloading: the new name and the picture (256×256, loaded) beside her message.
    await row.locator(".sender", { hasText: "安娜 Ann" }).waitFor({ timeout: 10000 });
    const img = row.locator(".avatar img");
    await img.waitFor({ timeout: 10000 });
    expect(await img.getAttribute("src")).toBe(`/api/v1/users/${encodeURIComponent(annId)}/avatar?v=${me.avatar}`);
    await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBe(256);
    // The pixels are the picture's (red), cropped to fill the square.
    const corner = await img.evaluate((el) => {
      const c = document.createElement("canvas");
      c.width = c.height = 256;
      const ctx = c.getContext("2d")!;
      ctx.drawImage(el as HTMLImageElement, 0, 0);
      return [...ctx.getImageData(2, 2, 1, 1).data];
    });
    expect(corner[0]).toBeGreaterThan(180);
    expect(corner[1]).toBeLessThan(80);
    // And in his room list, on the direct message with her.
    await ben.page.locator(`button.room[data-room-id="${dmId}"] .avatar img`).waitFor({ timeout: 10000 });
    // The pictures and the crop canvas stay inside the page's CSP (img-src 'self' blob: data:).
    expect([...ben.cspViolations, ...ann.cspViolations]).toEqual([]);

    // Removed: the first letter of the new name comes back.
    await dialog.getByTestId("remove-avatar").click();
    await expect.poll(() => row.locator(".avatar img").count(), { timeout: 10000 }).toBe(0);
    expect(await row.locator(".avatar").getAttribute("data-letter")).toBe("安");
  });
});
