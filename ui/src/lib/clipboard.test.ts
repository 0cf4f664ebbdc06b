import { afterEach, describe, expect, it, vi } from 'vitest';
import { copyText } from './clipboard';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('copyText', () => {
  it('uses the Clipboard API when there is one', async () => {
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal('navigator', { clipboard: { writeText } });
    await expect(copyText('abc.def')).resolves.toBe(true);
    expect(writeText).toHaveBeenCalledWith('abc.def');
  });

  it('falls back to execCommand when the Clipboard API refuses', async () => {
    vi.stubGlobal('navigator', { clipboard: { writeText: () => Promise.reject(new Error('denied')) } });
    const area = { value: '', style: {}, setAttribute: vi.fn(), select: vi.fn(), remove: vi.fn() };
    const execCommand = vi.fn(() => true);
    vi.stubGlobal('HTMLElement', class {});
    vi.stubGlobal('document', {
      createElement: () => area,
      body: { append: vi.fn() },
      activeElement: null,
      execCommand,
    });
    await expect(copyText('tok')).resolves.toBe(true);
    expect(area.value).toBe('tok');
    expect(execCommand).toHaveBeenCalledWith('copy');
    expect(area.remove).toHaveBeenCalled();
  });

  it('reports failure when nothing can copy', async () => {
    vi.stubGlobal('navigator', {});
    vi.stubGlobal('document', undefined);
    await expect(copyText('tok')).resolves.toBe(false);
  });
});
