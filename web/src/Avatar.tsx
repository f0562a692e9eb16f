/** A person's round mark in lists: the first letter of the name on the accent colour. */
import type { ComponentChildren } from "preact";

export function Avatar({ name, children }: { userId?: string | null; name: string; children?: ComponentChildren }) {
  return (
    <span class="avatar" aria-hidden="true">
      {[...name][0]?.toUpperCase() ?? "#"}
      {children}
    </span>
  );
}
