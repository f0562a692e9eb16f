/**
 * Telling the person something happened while they were not looking: the
 * unread total in the tab title, desktop notifications for mentions and DMs
 * while the tab is hidden, and an optional sound.
 *
 * The node decides what is worth a notification (mentions and DMs, none from
 * muted rooms: durable-objects/user/inbox-store.ts); this module only decides
 * whether to show it *here*: the tab must be hidden (someone looking at the
 * tab already sees the message), the browser must have granted permission,
 * and the person must not have switched desktop notifications off.
 *
 * These switches are kept in this browser (localStorage), not with the
 * account: the browser's permission is per browser anyway, and a person who
 * wants a ping on the office desktop may not want one on a shared laptop.
 */
import type { Notification as InboxNotification } from "../../sdk/index";
import { safeGet, safeSet, t } from "./i18n";
import { lookupUser, nameOf, roomTitle, state } from "./store";
import { openRoom } from "./room-view";

const KEY_ENABLED = "outpost.notify";
const KEY_SOUND = "outpost.notifySound";
const KEY_PROMPTED = "outpost.notifyPrompted";

const supported = () => typeof window !== "undefined" && "Notification" in window;

/** The browser's permission: "unsupported" where there is no Notification API (some phones). */
export function permission(): NotificationPermission | "unsupported" {
  return supported() ? Notification.permission : "unsupported";
}

/** Desktop notifications are on: permitted by the browser and not switched off here. */
export function notificationsOn(): boolean {
  return permission() === "granted" && safeGet(KEY_ENABLED) !== "off";
}

export function soundOn(): boolean {
  return safeGet(KEY_SOUND) === "on";
}

export function setSound(on: boolean): void {
  safeSet(KEY_SOUND, on ? "on" : "off");
}

export function setNotifications(on: boolean): void {
  safeSet(KEY_ENABLED, on ? "on" : "off");
}

/**
 * Ask the browser for permission. Only ever called from a click (browsers
 * ignore or penalise prompts nobody asked for), and the prompt bar is shown
 * once: answered or dismissed, it does not come back.
 */
export async function askPermission(): Promise<NotificationPermission | "unsupported"> {
  safeSet(KEY_PROMPTED, "1");
  if (!supported()) return "unsupported";
  const answer = await Notification.requestPermission();
  if (answer === "granted") setNotifications(true);
  return answer;
}

/** Show the one-time "turn on notifications?" bar: the browser has not been asked, and the bar was not dismissed. */
export function shouldPrompt(): boolean {
  return permission() === "default" && safeGet(KEY_PROMPTED) !== "1";
}

export function dismissPrompt(): void {
  safeSet(KEY_PROMPTED, "1");
}

/** Unread messages in rooms that are not muted: the number in the tab title. */
export function unreadTotal(): number {
  let n = 0;
  for (const r of state.device?.rooms.values() ?? []) if (!r.muted) n += r.unread;
  return n;
}

/** "(3) Outpost", or "Outpost" with nothing unread. Cheap: called on every render of the shell. */
export function updateTitle(): void {
  const n = unreadTotal();
  const title = n > 0 ? `(${n > 999 ? "999+" : n}) ${t("appName")}` : t("appName");
  if (document.title !== title) document.title = title;
}

/** A desktop notification for one mention or DM, when nobody is looking at the tab. */
export async function onInboxNotification(n: InboxNotification): Promise<void> {
  if (!document.hidden) return;
  // A sender this client has not met yet (a first DM): their name, not their id.
  if (!state.users.has(n.senderId)) await lookupUser(n.senderId);
  const room = state.device?.rooms.get(n.roomId);
  // The node makes none for muted rooms; a device that muted a moment ago may still get one in flight.
  if (room?.muted) return;
  if (soundOn()) beep();
  if (!notificationsOn()) return;
  const sender = nameOf(n.senderId);
  const title = n.kind === "dm" ? sender : t("notifyMention", { sender, room: room ? roomTitle(room) : "" });
  try {
    // One notification per room: a burst replaces rather than stacks.
    const shown = new Notification(title, { body: n.preview || "📎", tag: n.roomId, lang: document.documentElement.lang });
    shown.onclick = () => {
      window.focus();
      openRoom(n.roomId);
      shown.close();
    };
  } catch {
    // Chrome on Android allows notifications only from a service worker: the title and sound still tell.
  }
}

let audio: AudioContext | null = null;
/** A short soft tone (generated: no sound file to download). */
function beep(): void {
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch {
    // no audio output: nothing to do
  }
}
