// Remote video from the Rust side (src-tauri/src/video.rs). `video_frame` answers raw bytes, not
// JSON, so it is called here rather than through api.ts's typed wrappers: every answer starts
// with a 24-byte little-endian header — kind, width, height, frame number (u32 each) and when the
// newest frame in it was decoded or received (f64, ms since the Unix epoch) — then the kind's
// own layout (see the parsers below). An empty answer means "nothing new within half a second".

import { invoke } from '@tauri-apps/api/core';
import { getCurrentWindow } from '@tauri-apps/api/window';
import { toAppError } from './api';

/** Bytes of the common header. */
export const HEADER_BYTES = 24;

/** What a tile asks for; also the path it draws with. */
export type VideoKind = 'rgba' | 'i420' | 'encoded';

const KIND_CODES: Record<number, VideoKind> = { 1: 'rgba', 2: 'i420', 3: 'encoded' };

/** The common header. */
export interface FrameHeader {
  kind: VideoKind;
  width: number;
  height: number;
  /** The frame number, passed back as `after` so the same frame is not sent twice. */
  seq: number;
  /** When the (newest) frame was decoded or received, ms since the Unix epoch. */
  atMs: number;
}

/** RGBA pixels ready for `ImageData`. */
export interface RgbaFrame extends FrameHeader {
  kind: 'rgba';
  pixels: Uint8ClampedArray<ArrayBuffer>;
}

/** One plane of an I420 frame inside the answer's buffer, rows tightly packed. */
export interface PlaneLayout {
  offset: number;
  width: number;
  height: number;
}

/** I420 planes for the WebGL shader. */
export interface I420Frame extends FrameHeader {
  kind: 'i420';
  /** BT.709 coefficients, else BT.601. */
  bt709: boolean;
  /** Y spans 0..255 rather than 16..235. */
  fullRange: boolean;
  /** Y, U, V. */
  planes: [PlaneLayout, PlaneLayout, PlaneLayout];
  bytes: Uint8Array<ArrayBuffer>;
}

/** One encoded frame for WebCodecs. */
export interface EncodedChunkData {
  seq: number;
  key: boolean;
  atMs: number;
  data: Uint8Array<ArrayBuffer>;
}

/** Encoded frames since the page's `after`. */
export interface EncodedBatch extends FrameHeader {
  kind: 'encoded';
  /** `h264` is Annex B (SPS/PPS in-band); `avc` is length-prefixed with `description`. */
  codec: 'vp8' | 'h264' | 'avc';
  /** The decoder configuration sent out of band (H.264 `avcC`); empty otherwise. */
  description: Uint8Array<ArrayBuffer>;
  chunks: EncodedChunkData[];
}

/** Any parsed answer. */
export type VideoAnswer = RgbaFrame | I420Frame | EncodedBatch;

/** Reads the common header; null when the buffer is too short or names no known kind. */
export function parseHeader(buffer: ArrayBuffer): FrameHeader | null {
  if (buffer.byteLength < HEADER_BYTES) return null;
  const view = new DataView(buffer);
  const kind = KIND_CODES[view.getUint32(0, true)];
  if (kind === undefined) return null;
  return {
    kind,
    width: view.getUint32(4, true),
    height: view.getUint32(8, true),
    seq: view.getUint32(12, true),
    atMs: view.getFloat64(16, true),
  };
}

/** Where the Y, U and V planes of a `width` x `height` I420 frame start, rows tightly packed. */
export function i420Planes(
  width: number,
  height: number,
  start: number,
): [PlaneLayout, PlaneLayout, PlaneLayout] {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const y = { offset: start, width, height };
  const u = { offset: start + width * height, width: cw, height: ch };
  const v = { offset: u.offset + cw * ch, width: cw, height: ch };
  return [y, u, v];
}

/**
 * Reads a `video_frame` answer. Returns null for an empty answer (nothing new) and for anything
 * malformed: a short or inconsistent buffer is dropped, never drawn.
 */
export function parseAnswer(buffer: ArrayBuffer): VideoAnswer | null {
  const header = parseHeader(buffer);
  if (header === null) return null;
  const view = new DataView(buffer);
  switch (header.kind) {
    case 'rgba': {
      const { width, height } = header;
      if (width === 0 || height === 0) return null;
      if (buffer.byteLength !== HEADER_BYTES + width * height * 4) return null;
      return { ...header, kind: 'rgba', pixels: new Uint8ClampedArray(buffer, HEADER_BYTES) };
    }
    case 'i420': {
      const { width, height } = header;
      const start = HEADER_BYTES + 8;
      if (width === 0 || height === 0 || buffer.byteLength < start) return null;
      const planes = i420Planes(width, height, start);
      if (buffer.byteLength !== planes[2].offset + planes[2].width * planes[2].height) return null;
      return {
        ...header,
        kind: 'i420',
        bt709: view.getUint32(HEADER_BYTES, true) === 1,
        fullRange: view.getUint32(HEADER_BYTES + 4, true) === 1,
        planes,
        bytes: new Uint8Array(buffer),
      };
    }
    case 'encoded':
      return parseEncoded(buffer, header);
  }
}

const CODECS: Record<number, EncodedBatch['codec']> = { 1: 'vp8', 2: 'h264', 3: 'avc' };

