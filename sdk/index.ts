/**
 * The Outpost client SDK: typed REST, the device and room sockets with
 * reconnect and resume, and the ordered offline send queue. See README.md.
 */
export { OutpostClient, type ClientOptions, type LoginResult, type HistoryPage, type PublicRoomsPage, type PublicRoomsParams, type SearchParams, type SearchResult, type UploadOptions, type AccountsParams, type AccountPage, type AuditParams, type AuditPage, type AdminRoomsParams, type AdminRoomPage, type Invite, type InviteInfo } from "./rest";
export { MfaRequiredError, OutpostApiError } from "./errors";
export { backoffDelay, type BackoffOptions } from "./backoff";
export { ReconnectingSocket, parseFrame, type SocketOptions, type SocketState, type WebSocketConstructor, type WebSocketLike } from "./socket";
export { DeviceSocket } from "./device-socket";
export { RoomSocket } from "./room-socket";
export { SendQueue, PermanentSendError, RateLimitedError, newClientId, type QueuedMessage, type QueuedAtNode, type SendAck, type SendTransport, type StorageLike } from "./send-queue";
export { socketOrRestTransport } from "./transport";
export { checkName, cleanName, NAME_LIMITS, type NameCheck, type NameProblem } from "../protocol/names";
export type { Message, Room, Member, User, SessionUser, Session, Receipt, Attachment, SearchHit, PublicRoom, Account } from "../protocol/models";
export type { RoomInfo, NotificationPage, Settings, SocketTicket, QueuedSend, NodeLimits } from "../protocol/responses";
export type { ClusterView, LinkStatus } from "../protocol/cluster-view";
export { lenient } from "../protocol/lenient";
export type { InboxRoom, Notification, Presence } from "../protocol/device";
export type { ServerRoomFrame } from "../protocol/frames";
export type { ServerDeviceFrame } from "../protocol/device";
