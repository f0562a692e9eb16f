/**
 * Every visible string, in English and Simplified Chinese. The language comes
 * from navigator.language (zh* → zh-CN) unless the user picked one; dates and
 * times go through Intl with the same locale.
 */
const en = {
  appName: "Outpost",
  signIn: "Sign in",
  signOut: "Sign out",
  username: "Username",
  password: "Password",
  displayName: "Display name",
  signInFailed: "Wrong username or password.",
  setupTitle: "Set up this Outpost node",
  setupIntro: "Create the administrator account. The setup link works once.",
  setupNoToken: "This setup link has no token. Use the link the node printed when it started.",
  setupDone: "Setup is already done. Sign in instead.",
  createAdmin: "Create administrator",
  passwordHint: "At least 10 characters, not your username and not a common password. A phrase of a few words works well.",
  weakPasswordShort: "This password is too short: use at least 10 characters.",
  weakPasswordUsername: "The password must not be or contain the username.",
  weakPasswordCommon: "This password is too easy to guess: it is one of the most common passwords, or one character repeated. Choose another, for example a phrase of a few words.",
  rooms: "Rooms",
  newRoom: "New room",
  newDm: "New message",
  roomName: "Room name",
  public: "Public",
  private: "Private",
  create: "Create",
  cancel: "Cancel",
  close: "Close",
  searchPeople: "Search people",
  noResults: "No one found",
  noRooms: "No conversations yet. Start one.",
  pickRoom: "Pick a conversation",
  members: "Members",
  invite: "Invite",
  remove: "Remove",
  leave: "Leave room",
  leaveConfirm: "Leave this room?",
  unreadCount: "{n} unread",
  mentionCount: "{n} mentions",
  online: "online",
  away: "away",
  offline: "offline",
  reconnecting: "Reconnecting…",
  offlineBanner: "Offline: messages will be sent when the connection returns.",
  newMessages: "New messages",
  today: "Today",
  yesterday: "Yesterday",
  composerLabel: "Message",
  composerPlaceholder: "Message {room}",
  send: "Send",
  reply: "Reply",
  replyingTo: "Replying to {name}",
  cancelReply: "Cancel reply",
  react: "React",
  edit: "Edit",
  editing: "Editing message",
  save: "Save",
  recall: "Recall",
  recallConfirm: "Recall this message for everyone?",
  recalled: "This message was recalled",
  edited: "edited",
  pending: "Sending…",
  queuedForNode: "Waiting for the {node} node — sent when the link is back",
  nodeUnreachable: "The {node} node can't be reached (since {since}). Its rooms show what arrived before; your messages to them wait and go when the link is back.",
  roomStale: "This room lives on the {node} node, which can't be reached: showing what arrived by {at}.",
  failed: "Not sent",
  typingOne: "{a} is typing…",
  typingTwo: "{a} and {b} are typing…",
  typingMany: "Several people are typing…",
  seenBy: "Seen by {names}",
  loadingOlder: "Loading older messages…",
  beginning: "This is the beginning of the conversation.",
  jumpToOriginal: "Jump to the original message",
  originalUnavailable: "Original message not loaded",
  language: "Language",
  theme: "Theme",
  themeLight: "Light",
  themeDark: "Dark",
  themeSystem: "System",
  settings: "Settings",
  back: "Back to rooms",
  roomList: "Conversations",
  messageList: "Messages",
  messageActions: "Message actions",
  reactionBy: "{emoji} by {names}",
  mentionSuggestions: "People to mention",
  you: "you",
  directMessage: "Direct message",
  unknownUser: "Unknown user",
  error: "Something went wrong: {message}",
  loading: "Loading…",
  roleOwner: "owner",
  roleAdmin: "admin",
  roleMember: "member",
  attach: "Attach files",
  dropFiles: "Drop files to share them here",
  uploadProgress: "Uploading {name}",
  removeFile: "Remove {name}",
  fileTooLarge: "“{name}” is too large for this server.",
  fileTypeNotAllowed: "Files of this type are not allowed here: “{name}” ({type}).",
  uploadFailed: "Could not upload “{name}”: {message}",
  tooManyFiles: "At most {n} files per message.",
  waitForUploads: "Wait until the files are uploaded",
  attachments: "Attachments",
  download: "Download",
  downloadFile: "Download {name} ({size})",
  openImage: "Open image {name}",
  fileCount: "{n} files",
  searchMessages: "Search messages",
  searchResults: "Search results",
  searching: "Searching…",
  noMessagesFound: "No messages found",
  moreResults: "More results",
  clearSearch: "Clear search",
  searchHit: "{sender} in {room}, {time}",
  loadingNewer: "Loading newer messages…",
  // settings, room settings, notifications (issue 15, items 3–5)
  roomSettings: "Room settings",
  topic: "Topic",
  saved: "Saved",
  nameTooLong: "{n}/{limit}: too long, remove {over}",
  renameAdminsOnly: "Only room admins can rename the room.",
  muteRoom: "Mute this room",
  muteRoomHint: "no notifications; unread messages are still counted",
  muted: "muted",
  roleOf: "Role of {name}",
  removeConfirm: "Remove {name} from this room?",
  profile: "Profile",
  preferences: "Preferences",
  sendReceipts: "Send read receipts",
  sendReceiptsHint: "when off, nobody sees how far you have read",
  notifications: "Notifications",
  notifyPrompt: "Get a desktop notification when someone mentions you or sends you a direct message?",
  notifyEnable: "Turn on notifications",
  notNow: "Not now",
  notifyDesktop: "Desktop notifications for mentions and direct messages",
  notifySound: "Play a sound",
  notifyDenied: "Notifications are blocked for this site in the browser's settings.",
  notifyUnsupported: "This browser cannot show notifications.",
  notifyMention: "{sender} mentioned you in {room}",
  changePassword: "Change password",
  currentPassword: "Current password",
  newPassword: "New password",
  passwordChanged: "Password changed. Your other devices have been signed out.",
  passwordOthersSignedOut: "Changing it signs out your other devices.",
  currentPasswordWrong: "The current password is wrong.",
};
export type StringKey = keyof typeof en;

