/**
 * The audit trail screen in real Chromium: an admin opens it from the
 * sidebar (beside People), filters by one person's username, sees only
 * records that person did or that were done to them, and exports the
 * filtered trail as CSV (a real download, read back from disk); filters by a
 * room they are not a member of, found by typing its name (a DM by its two
 * people's), in the Chinese UI. A person who is not an admin has no way in.
 * Each record's time, and a moment in its details (an invite's expiry), reads
 * as a date and time to the second in the viewer's language.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { loginAs, startNode, type OutpostNode } from "../harness";
import type { Page } from "playwright-core";
import { createUser, OpenBrowsers, rest, signIn } from "./browser";
import { axeViolations, formatViolation } from "./axe";

const ADMIN_PASSWORD = "operator-passphrase-123";
let node: OutpostNode;
let adminToken: string;
let wen: { id: string };
let ola: { id: string };
let treasury: { id: string };
let shanghai: { id: string };
let dm: { id: string };
const browsers = new OpenBrowsers();

beforeAll(async () => {
  node = await startNode({ adminPassword: ADMIN_PASSWORD });
  adminToken = await loginAs(node.url, "admin", ADMIN_PASSWORD);
  wen = await createUser(node.url, adminToken, { username: "wen", password: "a long enough passphrase", displayName: "王文" });
  ola = await createUser(node.url, adminToken, { username: "ola", password: "a long enough passphrase", displayName: "Ola" });
  const wenToken = await loginAs(node.url, "wen", "a long enough passphrase");
  await loginAs(node.url, "ola", "a long enough passphrase");
  treasury = (await rest(node.url, wenToken, "POST", "/rooms", { name: "Treasury, \"Q3\"", visibility: "private", members: [] })) as { id: string };
  // li's rooms, none with the admin in them (and none of wen's: the first test counts wen's records).
  await createUser(node.url, adminToken, { username: "li", password: "a long enough passphrase", displayName: "李丽" });
  const liToken = await loginAs(node.url, "li", "a long enough passphrase");
  shanghai = (await rest(node.url, liToken, "POST", "/rooms", { name: "上海分行 审计", visibility: "private", members: [] })) as { id: string };
  dm = (await rest(node.url, liToken, "POST", "/dms", { userId: ola.id })) as { id: string };
}, 120_000);

afterAll(async () => {
  await browsers.closeAll();
  await node?.stop();
});

/**
 * The people's columns (who did it, to whom) whose short name (≤ 13 characters: 王文,
 * Administrator) takes more than one line: a Chinese name may break after any character,
 * and beside a sign-in's long user agent the table once left it one character's width.
 */
function namesBrokenOverLines(page: Page): Promise<string[]> {
  return page.getByTestId("audit-panel").locator("table.audit tbody tr").evaluateAll((trs) =>
    trs.flatMap((tr) =>
      [tr.children[1], tr.children[4]].flatMap((td) => {
        const text = td?.textContent ?? "";
        if (!td || text.length === 0 || text.length > 13) return [];
        const range = document.createRange();
        range.selectNodeContents(td);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
        return lines > 1 ? [`${text}: ${lines} lines`] : [];
      }),
    ),
  );
}

