// Mounting components for the component tests (files marked `@vitest-environment jsdom`),
// and items for the board's tests. Not imported by the app, so it is never bundled.

import { flushSync, mount, unmount, type Component } from 'svelte';
import type { Item } from './api';

/** A component mounted into the test document. */
export interface Mounted {
  /** The element the component renders into. */
  target: HTMLElement;
  /** Unmounts the component (running its `onDestroy`) and removes the element. */
  destroy: () => void;
}

/** Mounts `component` with `props` into a fresh element and applies the first render. */
// `any` is the bound Svelte itself puts on a component's props.
export function render<Props extends Record<string, any>>(
  component: Component<Props>,
  props: Props,
): Mounted {
  const target = document.createElement('div');
  document.body.append(target);
  const instance = mount(component, { target, props });
  flushSync();
  return {
    target,
    destroy: () => {
      void unmount(instance);
      target.remove();
    },
  };
}

/** The trimmed text of an element, with runs of whitespace as one space. */
export function text(element: Element | null | undefined): string {
  return (element?.textContent ?? '').replace(/\s+/gu, ' ').trim();
}

/** A finished stroke by `p1` of a pen (or highlighter) 4 wide through `samples`, at `order`. */
export const testStroke = (order: number, samples: [number, number][], tool: 'pen' | 'highlighter' = 'pen'): Item => ({
  author: 'p1',
  kind: {
    type: 'stroke',
    tool,
    style: { color: [0, 0, 0, 255], width: 4 },
    samples: samples.map(([x, y], i) => ({ x, y, p: 0.5, t: i * 8 })),
    live: false,
  },
  offset: [0, 0],
  erased: false,
  order,
  touched: order,
});
