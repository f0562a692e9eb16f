/**
 * Mentions in message text: `@username` for a member, `@all` for everyone.
 *
 * Only members of the room can be mentioned (a mention of a stranger is plain
 * text, so it cannot be used to find out who exists). A mention must start at
 * the beginning or after a non-word character, so `mail@alice` is not one.
 *
 * @example
 *   parseMentions("hi @bob and @all", new Map([["bob", "u_…@local"]]))
 *   // { users: ["u_…@local"], all: true }
 */
import type { Mentions } from "../../protocol/models";

const MENTION_RE = /(^|[^\p{L}\p{N}_.@-])@([a-z0-9][a-z0-9._-]{0,31})/giu;

export function parseMentions(text: string, usernames: ReadonlyMap<string, string>): Mentions {
  const users = new Set<string>();
  let all = false;
  for (const m of text.matchAll(MENTION_RE)) {
    // Trailing dots are punctuation ("thanks @bob."), not part of the name.
    const name = m[2].toLowerCase().replace(/\.+$/, "");
    if (name === "all" || name === "everyone" || name === "here") {
      all = true;
      continue;
    }
    const id = usernames.get(name);
    if (id) users.add(id);
  }
  return { users: [...users].sort(), all };
}
