import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, parseFrame } from './video';

function frame(width: number, height: number, seq: number, extra = 0): ArrayBuffer {
  const buffer = new ArrayBuffer(HEADER_BYTES + width * height * 4 + extra);
  const view = new DataView(buffer);
  view.setUint32(0, width, true);
  view.setUint32(4, height, true);
  view.setUint32(8, seq, true);
  new Uint8Array(buffer, HEADER_BYTES).fill(200);
  return buffer;
}

describe('parseFrame', () => {
  it('reads the header and exposes the pixels without copying', () => {
    const f = parseFrame(frame(4, 2, 7));
    expect(f).not.toBeNull();
    expect(f?.width).toBe(4);
    expect(f?.height).toBe(2);
    expect(f?.seq).toBe(7);
    expect(f?.pixels.length).toBe(4 * 2 * 4);
    expect(f?.pixels[0]).toBe(200);
  });

  it('treats an empty answer as "nothing new"', () => {
    expect(parseFrame(new ArrayBuffer(0))).toBeNull();
  });

  it('drops malformed buffers instead of drawing garbage', () => {
    expect(parseFrame(new ArrayBuffer(5))).toBeNull();
    expect(parseFrame(frame(4, 2, 1, 3))).toBeNull(); // trailing bytes
    expect(parseFrame(frame(0, 2, 1))).toBeNull(); // zero width
    const short = frame(4, 2, 1).slice(0, HEADER_BYTES + 10);
    expect(parseFrame(short)).toBeNull();
  });
});
