/**
 * The sentence for an error on a form with a password: a `weak_password`
 * says which rule the password broke (as on the setup screen); every other
 * code reads as everywhere else (error-messages.ts).
 */
import { OutpostApiError } from "../../sdk/index";
import { errorText as sentenceFor } from "./error-messages";
import { weakPasswordMessage } from "./Setup";

/** `err` as a sentence for people; `password`/`username` say which rule a `weak_password` broke. */
export function errorText(err: unknown, password = "", username = ""): string {
  if (err instanceof OutpostApiError && err.code === "weak_password") return weakPasswordMessage(password, username);
  return sentenceFor(err);
}