const zh: Record<StringKey, string> = {
  appName: "Outpost",
  signIn: "登录",
  signOut: "退出登录",
  username: "用户名",
  password: "密码",
  displayName: "显示名称",
  signInFailed: "用户名或密码错误。",
  setupTitle: "设置此 Outpost 节点",
  setupIntro: "创建管理员账户。设置链接只能使用一次。",
  setupNoToken: "此设置链接缺少令牌。请使用节点启动时打印的链接。",
  setupDone: "设置已完成，请直接登录。",
  createAdmin: "创建管理员",
  passwordHint: "至少 10 个字符，不能包含用户名，也不能是常见密码。几个词组成的短语就很好。",
  weakPasswordShort: "密码太短：至少需要 10 个字符。",
  weakPasswordUsername: "密码不能是用户名，也不能包含用户名。",
  weakPasswordCommon: "这个密码太容易被猜到：它是最常见的密码之一，或只是同一个字符的重复。请换一个，例如由几个词组成的短语。",
  rooms: "聊天室",
  newRoom: "新建聊天室",
  newDm: "发起私聊",
  roomName: "聊天室名称",
  public: "公开",
  private: "私密",
  create: "创建",
  cancel: "取消",
  close: "关闭",
  searchPeople: "搜索成员",
  noResults: "未找到任何人",
  noRooms: "还没有会话，开始一个吧。",
  pickRoom: "选择一个会话",
  members: "成员",
  invite: "邀请",
  remove: "移除",
  leave: "退出聊天室",
  leaveConfirm: "确定退出此聊天室？",
  unreadCount: "{n} 条未读",
  mentionCount: "{n} 次提及",
  online: "在线",
  away: "离开",
  offline: "离线",
  reconnecting: "正在重新连接…",
  offlineBanner: "已离线：连接恢复后将自动发送消息。",
  newMessages: "新消息",
  today: "今天",
  yesterday: "昨天",
  composerLabel: "消息",
  composerPlaceholder: "发送消息到 {room}",
  send: "发送",
  reply: "回复",
  replyingTo: "回复 {name}",
  cancelReply: "取消回复",
  react: "表情回应",
  edit: "编辑",
  editing: "正在编辑消息",
  save: "保存",
  recall: "撤回",
  recallConfirm: "要为所有人撤回这条消息吗？",
  recalled: "此消息已撤回",
  edited: "已编辑",
  pending: "发送中…",
  queuedForNode: "等待连接{node}节点——链路恢复后发送",
  nodeUnreachable: "无法连接{node}节点（自 {since} 起）。其群聊显示此前收到的内容；你发往这些群聊的消息将在链路恢复后发送。",
  roomStale: "此群聊位于{node}节点，目前无法连接：显示截至 {at} 收到的内容。",
  failed: "发送失败",
  typingOne: "{a} 正在输入…",
  typingTwo: "{a} 和 {b} 正在输入…",
  typingMany: "多人正在输入…",
  seenBy: "{names} 已读",
  loadingOlder: "正在加载更早的消息…",
  beginning: "这是会话的开始。",
  jumpToOriginal: "跳转到原消息",
  originalUnavailable: "原消息未加载",
  language: "语言",
  theme: "主题",
  themeLight: "浅色",
  themeDark: "深色",
  themeSystem: "跟随系统",
  settings: "设置",
  back: "返回会话列表",
  roomList: "会话",
  messageList: "消息",
  messageActions: "消息操作",
  reactionBy: "{names} 回应了 {emoji}",
  mentionSuggestions: "可提及的成员",
  you: "你",
  directMessage: "私聊",
  unknownUser: "未知用户",
  error: "出错了：{message}",
  loading: "加载中…",
  roleOwner: "所有者",
  roleAdmin: "管理员",
  roleMember: "成员",
  attach: "添加附件",
  dropFiles: "将文件拖放到这里即可发送",
  uploadProgress: "正在上传 {name}",
  removeFile: "移除 {name}",
  fileTooLarge: "“{name}”超过了此服务器允许的大小。",
  fileTypeNotAllowed: "此处不允许上传这种类型的文件：“{name}”（{type}）。",
  uploadFailed: "无法上传“{name}”：{message}",
  tooManyFiles: "每条消息最多 {n} 个文件。",
  waitForUploads: "请等待文件上传完成",
  attachments: "附件",
  download: "下载",
  downloadFile: "下载 {name}（{size}）",
  openImage: "打开图片 {name}",
  fileCount: "{n} 个文件",
  searchMessages: "搜索消息",
  searchResults: "搜索结果",
  searching: "正在搜索…",
  noMessagesFound: "没有找到消息",
  moreResults: "更多结果",
  clearSearch: "清除搜索",
  searchHit: "{sender} 在 {room}，{time}",
  loadingNewer: "正在加载更新的消息…",
  // 设置、聊天室设置、通知（issue 15，第 3–5 项）
  roomSettings: "聊天室设置",
  topic: "主题",
  saved: "已保存",
  nameTooLong: "{n}/{limit}：太长了，请删去 {over} 个字",
  renameAdminsOnly: "只有聊天室管理员可以修改名称。",
  muteRoom: "将此聊天室设为免打扰",
  muteRoomHint: "不发通知；未读消息仍会计数",
  muted: "免打扰",
  roleOf: "{name} 的角色",
  removeConfirm: "确定将 {name} 移出此聊天室？",
  profile: "个人资料",
  preferences: "偏好设置",
  sendReceipts: "发送已读回执",
  sendReceiptsHint: "关闭后，别人看不到你读到了哪里",
  notifications: "通知",
  notifyPrompt: "有人提到你或给你发私信时，要显示桌面通知吗？",
  notifyEnable: "开启通知",
  notNow: "以后再说",
  notifyDesktop: "提到我和私信时显示桌面通知",
  notifySound: "播放提示音",
  notifyDenied: "浏览器设置已阻止此网站的通知。",
  notifyUnsupported: "此浏览器无法显示通知。",
  notifyMention: "{sender} 在 {room} 中提到了你",
  changePassword: "修改密码",
  currentPassword: "当前密码",
  newPassword: "新密码",
  passwordChanged: "密码已修改，你的其他设备已退出登录。",
  passwordOthersSignedOut: "修改后，你的其他设备将退出登录。",
  currentPasswordWrong: "当前密码不正确。",
};

