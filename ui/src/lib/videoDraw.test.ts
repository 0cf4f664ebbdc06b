import { describe, expect, it } from 'vitest';
import { configKey, decoderConfig, fit, yuvToRgb } from './videoDraw';
import type { EncodedBatch } from './video';

/** (R, G, B) in 0..255 for 8-bit (Y, U, V) through the shader's matrix. */
function shade(bt709: boolean, fullRange: boolean, y: number, u: number, v: number): number[] {
  const { matrix: m, offset } = yuvToRgb(bt709, fullRange);
  const yuv = [y / 255 - offset[0], u / 255 - offset[1], v / 255 - offset[2]];
  // Column-major: column c holds what component c adds to R, G and B.
  return [0, 1, 2].map((row) => {
    const value = m[row] * yuv[0] + m[3 + row] * yuv[1] + m[6 + row] * yuv[2];
    return Math.round(Math.min(1, Math.max(0, value)) * 255);
  });
}

describe('fit', () => {
  it('keeps what fits and scales the rest down to even sizes, as Rust does', () => {
    expect(fit({ width: 1920, height: 1080 }, 4000, 4000)).toEqual({ width: 1920, height: 1080 });
    expect(fit({ width: 1920, height: 1080 }, 960, 4000)).toEqual({ width: 960, height: 540 });
    expect(fit({ width: 1920, height: 1080 }, 4000, 540)).toEqual({ width: 960, height: 540 });
    expect(fit({ width: 1366, height: 768 }, 683, 4000)).toEqual({ width: 682, height: 384 });
    expect(fit({ width: 1280, height: 720 }, 321, 999)).toEqual({ width: 320, height: 180 });
    expect(fit({ width: 640, height: 360 }, 1, 1)).toEqual({ width: 2, height: 2 });
  });
});

describe('yuvToRgb', () => {
  it('maps limited-range black, white and grey for both matrices', () => {
    for (const bt709 of [false, true]) {
      expect(shade(bt709, false, 16, 128, 128)).toEqual([0, 0, 0]);
      expect(shade(bt709, false, 235, 128, 128)).toEqual([255, 255, 255]);
      expect(shade(bt709, false, 126, 128, 128)).toEqual([128, 128, 128]);
    }
    expect(shade(false, true, 255, 128, 128)).toEqual([255, 255, 255]);
    expect(shade(false, true, 0, 128, 128)).toEqual([0, 0, 0]);
  });

  it('turns BT.601 red and BT.709 red back into red', () => {
    // Limited-range red: BT.601 (81, 90, 240), BT.709 (63, 102, 240).
    const r601 = shade(false, false, 81, 90, 240);
    const r709 = shade(true, false, 63, 102, 240);
    for (const [r, g, b] of [r601, r709]) {
      expect(r).toBeGreaterThan(250);
      expect(g).toBeLessThan(5);
      expect(b).toBeLessThan(5);
    }
    // The wrong matrix visibly shifts it: the header's matrix flag matters.
    expect(shade(true, false, 81, 90, 240)[0]).not.toBe(r601[0]);
  });
});

describe('decoderConfig', () => {
  const batch = (codec: EncodedBatch['codec'], key: boolean, bytes: number[], description: number[] = []): EncodedBatch => ({
    kind: 'encoded',
    width: 0,
    height: 0,
    seq: 1,
    atMs: 0,
    codec,
    description: new Uint8Array(description),
    chunks: [{ seq: 1, key, atMs: 0, data: new Uint8Array(bytes) }],
  });

  it('configures VP8 at once and H.264 from the SPS of a keyframe', () => {
    expect(decoderConfig(batch('vp8', false, [1]))).toEqual({ codec: 'vp8', optimizeForLatency: true });
    expect(decoderConfig(batch('h264', true, [0, 0, 1, 0x67, 0x64, 0x00, 0x28]))).toEqual({
      codec: 'avc1.640028',
      optimizeForLatency: true,
    });
    expect(decoderConfig(batch('h264', false, [0, 0, 1, 0x67, 0x42, 0, 0x1f]))).toBeNull();
  });

  it('configures AVC from its description, and tells configurations apart by it', () => {
    const avc = decoderConfig(batch('avc', false, [0, 0, 0, 2, 0x41, 0x9a], [1, 0x42, 0xc0, 0x1f, 0xff]));
    expect(avc?.codec).toBe('avc1.42c01f');
    expect([...(avc?.description as Uint8Array)]).toEqual([1, 0x42, 0xc0, 0x1f, 0xff]);
    const other = decoderConfig(batch('avc', false, [1], [1, 0x42, 0xc0, 0x1f, 0xfe]));
    if (avc === null || other === null) throw new Error('configs');
    expect(configKey(avc)).not.toBe(configKey(other));
    expect(configKey(avc)).toBe(configKey({ ...avc }));
  });
});
