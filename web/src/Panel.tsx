/**
 * A large dialog for screens opened from the sidebar (people, room directory):
 * centred on a desktop, the whole screen on a phone. Escape or × closes it and
 * focus returns to what opened it.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { t } from "./i18n";

export function Panel({ title, onClose, children, testId }: { title: string; onClose: () => void; children: ComponentChildren; testId?: string }) {
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
      <div class="card modal panel" role="dialog" aria-modal="true" aria-label={title} ref={ref} data-testid={testId}>
        <header class="modal-head">
          <h2>{title}</h2>
          <button type="button" class="icon" aria-label={t("close")} onClick={onClose}>×</button>
        </header>
        {children}
      </div>
    </div>
  );
}
