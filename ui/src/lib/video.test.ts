import { afterEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));

import { HEADER_BYTES, avcCodecString, fetchVideo, h264CodecString, i420Planes, nalUnits, parseAnswer, parseHeader } from './video';

afterEach(() => {
  invoke.mockReset();
});

/** The common header, as Rust writes it, followed by `rest` bytes of zeros. */
function answer(kind: number, width: number, height: number, seq: number, rest: number, atMs = 1.5e12): ArrayBuffer {
  const buffer = new ArrayBuffer(HEADER_BYTES + rest);
  const view = new DataView(buffer);
  view.setUint32(0, kind, true);
  view.setUint32(4, width, true);
  view.setUint32(8, height, true);
  view.setUint32(12, seq, true);
  view.setFloat64(16, atMs, true);
  return buffer;
}

function rgba(width: number, height: number, seq: number, extra = 0): ArrayBuffer {
  const buffer = answer(1, width, height, seq, width * height * 4 + extra);
  new Uint8Array(buffer, HEADER_BYTES).fill(200);
  return buffer;
}

function i420(width: number, height: number, seq: number, bt709: boolean): ArrayBuffer {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const buffer = answer(2, width, height, seq, 8 + width * height + 2 * cw * ch);
  const view = new DataView(buffer);
  view.setUint32(HEADER_BYTES, bt709 ? 1 : 0, true);
  view.setUint32(HEADER_BYTES + 4, 0, true);
  const bytes = new Uint8Array(buffer);
  const start = HEADER_BYTES + 8;
  bytes.fill(1, start, start + width * height);
  bytes.fill(2, start + width * height, start + width * height + cw * ch);
  bytes.fill(3, start + width * height + cw * ch);
  return buffer;
}

/** An encoded answer with the given frames (and the stream's description, for AVC). */
function encoded(
  codec: number,
  frames: { seq: number; key: boolean; bytes: number[] }[],
  description: number[] = [],
): ArrayBuffer {
  const body = frames.reduce((n, f) => n + 20 + f.bytes.length, 12 + description.length);
  const last = frames[frames.length - 1]?.seq ?? 0;
  const buffer = answer(3, 0, 0, last, body);
  const view = new DataView(buffer);
  view.setUint32(HEADER_BYTES, codec, true);
  view.setUint32(HEADER_BYTES + 4, description.length, true);
  view.setUint32(HEADER_BYTES + 8, frames.length, true);
  new Uint8Array(buffer, HEADER_BYTES + 12, description.length).set(description);
  let at = HEADER_BYTES + 12 + description.length;
  for (const f of frames) {
    view.setUint32(at, f.seq, true);
    view.setUint32(at + 4, f.key ? 1 : 0, true);
    view.setFloat64(at + 8, 1000 + f.seq, true);
    view.setUint32(at + 16, f.bytes.length, true);
    new Uint8Array(buffer, at + 20, f.bytes.length).set(f.bytes);
    at += 20 + f.bytes.length;
  }
  return buffer;
}

describe('parseHeader', () => {
  it('reads kind, size, frame number and decode time', () => {
    expect(parseHeader(answer(2, 1366, 768, 7, 0, 1234.5))).toEqual({
      kind: 'i420',
      width: 1366,
      height: 768,
      seq: 7,
      atMs: 1234.5,
    });
  });

  it('refuses short buffers and unknown kinds', () => {
    expect(parseHeader(new ArrayBuffer(HEADER_BYTES - 1))).toBeNull();
    expect(parseHeader(answer(9, 4, 4, 1, 0))).toBeNull();
  });
});

