// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import type { ClassNote } from './api';
import EventLog from './EventLog.svelte';
import { render, text, type Mounted } from './testing';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
});

function show(events: ClassNote[], limit?: number): HTMLElement {
  mounted = render(EventLog, limit === undefined ? { events } : { events, limit });
  return mounted.target;
}

describe('EventLog', () => {
  it('says so when nothing happened yet', () => {
    const target = show([]);
    expect(text(target.querySelector('h3'))).toBe('Recent events');
    expect(text(target.querySelector('.none'))).toBe('Nothing yet.');
    expect(target.querySelector('ol')).toBeNull();
    expect(target.querySelector('.count')).toBeNull();
  });

  it('lists events newest first and highlights the newest', () => {
    const target = show([
      { kind: 'joined', participantId: 'p-1' },
      { kind: 'trackStarted', source: 'camera', trackId: 'v1' },
      { kind: 'trackFailed', source: 'microphone', detail: 'unplugged' },
    ]);
    const items = [...target.querySelectorAll('li')];
    expect(items.map((li) => text(li))).toEqual([
      'Microphone failed, sending a stand-in: unplugged',
      'Camera track v1 started',
      'Joined as p-1',
    ]);
    expect(items.map((li) => li.classList.contains('latest'))).toEqual([true, false, false]);
    expect(text(target.querySelector('.count'))).toBe('Newest first');
  });

  it('shows only the newest events up to the limit', () => {
    const events: ClassNote[] = Array.from({ length: 30 }, (_, i) => ({
      kind: 'other',
      detail: `event ${i + 1}`,
    }));
    expect(show(events).querySelectorAll('li')).toHaveLength(20);
    mounted?.destroy();
    const items = [...show(events, 3).querySelectorAll('li')].map((li) => text(li));
    expect(items).toEqual(['event 30', 'event 29', 'event 28']);
  });
});
