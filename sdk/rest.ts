/**
 * OutpostClient: typed REST calls to an Outpost node. Request bodies are the
 * shared protocol types; every answer is parsed with its schema from protocol/
 * (the one the node answers with), leniently: fields this SDK does not know
 * are dropped, so a newer node that adds one keeps working with it, while a
 * node that sends something this SDK cannot use fails loudly here, not deep
 * in a UI.
 *
 * Auth: in the browser, leave `token` unset: the HttpOnly session cookie rides
 * along (`credentials: "same-origin"`). Elsewhere, pass the bearer token that
 * `login()` returns.
 *
 * Device token: every sign-in answers with a `deviceToken`, which the client
 * keeps (`client.deviceToken`) and sends back as `X-Outpost-Device` on its next
 * `login()`. While someone else is guessing the account's password, the node
 * refuses sign-ins for it (429) — except from devices that signed in before.
 * A bot that restarts should save `deviceToken` and pass it to the next client
 * (`new OutpostClient({ deviceToken })`). Browsers also get it as an HttpOnly
 * cookie.
 *
 * The calls are split by resource: rest-session.ts (sign-in), rest-people.ts
 * (people, my account), rest-admin.ts (accounts administration),
 * rest-rooms.ts, rest-messages.ts (messages, files, search), on the base in
 * rest-base.ts (`request`); this file adds the node's own facts and is the
 * client's name. Retention, legal holds and erasure are compliance.ts.
 *
 * @example
 *   const api = new OutpostClient({ baseUrl: "https://chat.example.org" });
 *   const { token } = await api.login("bot", "secret");
 *   api.token = token;
 *   const { rooms } = await api.myRooms();
 */
import type { AuditPage } from "../protocol/audit";
import type { AdminRoomPage } from "../protocol/admin-rooms";
import { ClusterViewSchema, type ClusterView } from "../protocol/cluster-view";
import { NodeLimitsSchema, type AccountPage, type HistoryPage, type Invite, type InviteInfo, type NodeLimits, type PublicRoomsPage } from "../protocol/responses";
import { MessageCalls } from "./rest-messages";
import type { UploadOptions } from "./upload";

export type { ClientOptions, LoginResult } from "./rest-base";
export type { AccountsParams, AdminRoomsParams, AuditParams } from "./rest-admin";
export type { PublicRoomsParams } from "./rest-rooms";
export type { SearchParams, SearchResult } from "./rest-messages";
export type { HistoryPage, PublicRoomsPage };
export type { AuditPage, AdminRoomPage };
export type { AccountPage, Invite, InviteInfo };

export type { UploadOptions };

export class OutpostClient extends MessageCalls {
  /** The node's limits a client checks before sending (longest text in UTF-8 bytes, largest file). */
  limits(): Promise<NodeLimits> {
    return this.request("GET", "/limits", undefined, NodeLimitsSchema);
  }
  /** Every node of the organisation with this node's link to it (up, down since when, messages waiting). */
  cluster(): Promise<ClusterView> {
    return this.request("GET", "/cluster", undefined, ClusterViewSchema);
  }
}