export type Locale = "en" | "zh-CN";
export const LOCALES: { id: Locale; label: string }[] = [
  { id: "en", label: "English" },
  { id: "zh-CN", label: "简体中文" },
];
const tables: Record<Locale, Record<StringKey, string>> = { en, "zh-CN": zh };

function initialLocale(): Locale {
  const saved = safeGet("outpost.locale");
  if (saved === "en" || saved === "zh-CN") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export let locale: Locale = initialLocale();

export function setLocale(l: Locale): void {
  locale = l;
  safeSet("outpost.locale", l);
  document.documentElement.lang = l;
}

/** Branch node names people know (the cluster file's names are lower-case ids). */
const NODE_LABELS: Record<string, { en: string; zh: string }> = {
  beijing: { en: "Beijing", zh: "北京" },
  shanghai: { en: "Shanghai", zh: "上海" },
  shenzhen: { en: "Shenzhen", zh: "深圳" },
  guangzhou: { en: "Guangzhou", zh: "广州" },
};

/** A node's name as people say it, in the UI's language (the node's own name when it is not a known city). */
export function nodeLabel(node: string): string {
  const known = NODE_LABELS[node];
  return known ? (locale === "zh-CN" ? known.zh : known.en) : node;
}

/** Translate `key`, filling `{name}` placeholders from `vars`. */
export function t(key: StringKey, vars: Record<string, string | number> = {}): string {
  return tables[locale][key].replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}

export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(ms);
}

export function formatDay(ms: number, now = Date.now()): string {
  const day = (x: number) => new Date(x).toDateString();
  if (day(ms) === day(now)) return t("today");
  if (day(ms) === day(now - 86_400_000)) return t("yesterday");
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric", weekday: "short" }).format(ms);
}

export function formatShort(ms: number, now = Date.now()): string {
  return new Date(ms).toDateString() === new Date(now).toDateString() ? formatTime(ms) : new Intl.DateTimeFormat(locale, { month: "short", day: "numeric" }).format(ms);
}

/** A file size in the user's locale: "820 B", "1.4 MB". */
export function formatSize(bytes: number): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let i = 0;
  let n = bytes;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return new Intl.NumberFormat(locale, { style: "unit", unit: units[i], unitDisplay: "short", maximumFractionDigits: i === 0 ? 0 : 1 }).format(n);
}

export function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
export function safeSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}