describe('parseAnswer', () => {
  it('exposes RGBA pixels without copying', () => {
    const buffer = rgba(4, 2, 7);
    const f = parseAnswer(buffer);
    expect(f?.kind).toBe('rgba');
    if (f?.kind !== 'rgba') return;
    expect([f.width, f.height, f.seq]).toEqual([4, 2, 7]);
    expect(f.pixels.length).toBe(4 * 2 * 4);
    expect(f.pixels.buffer).toBe(buffer);
    expect(f.pixels[0]).toBe(200);
  });

  it('treats an empty answer as "nothing new"', () => {
    expect(parseAnswer(new ArrayBuffer(0))).toBeNull();
  });

  it('drops malformed RGBA instead of drawing garbage', () => {
    expect(parseAnswer(rgba(4, 2, 1, 3))).toBeNull(); // trailing bytes
    expect(parseAnswer(rgba(0, 2, 1))).toBeNull(); // zero width
    expect(parseAnswer(rgba(4, 2, 1).slice(0, HEADER_BYTES + 10))).toBeNull();
  });

  it('finds the three I420 planes of an odd-sized frame', () => {
    const f = parseAnswer(i420(1365, 767, 3, true));
    expect(f?.kind).toBe('i420');
    if (f?.kind !== 'i420') return;
    expect(f.bt709).toBe(true);
    expect(f.fullRange).toBe(false);
    const [y, u, v] = f.planes;
    expect(y).toEqual({ offset: HEADER_BYTES + 8, width: 1365, height: 767 });
    expect(u).toEqual({ offset: HEADER_BYTES + 8 + 1365 * 767, width: 683, height: 384 });
    expect(v.offset).toBe(u.offset + 683 * 384);
    expect([f.bytes[y.offset], f.bytes[u.offset], f.bytes[v.offset], f.bytes[f.bytes.length - 1]]).toEqual([
      1, 2, 3, 3,
    ]);
    expect(parseAnswer(i420(4, 4, 1, false).slice(0, HEADER_BYTES + 8 + 16 + 4 + 3))).toBeNull();
  });

  it('splits an encoded batch into frames', () => {
    const f = parseAnswer(
      encoded(2, [
        { seq: 5, key: true, bytes: [0, 0, 0, 1, 0x67] },
        { seq: 6, key: false, bytes: [9] },
      ]),
    );
    expect(f?.kind).toBe('encoded');
    if (f?.kind !== 'encoded') return;
    expect(f.codec).toBe('h264');
    expect(f.seq).toBe(6);
    expect(f.chunks.map((c) => [c.seq, c.key, c.atMs, [...c.data]])).toEqual([
      [5, true, 1005, [0, 0, 0, 1, 0x67]],
      [6, false, 1006, [9]],
    ]);
  });

  it('carries the AVC description for the decoder', () => {
    const f = parseAnswer(encoded(3, [{ seq: 1, key: true, bytes: [0, 0, 0, 1, 0x65] }], [1, 0x42, 0xc0, 0x1f, 0xff]));
    expect(f?.kind).toBe('encoded');
    if (f?.kind !== 'encoded') return;
    expect(f.codec).toBe('avc');
    expect([...f.description]).toEqual([1, 0x42, 0xc0, 0x1f, 0xff]);
    expect([...f.chunks[0].data]).toEqual([0, 0, 0, 1, 0x65]);
    // AVC without its description, or a description where none belongs, is malformed.
    expect(parseAnswer(encoded(3, [{ seq: 1, key: true, bytes: [1] }]))).toBeNull();
    expect(parseAnswer(encoded(1, [{ seq: 1, key: true, bytes: [1] }], [1, 2]))).toBeNull();
  });

  it('refuses encoded batches that overrun, have no frames or name no codec', () => {
    const good = encoded(1, [{ seq: 1, key: true, bytes: [1, 2, 3] }]);
    expect(parseAnswer(good)?.kind).toBe('encoded');
    expect(parseAnswer(good.slice(0, good.byteLength - 1))).toBeNull();
    expect(parseAnswer(encoded(1, []))).toBeNull();
    expect(parseAnswer(encoded(7, [{ seq: 1, key: true, bytes: [1] }]))).toBeNull();
  });
});

describe('i420Planes', () => {
  it('packs chroma at half size, rounded up', () => {
    expect(i420Planes(3, 3, 0)).toEqual([
      { offset: 0, width: 3, height: 3 },
      { offset: 9, width: 2, height: 2 },
      { offset: 13, width: 2, height: 2 },
    ]);
  });
});

describe('H.264 parsing', () => {
  // An access unit as h264parse sends it: AUD, SPS (constrained baseline, level 3.1), PPS, IDR.
  const au = new Uint8Array([
    0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0,
    0, 1, 0x65, 0x88, 0x84,
  ]);

  it('finds NAL units after 3- and 4-byte start codes', () => {
    expect(nalUnits(au).map((n) => n[0] & 0x1f)).toEqual([9, 7, 8, 5]);
    expect([...nalUnits(au)[1]]).toEqual([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01]);
  });

  it('names the codec from the SPS', () => {
    expect(h264CodecString(au)).toBe('avc1.42c01f');
    expect(h264CodecString(new Uint8Array([0, 0, 1, 0x41, 0x9a]))).toBeNull();
  });

  it('names the codec from an avcC record', () => {
    expect(avcCodecString(new Uint8Array([1, 0x64, 0x00, 0x28, 0xff, 0xe1]))).toBe('avc1.640028');
    expect(avcCodecString(new Uint8Array([0, 0x64, 0x00, 0x28]))).toBeNull();
    expect(avcCodecString(new Uint8Array([1, 0x64]))).toBeNull();
  });
});

describe('fetchVideo', () => {
  it('asks for a track after a frame number at a size and kind, and reads the bytes', async () => {
    invoke.mockResolvedValueOnce(rgba(2, 1, 9));
    const frame = await fetchVideo('v1', 8, { width: 640, height: 360 }, 'rgba');
    expect(invoke).toHaveBeenCalledWith('video_frame', {
      trackId: 'v1',
      after: 8,
      width: 640,
      height: 360,
      kind: 'rgba',
    });
    expect(frame?.seq).toBe(9);
  });

  it('takes a number array from older IPC paths, and nothing new as null', async () => {
    invoke.mockResolvedValueOnce(Array.from(new Uint8Array(rgba(1, 1, 3))));
    expect((await fetchVideo('v1', 2, { width: 16, height: 16 }, 'rgba'))?.seq).toBe(3);
    invoke.mockResolvedValueOnce(new ArrayBuffer(0));
    await expect(fetchVideo('v1', 3, { width: 16, height: 16 }, 'rgba')).resolves.toBeNull();
  });

  it('rejects with an AppError', async () => {
    invoke.mockRejectedValueOnce({ kind: 'invalidVideoRequest', message: 'no video track "x" in this class' });
    await expect(fetchVideo('x', 0, { width: 16, height: 16 }, 'i420')).rejects.toEqual({
      kind: 'invalidVideoRequest',
      message: 'no video track "x" in this class',
    });
  });
});
