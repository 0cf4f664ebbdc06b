// Remote video from the Rust side: `video_frame` (called in api.ts) answers raw bytes (no JSON) —
// a 12-byte little-endian header (width, height, frame number) and RGBA pixels — or nothing when
// there is no newer frame. See src-tauri/src/video.rs.

/** Bytes before the pixels. */
export const HEADER_BYTES = 12;

/** One frame ready for `ImageData`. */
export interface Frame {
  width: number;
  height: number;
  /** The frame number, passed back as `after` so the same frame is not sent twice. */
  seq: number;
  pixels: Uint8ClampedArray<ArrayBuffer>;
}

/**
 * Reads a `video_frame` answer. Returns null for an empty answer (nothing new) and for anything
 * malformed: a short or inconsistent buffer is dropped, never drawn.
 */
export function parseFrame(buffer: ArrayBuffer): Frame | null {
  if (buffer.byteLength < HEADER_BYTES) return null;
  const view = new DataView(buffer);
  const width = view.getUint32(0, true);
  const height = view.getUint32(4, true);
  const seq = view.getUint32(8, true);
  if (width === 0 || height === 0) return null;
  if (buffer.byteLength !== HEADER_BYTES + width * height * 4) return null;
  return { width, height, seq, pixels: new Uint8ClampedArray(buffer, HEADER_BYTES) };
}