function parseEncoded(buffer: ArrayBuffer, header: FrameHeader): EncodedBatch | null {
  const view = new DataView(buffer);
  if (buffer.byteLength < HEADER_BYTES + 12) return null;
  const codec = CODECS[view.getUint32(HEADER_BYTES, true)];
  if (codec === undefined) return null;
  const described = view.getUint32(HEADER_BYTES + 4, true);
  const count = view.getUint32(HEADER_BYTES + 8, true);
  if (HEADER_BYTES + 12 + described > buffer.byteLength) return null;
  if ((codec === 'avc') !== described > 0) return null;
  const description = new Uint8Array(buffer, HEADER_BYTES + 12, described);
  const chunks: EncodedChunkData[] = [];
  let at = HEADER_BYTES + 12 + described;
  for (let i = 0; i < count; i += 1) {
    if (at + 20 > buffer.byteLength) return null;
    const length = view.getUint32(at + 16, true);
    if (at + 20 + length > buffer.byteLength) return null;
    chunks.push({
      seq: view.getUint32(at, true),
      key: view.getUint32(at + 4, true) === 1,
      atMs: view.getFloat64(at + 8, true),
      data: new Uint8Array(buffer, at + 20, length),
    });
    at += 20 + length;
  }
  if (at !== buffer.byteLength || chunks.length === 0) return null;
  return { ...header, kind: 'encoded', codec, description, chunks };
}

/**
 * The WebCodecs codec string for an H.264 access unit in Annex B form, from its SPS
 * (`avc1.PPCCLL`: profile, constraint flags, level); null when it carries no SPS.
 */
export function h264CodecString(annexB: Uint8Array): string | null {
  for (const nal of nalUnits(annexB)) {
    if ((nal[0] & 0x1f) === 7 && nal.length >= 4) {
      const hex = (b: number) => b.toString(16).padStart(2, '0');
      return `avc1.${hex(nal[1])}${hex(nal[2])}${hex(nal[3])}`;
    }
  }
  return null;
}

/** The WebCodecs codec string from an H.264 `avcC` record (profile, constraints, level). */
export function avcCodecString(avcC: Uint8Array): string | null {
  if (avcC.length < 4 || avcC[0] !== 1) return null;
  const hex = (b: number) => b.toString(16).padStart(2, '0');
  return `avc1.${hex(avcC[1])}${hex(avcC[2])}${hex(avcC[3])}`;
}

/** The NAL units of an Annex B stream (start codes 00 00 01 or 00 00 00 01), without them. */
export function nalUnits(annexB: Uint8Array): Uint8Array[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 2 < annexB.length; i += 1) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
      const four = i > 0 && annexB[i - 1] === 0;
      starts.push({ at: four ? i - 1 : i, len: four ? 4 : 3 });
      i += 2;
    }
  }
  return starts.map((s, k) => {
    const end = k + 1 < starts.length ? starts[k + 1].at : annexB.length;
    return annexB.subarray(s.at + s.len, end);
  });
}

/** The tile's size in device pixels, at least 16 x 16. */
export function devicePixels(element: Element, ratio: number): { width: number; height: number } {
  const box = element.getBoundingClientRect();
  return {
    width: Math.max(16, Math.round(box.width * ratio)),
    height: Math.max(16, Math.round(box.height * ratio)),
  };
}

/**
 * The next answer for a track after frame `after`: waits in Rust up to half a second for a new
 * frame, so one request in flight per tile paces itself. Null when nothing new (or malformed).
 */
export async function fetchVideo(
  trackId: string,
  after: number,
  size: { width: number; height: number },
  kind: VideoKind,
): Promise<VideoAnswer | null> {
  let answer: ArrayBuffer | number[];
  try {
    answer = await invoke<ArrayBuffer | number[]>('video_frame', {
      trackId,
      after,
      width: size.width,
      height: size.height,
      kind,
    });
  } catch (reason) {
    throw toAppError(reason);
  }
  // Tauri answers raw responses as an ArrayBuffer; older IPC paths give a number array.
  const buffer =
    answer instanceof ArrayBuffer ? answer : (new Uint8Array(answer).buffer as ArrayBuffer);
  return parseAnswer(buffer);
}

/** Benchmark settings: a forced path, paint reports, the first tile enlarged. */
export interface VideoSettings {
  path: 'rgba' | 'i420' | 'webcodecs' | null;
  report: boolean;
  enlarge: boolean;
}

/** How to show video (see `video_settings` in Rust). */
export async function videoSettings(): Promise<VideoSettings> {
  try {
    return await invoke<VideoSettings>('video_settings');
  } catch (reason) {
    throw toAppError(reason);
  }
}

/** What one tile painted so far. */
export interface TilePaints {
  trackId: string;
  path: string;
  painted: number;
  latencyMsSum: number;
  latencyMsMax: number;
  width: number;
  height: number;
  /** When the tile painted its first frame, wall-clock ms (`wallMs`). */
  firstPaintedMs: number;
}

/** Reports paint counts (benchmarks only). */
export async function videoPainted(tiles: TilePaints[]): Promise<void> {
  try {
    await invoke<void>('video_painted', { tiles });
  } catch (reason) {
    throw toAppError(reason);
  }
}

/**
 * Makes the app's window full screen (an enlarged tile) or not. Best effort: without a window
 * manager, or outside the app, the tile still fills the window.
 */
export async function setWindowFullscreen(on: boolean): Promise<void> {
  try {
    await getCurrentWindow().setFullscreen(on);
  } catch {
    // Not in a Tauri window (tests), or the desktop refused: the in-page view remains.
  }
}

/** Now on the same clock as the answers' `atMs`. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
