/**
 * A large dialog for screens opened from the sidebar (people, room directory):
 * centred on a desktop, the whole screen on a phone. Escape or × closes it and
 * focus returns to what opened it.
 */
import type { ComponentChildren } from "preact";
import { Modal } from "./Modal";

export function Panel({ title, onClose, children, testId }: { title: string; onClose: () => void; children: ComponentChildren; testId?: string }) {
  return (
    <Modal title={title} onClose={onClose} wide testId={testId}>
      {children}
    </Modal>
  );
}
