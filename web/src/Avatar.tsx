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
    <span class="avatar" aria-hidden="true">
      {src && failed !== src ? <img src={src} alt="" data-testid="avatar-img" onError={() => setFailed(src)} /> : ([...name][0]?.toUpperCase() ?? "#")}
      {children}
    </span>
  );
}
