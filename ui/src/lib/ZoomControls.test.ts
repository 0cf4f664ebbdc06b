// @vitest-environment jsdom
// The zoom buttons: the level shows as a percentage, each button is off where it would do
// nothing, and the clicks reach the parent.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import { setLanguage } from './i18n.svelte';
import { render, text, type Mounted } from './testing';
import ZoomControls from './ZoomControls.svelte';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  setLanguage('en');
});

function mountAt(zoom: number) {
  const onstep = vi.fn();
  const onfit = vi.fn();
  mounted = render(ZoomControls, {
    zoom,
    label: 'Whiteboard view',
    fitLabel: (percent: number) => `${percent} %: whole page`,
    testid: 'board',
    onstep,
    onfit,
  });
  const button = (id: string) => mounted!.target.querySelector<HTMLButtonElement>(`[data-testid=board-zoom-${id}]`)!;
  return { onstep, onfit, button };
}

describe('the zoom buttons', () => {
  it('at the whole page: only + does something', () => {
    const { button, onstep } = mountAt(1);
    expect(text(button('fit'))).toBe('100 %');
    expect(button('out').disabled).toBe(true);
    expect(button('fit').disabled).toBe(true);
    expect(button('in').disabled).toBe(false);
    button('in').click();
    flushSync();
    expect(onstep).toHaveBeenCalledWith(1);
    expect(mounted!.target.querySelector('[role=group]')?.getAttribute('aria-label')).toBe('Whiteboard view');
  });

  it('zoomed: out and the level work, the level is named for what it does', () => {
    const { button, onstep, onfit } = mountAt(1.5625);
    expect(text(button('fit'))).toBe('156 %');
    expect(button('fit').getAttribute('aria-label')).toBe('156 %: whole page');
    button('out').click();
    button('fit').click();
    flushSync();
    expect(onstep).toHaveBeenCalledWith(-1);
    expect(onfit).toHaveBeenCalledTimes(1);
  });

  it('at the limit: + is off, and the words follow the language', () => {
    setLanguage('zh-CN');
    const { button } = mountAt(8);
    expect(button('in').disabled).toBe(true);
    expect(button('in').getAttribute('aria-label')).toBe('放大（+）');
  });
});
