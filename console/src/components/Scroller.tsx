/**
 * A frame that scrolls sideways when its content (a wide table on a phone) does not fit. A region
 * that scrolls must be reachable from the keyboard (WCAG 2.1.1; axe's scrollable-region-focusable),
 * so it is focusable, and named so a screen reader says what it holds.
 */
import type { ReactNode } from "react";

export function Scroller(props: { label: string; className?: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to be scrolled from the keyboard
    <section className={props.className ?? "table-wrap"} tabIndex={0} aria-label={props.label}>
      {props.children}
    </section>
  );
}
