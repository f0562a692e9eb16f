/**
 * What the people and invite screens say for the server's error codes, in the
 * UI's language (the node's own messages are English). A code not listed here
 * falls back to the node's message.
 */
import { OutpostApiError } from "../../sdk/index";
import { t, type StringKey } from "./i18n";
import { weakPasswordMessage } from "./Setup";

const BY_CODE: Partial<Record<string, StringKey>> = {
  username_taken: "usernameTaken",
  last_admin: "lastAdmin",
  invite_invalid: "inviteInvalid",
  invite_used: "inviteUsed",
  invite_expired: "inviteExpired",
};

/** `err` as a sentence for people; `password`/`username` say which rule a `weak_password` broke. */
export function errorText(err: unknown, password = "", username = ""): string {
  if (err instanceof OutpostApiError) {
    if (err.code === "weak_password") return weakPasswordMessage(password, username);
    const key = BY_CODE[err.code];
    if (key) return t(key);
  }
  return t("error", { message: (err as Error).message });
}
