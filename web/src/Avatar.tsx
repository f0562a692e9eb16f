/**
 * A person's round mark in lists: their picture when they chose one (from the
 * directory: store.ts `avatarOf`), else — and whenever the picture fails to
 * load — the first letter of the name on the accent colour.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { avatarOf } from "./store";

export function Avatar({ userId, name, children }: { userId?: string | null; name: string; children?: ComponentChildren }) {
  const src = userId ? avatarOf(userId) : null;
  const [failed, setFailed] = useState<string | null>(null);
  return (
    // The letter is drawn by CSS (data-letter), not as text: a row's text stays the name alone
    // ("陈梅 @chen", not "陈陈梅 @chen") for copy, find-in-page and anything reading it.
    <span class="avatar" aria-hidden="true" data-letter={src && failed !== src ? undefined : ([...name][0]?.toUpperCase() ?? "#")}>
      {src && failed !== src && <img src={src} alt="" data-testid="avatar-img" onError={() => setFailed(src)} />}
      {children}
    </span>
  );
}
