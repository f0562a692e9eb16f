/**
 * The room's inbox-activity policy without the runtime: who is held back
 * (away-members.ts), how the interval follows the load and what becomes a
 * notification (inbox-activity.ts), and the alarm rule every room module
 * schedules through (room-state.ts). The same behaviour end to end, through
 * real room objects, is in test/workers/inbox-smoke.test.ts and
 * test/e2e/live.test.ts.
 */
import { describe, expect, it } from "vitest";
import { AwayMembers } from "../../durable-objects/room/away-members";
import { ACTIVITY_INTERVAL_MAX_MS, ACTIVITY_INTERVAL_MS, nextInterval, notificationsFor } from "../../durable-objects/room/inbox-activity";
import { RoomState } from "../../durable-objects/room/room-state";
import { AWAY_SUMMARY_INTERVAL_MS } from "../../durable-objects/user/inbox-update";
import type { RoomMeta } from "../../durable-objects/room/store/meta";

function away() {
  const alarms: number[] = [];
  return { members: new AwayMembers((at) => alarms.push(at)), alarms };
}

describe("away members (held-back summaries)", () => {
  it("holds back a plain summary only within the interval after an inbox said nobody looks, and sets the alarm for its end", () => {
    const { members, alarms } = away();
    expect(members.holdBackIfAway("u1", 1000)).toBe(false); // never heard "not looking"
    members.delivered("u1", { live: false }, 1000);
    expect(members.holdBackIfAway("u1", 1000 + AWAY_SUMMARY_INTERVAL_MS - 1)).toBe(true);
    expect(alarms).toEqual([1000 + AWAY_SUMMARY_INTERVAL_MS]);
    expect(members.anyOwed).toBe(true);
    expect(members.holdBackIfAway("u1", 1000 + AWAY_SUMMARY_INTERVAL_MS)).toBe(false); // the interval has passed
    members.delivered("u1", { live: true }, 2000);
    expect(members.holdBackIfAway("u1", 2001)).toBe(false); // someone looks now
    expect(members.anyOwed).toBe(false);
  });

  it("an inbox that gives no answer counts as looking; a fresh summary asked for clears what was owed", () => {
    const { members } = away();
    members.delivered("u1", undefined, 0);
    expect(members.holdBackIfAway("u1", 1)).toBe(false);
    members.delivered("u2", { live: false }, 0);
    expect(members.holdBackIfAway("u2", 1)).toBe(true);
    members.looking("u2");
    expect(members.anyOwed).toBe(false);
    expect(members.holdBackIfAway("u2", 2)).toBe(false);
  });

  it("the alarm delivers those whose interval passed, holds the rest again, and forgets members who left", () => {
    const { members, alarms } = away();
    members.delivered("early", { live: false }, 0);
    members.delivered("late", { live: false }, 10_000);
    members.delivered("gone", { live: false }, 0);
    for (const u of ["early", "late", "gone"]) members.holdBackIfAway(u, 20_000);
    alarms.length = 0;
    const due = members.dueNow((u) => u !== "gone", AWAY_SUMMARY_INTERVAL_MS);
    expect(due).toEqual(["early"]);
    expect(alarms).toEqual([10_000 + AWAY_SUMMARY_INTERVAL_MS]); // "late" is held again until its own end
    // "early" stays owed until its delivery succeeds.
    expect(members.changedList()?.sort()).toEqual(["early", "late"]);
    members.delivered("early", { live: true }, AWAY_SUMMARY_INTERVAL_MS);
    expect(members.changedList()).toEqual(["late"]);
  });

  it("writes the owed list only when it changed from what is stored: an empty one once, then never again", () => {
    const { members, alarms } = away();
    expect(members.changedList()).toBeNull(); // nothing stored, nothing owed
    members.restore(["u1"], 5);
    expect(alarms).toEqual([5 + AWAY_SUMMARY_INTERVAL_MS]); // owed from before the wake: the alarm delivers
    members.delivered("u1", { live: true }, 6);
    expect(members.changedList()).toEqual([]);
    expect(members.changedList()).toBeNull();
  });
});

describe("activity interval", () => {
  it("a quiet room or a short burst goes back to the shortest interval", () => {
    expect(nextInterval(ACTIVITY_INTERVAL_MAX_MS, 0)).toBe(ACTIVITY_INTERVAL_MS);
    expect(nextInterval(ACTIVITY_INTERVAL_MS, 5)).toBe(ACTIVITY_INTERVAL_MS);
  });

  it("a busy room doubles it up to the longest; a flooded one goes to the longest at once", () => {
    expect(nextInterval(ACTIVITY_INTERVAL_MS * 2, 6)).toBe(ACTIVITY_INTERVAL_MS * 4); // 3 msg/s: busy, not flooded
    expect(nextInterval(4000, 20)).toBe(ACTIVITY_INTERVAL_MAX_MS);
    expect(nextInterval(ACTIVITY_INTERVAL_MS, 8)).toBe(ACTIVITY_INTERVAL_MAX_MS); // 8 msg/s
  });
});

describe("notifications", () => {
  const group: RoomMeta = { id: "r_1@local", name: "g", topic: "", kind: "group", visibility: "public", createdAt: 0, createdBy: "a" };
  const dm: RoomMeta = { ...group, kind: "dm", name: "" };
  const row = (seq: number, senderId: string, text = `m${seq}`, deletedAt: number | null = null) => ({ seq, id: `m${seq}`, senderId, text, createdAt: seq, deletedAt });

  it("mentions of the member or @all, unread, not their own, not recalled; every message in a DM", () => {
    const rows = [row(1, "b"), row(2, "b"), row(3, "me"), row(4, "b", "x", 9), row(5, "b"), row(6, "b")];
    const mentions = new Map([[2, ["me"]], [3, ["me"]], [4, ["me"]], [5, ["*"]], [6, ["other"]]]);
    expect(notificationsFor(group, "me", 1, rows, mentions).map((n) => [n.kind, n.seq])).toEqual([["mention", 2], ["mention", 5]]);
    expect(notificationsFor(group, "me", 2, rows, mentions).map((n) => n.seq)).toEqual([5]);
    expect(notificationsFor(dm, "me", 0, rows, new Map()).map((n) => [n.kind, n.seq])).toEqual([["dm", 1], ["dm", 2], ["dm", 5], ["dm", 6]]);
  });

  it("a preview is the first 140 characters, and one summary carries at most 20", () => {
    const rows = Array.from({ length: 30 }, (_, i) => row(i + 1, "b", "x".repeat(500)));
    const notes = notificationsFor(dm, "me", 0, rows, new Map());
    expect(notes).toHaveLength(20);
    expect(notes[0].preview).toHaveLength(140);
  });
});

describe("the room's alarm", () => {
  it("is only ever moved earlier while set, and set anew once it fired", () => {
    const set: number[] = [];
    const state = new RoomState((at) => set.push(at));
    state.alarmIsAt(5000);
    state.setAlarmBy(6000);
    state.setAlarmBy(4000);
    state.setAlarmBy(4500);
    expect(set).toEqual([4000]);
    state.alarmFired();
    state.setAlarmBy(9000);
    expect(set).toEqual([4000, 9000]);
  });
});
