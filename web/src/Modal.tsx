/** A dialog over the page: Escape, × or a click outside closes it; focus returns to what opened it. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { t } from "./i18n";

/** `wide`: a large panel (people, room directory), the whole screen on a phone (Panel.tsx). */
export function Modal({ title, onClose, children, wide, testId }: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    (ref.current?.querySelector("input, button") as HTMLElement | null)?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => {
      removeEventListener("keydown", onKey);
      prev?.focus();
    };
  }, []);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={wide ? "card modal panel" : "card modal"} role="dialog" aria-modal="true" aria-label={title} ref={ref} data-testid={testId}>
        <header class="modal-head">
          <h2>{title}</h2>
          <button type="button" class="icon" aria-label={t("close")} onClick={onClose}>×</button>
        </header>
        {children}
      </div>
    </div>
  );
}
