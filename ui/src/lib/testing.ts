// Mounting components for the component tests (files marked `@vitest-environment jsdom`). Not
// imported by the app, so it is never bundled.

import { flushSync, mount, unmount, type Component } from 'svelte';

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
