// @vitest-environment jsdom
// The field for text going onto a page: it takes the keyboard, Enter puts the text there
// once, Shift+Enter is a new line, Escape leaves it off without closing what is around it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import { render, type Mounted } from './testing';
import TextEntry from './TextEntry.svelte';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  document.body.replaceChildren();
});

function mount() {
  const oncommit = vi.fn();
  const oncancel = vi.fn();
  const back = document.createElement('button');
  document.body.append(back);
  mounted = render(TextEntry, {
    left: '10px',
    top: '20px',
    size: 40,
    color: 'rgb(200, 40, 40)',
    label: 'Text',
    testid: 'entry',
    oncommit,
    oncancel,
    back,
  });
  flushSync();
  const field = mounted.target.querySelector<HTMLTextAreaElement>('[data-testid=entry]')!;
  const type = (value: string) => {
    field.value = value;
    field.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
  };
  const press = (key: string, shiftKey = false) => {
    const e = new KeyboardEvent('keydown', { key, shiftKey, bubbles: true, cancelable: true });
    field.dispatchEvent(e);
    return e;
  };
  return { field, type, press, oncommit, oncancel, back };
}

describe('the text entry', () => {
  it('takes the keyboard and puts the text on the page with Enter, once', () => {
    const { field, type, press, oncommit, back } = mount();
    expect(document.activeElement).toBe(field);
    // Over the text's corner, at its size, moved up so its first baseline is the page's.
    expect(field.style.left).toBe('10px');
    expect(field.style.font).toContain('40px');
    expect(field.style.transform).toBe('translateY(-10px)');
    type('Well done\nsee page 2');
    expect(field.rows).toBe(2);
    expect(press('Enter', true).defaultPrevented).toBe(false);
    expect(press('Enter').defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(back);
    field.dispatchEvent(new FocusEvent('blur'));
    expect(oncommit).toHaveBeenCalledTimes(1);
    expect(oncommit).toHaveBeenCalledWith('Well done\nsee page 2');
  });

  it('leaves it off with Escape, which goes no further', () => {
    const { type, press, oncommit, oncancel } = mount();
    const outside = vi.fn();
    document.addEventListener('keydown', outside);
    type('never mind');
    expect(press('Escape').defaultPrevented).toBe(true);
    document.removeEventListener('keydown', outside);
    expect(oncancel).toHaveBeenCalledTimes(1);
    expect(oncommit).not.toHaveBeenCalled();
    expect(outside).not.toHaveBeenCalled();
  });

  it('puts it there when the field is left, the keyboard staying where it went', () => {
    const { type, oncommit, back } = mount();
    const other = document.createElement('input');
    document.body.append(other);
    type('a note');
    other.focus();
    expect(oncommit).toHaveBeenCalledWith('a note');
    expect(document.activeElement).toBe(other);
    expect(document.activeElement).not.toBe(back);
    other.remove();
  });
});