describe("web client: audit trail", () => {
  it("an admin filters the trail by user and exports it as CSV", async () => {
    const admin = await browsers.open(node.url);
    await signIn(admin.page, "admin", ADMIN_PASSWORD);
    await admin.page.getByRole("button", { name: "Audit trail", exact: true }).click();
    const panel = admin.page.getByTestId("audit-panel");
    await panel.waitFor();
    const rows = panel.locator("table.audit tbody tr");
    // Everything so far, newest first: ola's sign-in is there before filtering.
    await expect.poll(() => panel.locator('tr[data-action="auth.signin"]').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);

    await panel.locator('input[name="auditUser"]').fill("wen");
    await panel.getByRole("button", { name: "Filter", exact: true }).click();
    await expect.poll(async () => (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-action")))).sort()).toEqual(["auth.signin", "room.created", "user.created"]);
    // Names, not ids, in the table; every row is about 王文.
    for (const text of await rows.allTextContents()) expect(text).toContain("王文");
    expect(await namesBrokenOverLines(admin.page)).toEqual([]);
    // The admin is not in wen's private room, yet its name shows (the node names it with the page), its id on hover.
    const roomCell = panel.locator('tr[data-action="room.created"] td[data-room-id]');
    await expect.poll(() => roomCell.textContent()).toBe('Treasury, "Q3"');
    expect(await roomCell.getAttribute("title")).toBe(treasury.id);
    // Labelled filters, a table with headers: nothing serious for axe.
    expect((await axeViolations(admin.page)).flatMap(formatViolation)).toEqual([]);

    const [download] = await Promise.all([admin.page.waitForEvent("download"), panel.getByTestId("audit-export").click()]);
    expect(download.suggestedFilename()).toMatch(/^outpost-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = fs.readFileSync((await download.path())!, "utf8");
    const lines = csv.replace(/^\ufeff/, "").trim().split("\r\n");
    expect(lines[0]).toBe("time,actor,actor_name,action,room,user,user_name,detail,object,seq,hash,room_name");
    expect(lines).toHaveLength(4);
    for (const line of lines.slice(1)) {
      expect(line).toContain(`"${wen.id}"`);
      expect(line).not.toContain(ola.id);
    }
    const created = lines.find((l) => l.includes('"room.created"'))!;
    // RFC 4180 quoting of a name with a comma and quotes inside the JSON detail.
    expect(created).toContain('Treasury, \\""Q3\\""');
    expect(created.endsWith(',"Treasury, ""Q3"""')).toBe(true);
    expect(lines.find((l) => l.includes('"user.created"'))).toContain('"王文"');
    expect([...admin.pageErrors, ...admin.cspViolations]).toEqual([]);
  }, 120_000);

  it("an admin filters by a room they are not in, found by typing its name (in Chinese)", async () => {
    const admin = await browsers.open(node.url, { locale: "zh-CN" });
    await signIn(admin.page, "admin", ADMIN_PASSWORD);
    await admin.page.getByTestId("open-audit").click();
    const panel = admin.page.getByTestId("audit-panel");
    await panel.waitFor();
    const field = panel.getByRole("combobox", { name: "房间", exact: true });
    const filter = panel.getByRole("button", { name: "筛选", exact: true });
    const rows = panel.locator("table.audit tbody tr");
    // The room list (the action <select> has options of its own).
    const rooms = panel.getByRole("listbox", { name: "房间" });
    const rowRooms = () => rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute("data-action"), tr.querySelector("td[data-room-id]")?.getAttribute("data-room-id") ?? null]));

    // The filters are one row: every control's top and bottom, and every label's top, on one line
    // (the room field once sat 10 px lower than the others, its label's margin not cancelled).
    const lines = await panel.locator(".audit-filters").evaluate((form) => {
      const boxes = (sel: string) => [...form.querySelectorAll(sel)].map((el) => el.getBoundingClientRect());
      const controls = boxes(":scope > label > :is(input, select), .audit-room > input");
      const labels = [...form.querySelectorAll(":scope > label, .audit-room > label")].map((el) => {
        const range = document.createRange();
        range.selectNodeContents(el.tagName === "LABEL" && el.parentElement === form ? el.firstChild! : el);
        return range.getBoundingClientRect();
      });
      const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
      return { count: controls.length, tops: spread(controls.map((b) => b.top)), bottoms: spread(controls.map((b) => b.bottom)), labelTops: spread(labels.map((b) => b.top)) };
    });
    expect(lines.count).toBe(5);
    expect(lines.tops).toBeLessThanOrEqual(1);
    expect(lines.bottoms).toBeLessThanOrEqual(1);
    expect(lines.labelTops).toBeLessThanOrEqual(1);

    // Text that names no picked room is not silently taken for "any room".
    await field.fill("Treas");
    await rooms.getByRole("option", { name: /Treasury/ }).waitFor();
    // Escape closes the list (not the audit screen); the list would cover the button.
    await field.press("Escape");
    expect(await field.getAttribute("aria-expanded")).toBe("false");
    await filter.click();
    await expect.poll(() => panel.getByRole("alert").textContent()).toContain("请从列表中选择");

    // Typing searches every room of the node: li's private room, which the admin is not in; picked with the keyboard.
    await field.fill("上海");
    const option = rooms.getByRole("option", { name: /上海分行 审计/ });
    await option.waitFor();
    expect(await rooms.getByRole("option").count()).toBe(1);
    expect((await axeViolations(admin.page)).flatMap(formatViolation)).toEqual([]);
    await field.press("ArrowDown");
    await expect.poll(() => field.getAttribute("aria-activedescendant")).toBe(await option.getAttribute("id"));
    await field.press("Enter");
    expect(await field.inputValue()).toBe("上海分行 审计");
    expect(await field.getAttribute("aria-expanded")).toBe("false");
    await filter.click();
    await expect.poll(rowRooms, { timeout: 10_000 }).toEqual([["room.created", shanghai.id]]);
    expect(await panel.locator("td[data-room-id]").textContent()).toBe("上海分行 审计");

    // A DM, by one of its two people's names, picked with the mouse; named "A & B".
    await field.fill("李丽");
    await rooms.getByRole("option", { name: /Ola & 李丽/ }).click();
    expect(await field.inputValue()).toBe("Ola & 李丽");
    await filter.click();
    await expect.poll(async () => {
      const seen = await rowRooms();
      return seen.length > 0 && seen.every(([, room]) => room === dm.id);
    }, { timeout: 10_000 }).toBe(true);

    // Emptied, the field means any room again: the other rooms' records come back.
    await field.fill("");
    await field.press("Escape");
    await filter.click();
    await expect.poll(async () => (await rowRooms()).some(([, room]) => room === treasury.id), { timeout: 10_000 }).toBe(true);
    expect((await axeViolations(admin.page)).flatMap(formatViolation)).toEqual([]);
    expect([...admin.pageErrors, ...admin.cspViolations]).toEqual([]);
  }, 120_000);

  it("is not offered to someone who is not an admin", async () => {
    const b = await browsers.open(node.url);
    await signIn(b.page, "ola", "a long enough passphrase");
    expect(await b.page.getByTestId("open-audit").count()).toBe(0);
  }, 60_000);

  it("shows each record's date and time to the second, and a detail's moment as a date, in the viewer's language", async () => {
    // An invite's record carries when it expires (ms since 1970): a number no auditor can read.
    const hui = (await rest(node.url, adminToken, "POST", "/users", { username: "hui", displayName: "慧" })) as { id: string };
    const invite = (await rest(node.url, adminToken, "POST", `/users/${encodeURIComponent(hui.id)}/invite`)) as { expiresAt: number };
    // Someone with a Chinese name signs in from a browser: the record carries its long user agent.
    await createUser(node.url, adminToken, { username: "meiling", password: "a long enough passphrase", displayName: "陈美玲" });
    const mei = await browsers.open(node.url);
    await signIn(mei.page, "meiling", "a long enough passphrase");
    const CASES = [
      { locale: "en-US", ui: "en", moment: /^\d{2}\/\d{2}\/\d{4}, \d{2}:\d{2}:\d{2}( [AP]M)?$/ },
      { locale: "zh-CN", ui: "zh-CN", moment: /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/ },
    ] as const;
    for (const c of CASES) {
      const admin = await browsers.open(node.url, { locale: c.locale });
      await signIn(admin.page, "admin", ADMIN_PASSWORD);
      await admin.page.getByTestId("open-audit").click();
      const row = admin.page.getByTestId("audit-panel").locator('tr[data-action="user.invited"]').first();
      await row.waitFor();
      // The record's own time: date and time to the second, not "Dec 1" for an older one.
      expect(await row.locator("td time").textContent(), c.locale).toMatch(c.moment);
      const detail = (await row.locator(".audit-detail").textContent())!;
      expect(detail).not.toContain(String(invite.expiresAt));
      const shown = /^expiresAt: (.+)$/.exec(detail)?.[1];
      expect(shown, detail).toMatch(c.moment);
      // The very moment the node recorded, as the browser itself writes it in that language.
      const expected = await admin.page.evaluate(
        ([ms, ui]) => new Intl.DateTimeFormat(ui, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(ms),
        [invite.expiresAt, c.ui] as const,
      );
      expect(shown).toBe(expected);
      // Her records alone: her name is all the people's columns hold, beside that user agent.
      const panel = admin.page.getByTestId("audit-panel");
      await panel.locator('input[name="auditUser"]').fill("meiling");
      await panel.locator('.audit-filters button[type="submit"]').click();
      await expect.poll(() => panel.locator("table.audit tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-action")).sort())).toEqual(["auth.signin", "user.created"]);
      expect(await namesBrokenOverLines(admin.page), c.locale).toEqual([]);
      expect([...admin.pageErrors, ...admin.cspViolations]).toEqual([]);
    }
  }, 120_000);
});
