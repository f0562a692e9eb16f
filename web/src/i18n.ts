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
  you: "You",
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
  // people administration, invite links and room discovery (issue 15, items 1–2)
  people: "People",
  peopleTitle: "People on this node",
  searchAccounts: "Search by name or username",
  addPerson: "Add person",
  newPerson: "New person",
  adminBadge: "Admin",
  deactivatedBadge: "Deactivated",
  invitedBadge: "Invited",
  manage: "Manage",
  makeAdmin: "Make admin",
  removeAdmin: "Remove admin",
  deactivate: "Deactivate",
  reactivate: "Reactivate",
  deactivateConfirm: "Deactivate {name}? They are signed out everywhere at once and cannot sign in until reactivated.",
  resetPassword: "Reset password",
  newPassword: "New password",
  passwordReset: "Password changed. {name} was signed out everywhere.",
  inviteLink: "Invite link",
  newInviteLink: "New invite link",
  inviteLinkHint: "Send this link to {name}. It works once, until {date}. Anyone with the link can set the password.",
  copyLink: "Copy link",
  copied: "Copied",
  setPasswordNow: "Set a password now",
  sendInviteLink: "Create an invite link",
  makeAdminOnCreate: "Administrator",
  sessions: "Sessions",
  noSessions: "Not signed in anywhere.",
  sessionLine: "{agent} · since {since} · last used {used}",
  endSession: "End session",
  endAllSessions: "Sign out everywhere",
  moreAccounts: "More",
  noAccounts: "No one found",
  personCreated: "{name} was added.",
  inviteTitle: "Welcome to Outpost",
  inviteGreeting: "Hello {name}! Your username is {username}. Choose a password to sign in.",
  choosePassword: "Choose password and sign in",
  goToSignIn: "Go to sign in",
  signedOutByServer: "You were signed out: your session was ended or your account deactivated.",
  browseRooms: "Browse rooms",
  searchPublicRooms: "Search public rooms",
  memberCountN: "{n} members",
  join: "Join",
  open: "Open",
  joined: "Joined",
  noPublicRooms: "No public rooms found",
  moreRooms: "More rooms",
  // chat (issue 15, W4): new-messages button, failed sends, navigation, phone menu, validation
  newMessagesBelow: "New messages ↓",
  newMessagesCount: "{n} new messages ↓",
  jumpToLatest: "Jump to latest",
  retry: "Retry",
  discard: "Discard",
  failedBecause: "Not sent: {reason}",
  tooLongWarning: "Too long to send: {used} of {max} bytes. Shorten it, or send it as a file.",
  nearLimit: "{used} of {max} bytes",
  linkCopied: "Link copied",
  moreActions: "More actions",
  messageNotFound: "That message was not found, or you may not see it.",
  fieldInvalid: "Check this field: {reason}",
  roomNameEmpty: "The room needs a name.",
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
  // people administration, invite links and room discovery (issue 15, items 1–2)
  people: "成员管理",
  peopleTitle: "本节点的用户",
  searchAccounts: "按姓名或用户名搜索",
  addPerson: "添加用户",
  newPerson: "新用户",
  adminBadge: "管理员",
  deactivatedBadge: "已停用",
  invitedBadge: "已邀请",
  manage: "管理",
  makeAdmin: "设为管理员",
  removeAdmin: "取消管理员",
  deactivate: "停用",
  reactivate: "重新启用",
  deactivateConfirm: "确定停用 {name}？其所有设备将立即退出登录，重新启用前无法登录。",
  resetPassword: "重置密码",
  newPassword: "新密码",
  passwordReset: "密码已更改，{name} 已在所有设备上退出登录。",
  inviteLink: "邀请链接",
  newInviteLink: "生成新的邀请链接",
  inviteLinkHint: "请把此链接发给 {name}。链接只能使用一次，有效期至 {date}。任何拿到链接的人都可以设置密码。",
  copyLink: "复制链接",
  copied: "已复制",
  setPasswordNow: "现在设置密码",
  sendInviteLink: "生成邀请链接",
  makeAdminOnCreate: "管理员",
  sessions: "登录会话",
  noSessions: "未在任何设备上登录。",
  sessionLine: "{agent} · 自 {since} · 最近使用 {used}",
  endSession: "结束会话",
  endAllSessions: "全部退出登录",
  moreAccounts: "更多",
  noAccounts: "未找到任何人",
  personCreated: "已添加 {name}。",
  inviteTitle: "欢迎使用 Outpost",
  inviteGreeting: "{name}，你好！你的用户名是 {username}。请设置密码后登录。",
  choosePassword: "设置密码并登录",
  goToSignIn: "前往登录",
  signedOutByServer: "你已退出登录：会话已被结束，或账户已被停用。",
  browseRooms: "浏览聊天室",
  searchPublicRooms: "搜索公开聊天室",
  memberCountN: "{n} 位成员",
  join: "加入",
  open: "打开",
  joined: "已加入",
  noPublicRooms: "没有找到公开聊天室",
  moreRooms: "更多聊天室",
  // chat (issue 15, W4): new-messages button, failed sends, navigation, phone menu, validation
  newMessagesBelow: "有新消息 ↓",
  newMessagesCount: "{n} 条新消息 ↓",
  jumpToLatest: "回到最新",
  retry: "重试",
  discard: "放弃",
  failedBecause: "发送失败：{reason}",
  tooLongWarning: "内容太长，无法发送：{used} / {max} 字节。请删减，或作为文件发送。",
  nearLimit: "{used} / {max} 字节",
  linkCopied: "链接已复制",
  moreActions: "更多操作",
  messageNotFound: "未找到该消息，或你无权查看。",
  fieldInvalid: "请检查此项：{reason}",
  roomNameEmpty: "聊天室需要一个名称。",
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
  if (typeof navigator === "undefined") return "en"; // Node (unit tests)
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export let locale: Locale = initialLocale();

export function setLocale(l: Locale): void {
  locale = l;
  safeSet("outpost.locale", l);
  if (typeof document !== "undefined") document.documentElement.lang = l;
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
  // Intl's short "byte" unit reads "599 byte" in English: bytes are written "599 B" by hand.
  if (bytes < 1024) return `${new Intl.NumberFormat(locale).format(bytes)} B`;
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
