/**
 * Accessibility of every main screen, checked by axe-core in real Chromium: in
 * both languages (zh-CN, en-US) and both themes (light, dark), no violation of
 * impact "serious" or "critical" (contrast, names of controls, landmarks, ARIA).
 *
 * A new screen is one line in SCREENS: a name, whether it needs a signed-in
 * person (the node's admin, so admin screens fit too), and how to get there from
 * anywhere in the app. The world it sees is made once in beforeAll (World).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { withNode, type TestNode } from "../fixtures";
import { makeUser, type TestUser } from "../e2e/client";
import { openBrowser, rest, signIn } from "./browser";
import { axeViolations, formatViolation } from "./axe";

/** What the screens can show: rooms with messages from two people, unread and mentions waiting. */
interface World {
  t: TestNode;
  peer: TestUser;
  /** opened by the screens: messages, a mention, a reaction, a link, code */
  project: { id: string };
  /** never opened: its unread and mention badges stay in the room list */
  ops: { id: string };
  dm: { id: string };
}

interface Screen {
  name: string;
  signedIn: boolean;
  open(page: Page, w: World): Promise<void>;
}

const LAST = "Deploy window is Friday 18:00";
const roomUrl = (id: string) => `/r/${encodeURIComponent(id)}`;
/**
 * The project room, from wherever the last screen left the app: its dialogs closed with
 * Escape and the search emptied, as a person would; loaded again only when that does not
 * get there (a page load and axe injected again cost ~0.8 s of each screen).
 */
const openProject = async (page: Page, w: World) => {
  const dialogs = page.getByRole("dialog");
  for (let i = 0; i < 3 && (await dialogs.count()) > 0; i++) {
    await page.keyboard.press("Escape");
    await dialogs.first().waitFor({ state: "detached", timeout: 2000 }).catch(() => {});
  }
  const search = page.locator('input[name="q"]');
  if ((await search.count()) > 0 && (await search.inputValue()) !== "") {
    await search.fill("");
    await page.locator(".hit").first().waitFor({ state: "detached", timeout: 2000 }).catch(() => {});
  }
  const there = decodeURIComponent(new URL(page.url()).pathname) === decodeURIComponent(roomUrl(w.project.id));
  if (there && (await dialogs.count()) === 0 && (await page.locator(".hit").count()) === 0 && (await page.locator("article.msg", { hasText: LAST }).count()) > 0) return;
  await page.goto(roomUrl(w.project.id));
  await page.locator("article.msg", { hasText: LAST }).waitFor();
};

export const SCREENS: Screen[] = [
  { name: "sign-in", signedIn: false, open: async (page) => void (await page.goto("/"), await page.locator('input[name="username"]').waitFor()) },
  { name: "setup", signedIn: false, open: async (page, w) => void (await page.goto(`/setup#token=${w.t.node.setupToken}`), await page.locator('input[name="displayName"]').waitFor()) },
  { name: "room list and open room", signedIn: true, open: openProject },
  { name: "direct message", signedIn: true, open: async (page, w) => void (await page.goto(roomUrl(w.dm.id)), await page.locator("article.msg").first().waitFor()) },
  {
    name: "search results",
    signedIn: true,
    open: async (page, w) => {
      await openProject(page, w);
      await page.locator('input[name="q"]').fill("deploy");
      await page.locator(".hit").first().waitFor();
    },
  },
  { name: "new room dialog", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.locator(".side-actions button").nth(1).click(), await page.locator(".modal").waitFor()) },
  { name: "new DM dialog", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.locator(".side-actions button").nth(0).click(), await page.locator(".modal").waitFor()) },
  { name: "people (admin)", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.getByTestId("open-people").click(), await page.getByTestId("accounts").locator("li").first().waitFor()) },
  { name: "room settings", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.getByTestId("open-room-settings").click(), await page.getByRole("dialog").locator('input[name="topic"]').waitFor()) },
  { name: "retention and legal holds (admin)", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.getByTestId("open-compliance").click(), await page.getByTestId("retention-in-force").waitFor(), await page.getByTestId("place-hold").waitFor()) },
  { name: "room retention (admin)", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.getByTestId("open-room-settings").click(), await page.getByTestId("room-retention-form").locator('input[name="roomRetention"]:checked').waitFor({ state: "attached" })) },
  {
    name: "erase personal data (admin)",
    signedIn: true,
    open: async (page, w) => {
      await openProject(page, w);
      await page.getByTestId("open-people").click();
      await page.locator('li.account[data-username="chenmei"] .account-line button').click();
      await page.getByTestId("erase-account").waitFor();
    },
  },
  { name: "your settings (profile)", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.getByTestId("open-settings").click(), await page.locator('input[name="displayName"]').waitFor()) },
  { name: "browse rooms", signedIn: true, open: async (page, w) => void (await openProject(page, w), await page.getByTestId("browse-rooms").click(), await page.getByTestId("public-rooms").waitFor()) },
];

let w: World;

beforeAll(async () => {
  const t = await withNode();
  const peer = await makeUser(t.node.url, t.admin, "chenmei");
  const project = await t.room(t.admin, "项目组 Project", [peer.id]);
  const ops = await t.room(t.admin, "运维 Ops", [peer.id], "public");
  const dm = await rest(t.node.url, peer.token, "POST", "/dms", { userId: (await rest(t.node.url, t.admin, "GET", "/me")).id as string });
  const send = (token: string, roomId: string, text: string, clientId: string) => rest(t.node.url, token, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text, clientId });
  await send(t.admin, project.id, "早上好，今天的发布计划见 https://example.com/plan", "p1");
  const m = await send(peer.token, project.id, "@admin 看一下 `npm run build` 的结果？ **很重要**", "p2");
  await rest(t.node.url, peer.token, "POST", `/rooms/${encodeURIComponent(project.id)}/messages/${encodeURIComponent(m.id as string)}/reactions`, { emoji: "👍" });
  await send(peer.token, project.id, `> quoted line\n\n${LAST}`, "p3");
  await send(peer.token, ops.id, "磁盘快满了 disk almost full", "o1");
  await send(peer.token, ops.id, "@admin please check the backup", "o2");
  await send(peer.token, dm.id as string, "有空吗？ Free for a call?", "d1");
  w = { t, peer, project, ops, dm: { id: dm.id as string } };
}, 120_000);

afterAll(async () => {
  await w?.t.stop();
});

describe("web client: no serious or critical accessibility problems (axe-core)", () => {
  for (const locale of ["zh-CN", "en-US"]) {
    for (const theme of ["light", "dark"] as const) {
      it(`${locale}, ${theme}`, async () => {
        const b = await openBrowser(w.t.node.url, { locale, colorScheme: theme });
        const found: string[] = [];
        try {
          for (const signedIn of [false, true]) {
            if (signedIn) await signIn(b.page, "admin", w.t.adminPassword);
            for (const screen of SCREENS.filter((s) => s.signedIn === signedIn)) {
              await screen.open(b.page, w);
              for (const v of await axeViolations(b.page)) found.push(...formatViolation(v).map((line) => `${screen.name}: ${line}`));
            }
          }
          expect(found).toEqual([]);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      }, 180_000);
    }
  }
});
