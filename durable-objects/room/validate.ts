/** Checks on message text and reactions that do not need the runtime. */
import { AppError } from "../shared/app-error";

const encoder = new TextEncoder();
// NUL and other C0 controls except tab/newline/carriage return, and DEL.
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function checkText(text: string, maxBytes: number): string {
  if (typeof text !== "string") throw new AppError("invalid_request", "text must be a string");
  if (text.trim().length === 0) throw new AppError("invalid_request", "text must not be empty");
  if (FORBIDDEN.test(text)) throw new AppError("invalid_request", "text contains control characters");
  // UTF-8 needs at most 3 bytes per UTF-16 unit: short texts skip the encoding.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && encoder.encode(text).length > maxBytes)) {
    throw new AppError("too_large", `text is longer than ${maxBytes} bytes`);
  }
  // Lone surrogates cannot be stored as UTF-8 faithfully: refuse rather than mangle.
  if (!text.isWellFormed()) throw new AppError("invalid_request", "text is not well-formed Unicode");
  return text;
}

export function checkEmoji(emoji: string): string {
  if (!/^[^\s\u0000-\u001f\u007f]{1,32}$/u.test(emoji) || !emoji.isWellFormed()) {
    throw new AppError("invalid_request", "emoji must be 1-32 visible characters");
  }
  return emoji;
}
