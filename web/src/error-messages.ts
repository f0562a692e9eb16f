/**
 * What a person reads for each error code the node can answer with
 * (protocol/errors.ts), in both languages: never the node's English `message`,
 * which is for operators and logs. test/web/error-messages.test.ts fails when
 * a code has no sentence here. Codes a newer node adds fall back to the HTTP
 * status's meaning, then to a generic sentence.
 */
import type { ErrorCode } from "../../protocol/errors";
import { locale } from "./i18n";

type Table = Record<ErrorCode | "network", string>;

export const ERROR_MESSAGES_EN: Table = {
  bad_json: "The app sent something the server could not read. Reload the page and try again.",
  invalid_request: "Some of what you entered is not valid.",
  weak_password: "This password is too weak.",
  unauthorized: "You are signed out. Sign in again.",
  setup_token_invalid: "This setup link is not valid (any more).",
  forbidden: "You are not allowed to do that here.",
  not_found: "Not found, or you no longer have access.",
  conflict: "That clashes with something that already exists.",
  username_taken: "This username is already taken.",
  setup_done: "Setup is already done. Sign in instead.",
  recall_window_passed: "It is too late to recall this message.",
  too_large: "Too large for this server.",
  unsupported_media_type: "The server does not accept this kind of content.",
  rate_limited: "Too many at once. Wait a moment and try again.",
  internal: "The server had a problem. Try again later.",
  room_unavailable: "This room's data is damaged. An administrator must restore it.",
  storage_error: "The server could not save this right now. Nothing was stored; try again.",
  room_unreachable: "This room's home server cannot be reached right now.",
  last_admin: "This is the last active administrator. Make someone else an administrator first.",
  invite_invalid: "This invite link is not valid. It may be mistyped or replaced by a newer one: ask your administrator for a new link.",
  invite_used: "This invite link was already used. Sign in, or ask your administrator for a new link.",
  invite_expired: "This invite link has expired. Ask your administrator for a new one.",
  network: "The server cannot be reached. Check your connection.",
};

export const ERROR_MESSAGES_ZH: Table = {
  bad_json: "应用发送的内容服务器无法读取。请刷新页面后重试。",
  invalid_request: "输入的内容有误。",
  weak_password: "密码强度不够。",
  unauthorized: "你已退出登录，请重新登录。",
  setup_token_invalid: "此设置链接无效或已失效。",
  forbidden: "你无权在这里执行此操作。",
  not_found: "未找到，或你已无权访问。",
  conflict: "与已有的内容冲突。",
  username_taken: "该用户名已被占用。",
  setup_done: "设置已完成，请直接登录。",
  recall_window_passed: "已超过可撤回的时间。",
  too_large: "超过了此服务器允许的大小。",
  unsupported_media_type: "服务器不接受这种类型的内容。",
  rate_limited: "操作过于频繁，请稍后再试。",
  internal: "服务器出现问题，请稍后再试。",
  room_unavailable: "此聊天室的数据已损坏，需要管理员恢复。",
  storage_error: "服务器暂时无法保存，未存储任何内容，请重试。",
  room_unreachable: "暂时无法连接此聊天室所在的服务器。",
  last_admin: "这是最后一位有效的管理员。请先把其他人设为管理员。",
  invite_invalid: "此邀请链接无效：可能输入有误，或已被新链接取代。请向管理员索取新链接。",
  invite_used: "此邀请链接已被使用。请直接登录，或向管理员索取新链接。",
  invite_expired: "此邀请链接已过期。请向管理员索取新链接。",
  network: "无法连接服务器，请检查网络连接。",
};

const BY_STATUS: Record<number, keyof Table> = { 400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "storage_error" };

/** The sentence for an error (an OutpostApiError, a refused send), in the UI's language. */
export function errorText(err: unknown): string {
  const table = locale === "zh-CN" ? ERROR_MESSAGES_ZH : ERROR_MESSAGES_EN;
  const e = err as { code?: unknown; status?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (code in table) return table[code as keyof Table];
  const byStatus = typeof e?.status === "number" ? BY_STATUS[e.status] : undefined;
  if (byStatus) return table[byStatus];
  return table.internal;
}
