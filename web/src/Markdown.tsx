/** Turns the parsed markdown tree into VNodes. Only text nodes and vetted hrefs: never innerHTML. */
import type { JSX } from "preact";
import { parseMarkdown, type Block, type Inline } from "./markdown";
import { displayNameOf } from "./store";

function inline(nodes: Inline[], me: string | null): JSX.Element[] {
  return nodes.map((n, k) => {
    switch (n.t) {
      case "text":
        return <>{n.v}</>;
      case "br":
        return <br key={k} />;
      case "b":
        return <strong key={k}>{inline(n.c, me)}</strong>;
      case "i":
        return <em key={k}>{inline(n.c, me)}</em>;
      case "s":
        return <del key={k}>{inline(n.c, me)}</del>;
      case "code":
        return <code key={k}>{n.v}</code>;
      case "a":
        return (
          <a key={k} href={n.href} target="_blank" rel="noopener noreferrer nofollow">
            {inline(n.c, me)}
          </a>
        );
      case "mention":
      {
        // People are named by their display name (@陈梅); the username stays in the tooltip.
        const name = n.v === "all" ? undefined : displayNameOf(n.v);
        return (
          <span key={k} class={n.v === me || n.v === "all" ? "mention mention-me" : "mention"} title={`@${n.v}`} data-username={n.v}>
            @{name ?? n.v}
          </span>
        );
      }
    }
  });
}

function block(b: Block, k: number, me: string | null): JSX.Element {
  switch (b.t) {
    case "p":
      return <p key={k}>{inline(b.c, me)}</p>;
    case "pre":
      return (
        <pre key={k}>
          <code>{b.v}</code>
        </pre>
      );
    case "quote":
      return <blockquote key={k}>{b.c.map((x, j) => block(x, j, me))}</blockquote>;
    case "ul":
      return <ul key={k}>{b.items.map((it, j) => <li key={j}>{inline(it, me)}</li>)}</ul>;
    case "ol":
      return <ol key={k}>{b.items.map((it, j) => <li key={j}>{inline(it, me)}</li>)}</ol>;
  }
}

/** `me` is the viewer's username, so mentions of them stand out. */
export function Markdown({ text, me }: { text: string; me: string | null }) {
  return <div class="md" dir="auto">{parseMarkdown(text).map((b, k) => block(b, k, me))}</div>;
}
