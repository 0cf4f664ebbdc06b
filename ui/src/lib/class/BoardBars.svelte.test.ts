// @vitest-environment jsdom
// The whiteboard's toolbar and page bar: what each shows to staff and to a student, and that
// their clicks reach the board.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import type { BoardTool } from '../board';
import { setLanguage } from '../i18n.svelte';
import { render, text, type Mounted } from '../testing';
import BoardPages from './BoardPages.svelte';
import BoardToolbar from './BoardToolbar.svelte';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  setLanguage('en');
});

const byId = (id: string) => mounted!.target.querySelector<HTMLElement>(`[data-testid=${id}]`);

describe('the toolbar', () => {
  function mountToolbar(tool: BoardTool) {
    const onpick = vi.fn();
    const onundo = vi.fn();
    mounted = render(BoardToolbar, {
      tool,
      // A colour equal to blue but not the toolbar's own array: still shown as chosen.
      color: [28, 48, 140, 255],
      width: 4,
      score: '10/10',
      canUndo: true,
      canRedo: false,
      onpick,
      onundo,
    });
    return { onpick, onundo };
  }

  it('shows the tool and colour chosen, and hands clicks to the board', () => {
    const { onpick, onundo } = mountToolbar('pen');
    expect(byId('board-pen')?.getAttribute('aria-pressed')).toBe('true');
    expect(byId('board-eraser')?.getAttribute('aria-pressed')).toBe('false');
    const pressed = [...mounted!.target.querySelectorAll('.swatch')].map((b) => b.getAttribute('aria-pressed'));
    expect(pressed).toEqual(['true', 'false', 'false', 'false']);
    expect(byId('board-score-value')).toBeNull();
    byId('board-ellipse')!.click();
    byId('board-undo')!.click();
    flushSync();
    expect(onpick).toHaveBeenCalledWith('ellipse');
    expect(onundo).toHaveBeenCalledWith(false);
    expect((byId('board-redo') as HTMLButtonElement).disabled).toBe(true);
  });

  it('asks for the score only with the score tool', () => {
    mountToolbar('score');
    expect((byId('board-score-value') as HTMLInputElement).value).toBe('10/10');
  });
});

describe('the page bar', () => {
  function mountPages(props: { index: number; count: number; staff: boolean; away: boolean; owner: unknown }) {
    const calls = { onturn: vi.fn(), onadd: vi.fn(), onmypage: vi.fn(), onback: vi.fn() };
    mounted = render(BoardPages, { page: 'board-1', ...props, ...calls } as never);
    return calls;
  }

  it('staff on the first of two pages: next and New page', () => {
    const calls = mountPages({ index: 0, count: 2, staff: true, away: false, owner: null });
    expect(text(byId('board-page')!)).toBe('Page 1 of 2');
    expect((byId('board-page-prev') as HTMLButtonElement).disabled).toBe(true);
    expect(byId('board-my-page')).toBeNull();
    expect(byId('board-follow')).toBeNull();
    byId('board-page-next')!.click();
    byId('board-page-add')!.click();
    flushSync();
    expect(calls.onturn).toHaveBeenCalledWith(1);
    expect(calls.onadd).toHaveBeenCalledTimes(1);
  });

  it('staff on a student’s own page: whose it is, and the way back to the class', () => {
    const calls = mountPages({ index: 2, count: 3, staff: true, away: true, owner: { own: false, name: 'Ada' } });
    expect(text(byId('board-private')!)).toBe('Ada’s own page (private)');
    expect((byId('board-page-next') as HTMLButtonElement).disabled).toBe(true);
    expect(text(byId('board-follow')!)).toBe('Back to the class’s page');
    byId('board-follow')!.click();
    flushSync();
    expect(calls.onback).toHaveBeenCalledTimes(1);
  });

  it('a student: My page until they are on it, in their language', () => {
    setLanguage('zh-CN');
    const calls = mountPages({ index: 0, count: 1, staff: false, away: false, owner: null });
    expect(byId('board-page-add')).toBeNull();
    byId('board-my-page')!.click();
    flushSync();
    expect(calls.onmypage).toHaveBeenCalledTimes(1);
    mounted!.destroy();
    mountPages({ index: 1, count: 2, staff: false, away: true, owner: { own: true } });
    expect(byId('board-my-page')).toBeNull();
    expect(byId('board-private')).not.toBeNull();
    expect(text(byId('board-page')!)).toContain('2');
  });
});
