// Drawing remote video on a tile's canvas, one painter per path:
// - RgbaPainter: RGBA converted in Rust, `putImageData`.
// - I420Painter: the decoded planes as three R8 textures, YUV->RGB in a WebGL2 fragment shader.
// - CodecPainter: encoded frames into WebCodecs' `VideoDecoder`, each `VideoFrame` drawn with
//   `drawImage` and closed at once.
// Pure parts (the colour matrix, sizes) are exported for tests.

import type { EncodedBatch, I420Frame, RgbaFrame } from './video';
import { avcCodecString, h264CodecString } from './video';

/** Called after each frame is drawn, with when that frame was decoded or received. */
export type OnPainted = (atMs: number, width: number, height: number) => void;

/**
 * The frame fitted into `maxW` x `maxH`, aspect kept, never enlarged, even sizes: the same rule
 * as Rust's `video::fit`.
 */
export function fit(
  frame: { width: number; height: number },
  maxW: number,
  maxH: number,
): { width: number; height: number } {
  const { width: w, height: h } = frame;
  if (w === 0 || h === 0) return { width: 0, height: 0 };
  if (w <= maxW && h <= maxH) return { width: w, height: h };
  const scale = Math.min(maxW / w, maxH / h);
  const even = (v: number, max: number) => Math.min(max, Math.max(2, Math.floor(v * scale) & ~1));
  return { width: even(w, w), height: even(h, h) };
}

/**
 * YUV -> RGB for the shader: a column-major 3x3 matrix applied to (Y, U, V) after subtracting
 * `offset` (all in 0..1 texture units).
 */
export function yuvToRgb(bt709: boolean, fullRange: boolean): { matrix: Float32Array; offset: Float32Array } {
  // Luma and chroma scales for the range, and the matrix's Kr/Kb.
  const ys = fullRange ? 1 : 255 / 219;
  const cs = fullRange ? 1 : 255 / 224;
  const [kr, kb] = bt709 ? [0.2126, 0.0722] : [0.299, 0.114];
  const kg = 1 - kr - kb;
  const rv = 2 * (1 - kr) * cs;
  const bu = 2 * (1 - kb) * cs;
  const gu = ((2 * (1 - kb) * kb) / kg) * cs;
  const gv = ((2 * (1 - kr) * kr) / kg) * cs;
  // Columns: what Y, U and V each add to (R, G, B).
  const matrix = new Float32Array([ys, ys, ys, 0, -gu, bu, rv, -gv, 0]);
  const offset = new Float32Array([fullRange ? 0 : 16 / 255, 128 / 255, 128 / 255]);
  return { matrix, offset };
}

/** Draws RGBA frames with `putImageData`. */
export class RgbaPainter {
  private readonly context: CanvasRenderingContext2D;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onPainted: OnPainted,
  ) {
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('no 2D canvas');
    this.context = context;
  }

  draw(frame: RgbaFrame): void {
    if (this.canvas.width !== frame.width || this.canvas.height !== frame.height) {
      this.canvas.width = frame.width;
      this.canvas.height = frame.height;
    }
    this.context.putImageData(new ImageData(frame.pixels, frame.width, frame.height), 0, 0);
    this.onPainted(frame.atMs, frame.width, frame.height);
  }

  destroy(): void {}
}

const VERTEX = `#version 300 es
in vec2 position;
out vec2 uv;
void main() {
  uv = vec2(position.x + 1.0, 1.0 - position.y) * 0.5;
  gl_Position = vec4(position, 0.0, 1.0);
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
uniform sampler2D planeY;
uniform sampler2D planeU;
uniform sampler2D planeV;
uniform mat3 yuvToRgb;
uniform vec3 yuvOffset;
in vec2 uv;
out vec4 color;
void main() {
  vec3 yuv = vec3(texture(planeY, uv).r, texture(planeU, uv).r, texture(planeV, uv).r);
  color = vec4(clamp(yuvToRgb * (yuv - yuvOffset), 0.0, 1.0), 1.0);
}`;

/** Draws I420 frames through a WebGL2 shader: three R8 textures, one full-canvas quad. */
export class I420Painter {
  private readonly gl: WebGL2RenderingContext;
  private readonly program: WebGLProgram;
  private readonly textures: WebGLTexture[];
  private readonly sizes: { width: number; height: number }[] = [];
  private matrixKey = '';

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onPainted: OnPainted,
  ) {
    const gl = canvas.getContext('webgl2', {
      alpha: false,
      antialias: false,
      depth: false,
      preserveDrawingBuffer: false,
    });
    if (gl === null) throw new Error('no WebGL2');
    this.gl = gl;
    this.program = link(gl, VERTEX, FRAGMENT);
    gl.useProgram(this.program);
    const quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const position = gl.getAttribLocation(this.program, 'position');
    gl.enableVertexAttribArray(position);
    gl.vertexAttribPointer(position, 2, gl.FLOAT, false, 0, 0);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    this.textures = ['planeY', 'planeU', 'planeV'].map((name, unit) => {
      const texture = gl.createTexture();
      if (texture === null) throw new Error('no WebGL texture');
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.uniform1i(gl.getUniformLocation(this.program, name), unit);
      this.sizes.push({ width: 0, height: 0 });
      return texture;
    });
  }

  draw(frame: I420Frame): void {
    const { gl } = this;
    if (this.canvas.width !== frame.width || this.canvas.height !== frame.height) {
      this.canvas.width = frame.width;
      this.canvas.height = frame.height;
    }
    gl.viewport(0, 0, frame.width, frame.height);
    const key = `${frame.bt709}/${frame.fullRange}`;
    if (key !== this.matrixKey) {
      const { matrix, offset } = yuvToRgb(frame.bt709, frame.fullRange);
      gl.uniformMatrix3fv(gl.getUniformLocation(this.program, 'yuvToRgb'), false, matrix);
      gl.uniform3fv(gl.getUniformLocation(this.program, 'yuvOffset'), offset);
      this.matrixKey = key;
    }
    frame.planes.forEach((plane, unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, this.textures[unit]);
      const size = this.sizes[unit];
      if (size.width !== plane.width || size.height !== plane.height) {
        // (Re)allocate only when the size changes; every frame after that is a sub-upload.
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, plane.width, plane.height, 0, gl.RED, gl.UNSIGNED_BYTE, null);
        this.sizes[unit] = { width: plane.width, height: plane.height };
      }
      // A view of the plane rather than WebGL2's srcOffset argument: WebKit read the wrong
      // bytes with srcOffset (the chroma planes showed luma).
      const bytes = frame.bytes.subarray(plane.offset, plane.offset + plane.width * plane.height);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, plane.width, plane.height, gl.RED, gl.UNSIGNED_BYTE, bytes);
    });
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    this.onPainted(frame.atMs, frame.width, frame.height);
  }

  destroy(): void {
    this.textures.forEach((t) => this.gl.deleteTexture(t));
    this.gl.deleteProgram(this.program);
  }
}

function link(gl: WebGL2RenderingContext, vertex: string, fragment: string): WebGLProgram {
  const program = gl.createProgram();
  if (program === null) throw new Error('no WebGL program');
  for (const [type, source] of [
    [gl.VERTEX_SHADER, vertex],
    [gl.FRAGMENT_SHADER, fragment],
  ] as const) {
    const shader = gl.createShader(type);
    if (shader === null) throw new Error('no WebGL shader');
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
      throw new Error(`shader: ${gl.getShaderInfoLog(shader) ?? 'does not compile'}`);
    }
    gl.attachShader(program, shader);
  }
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new Error(`shader program: ${gl.getProgramInfoLog(program) ?? 'does not link'}`);
  }
  return program;
}

/**
 * The decoder configuration for a batch's codec: VP8 at once, H.264 in AVC form from its
 * `avcC` description, H.264 in Annex B form from the SPS of a keyframe (null until one comes).
 */
export function decoderConfig(batch: EncodedBatch): VideoDecoderConfig | null {
  if (batch.codec === 'vp8') return { codec: 'vp8', optimizeForLatency: true };
  if (batch.codec === 'avc') {
    const codec = avcCodecString(batch.description);
    return codec === null ? null : { codec, description: batch.description, optimizeForLatency: true };
  }
  const key = batch.chunks.find((c) => c.key);
  const codec = key === undefined ? null : h264CodecString(key.data);
  return codec === null ? null : { codec, optimizeForLatency: true };
}

/** Identifies a configuration: its codec string and description bytes. */
export function configKey(config: VideoDecoderConfig): string {
  const description =
    config.description instanceof Uint8Array ? Array.from(config.description).join(',') : '';
  return `${config.codec}|${description}`;
}

/** What the webview said it decodes, per configuration: the answer does not change. */
const decodable = new Map<string, Promise<boolean>>();

/**
 * Whether this webview's WebCodecs decodes `config` (false where WebCodecs is missing); asked
 * once per configuration, so a second tile of the same codec does not wait for it again.
 */
export function canDecode(config: VideoDecoderConfig): Promise<boolean> {
  if (typeof VideoDecoder === 'undefined') return Promise.resolve(false);
  const key = configKey(config);
  let answer = decodable.get(key);
  if (answer === undefined) {
    answer = (async () => {
      try {
        return (await VideoDecoder.isConfigSupported(config)).supported === true;
      } catch {
        return false;
      }
    })();
    decodable.set(key, answer);
  }
  return answer;
}

/**
 * Decodes encoded frames with WebCodecs and draws the newest decoded frame on each animation
 * frame (older ones are closed undrawn, so a slow display skips frames instead of queueing).
 */
export class CodecPainter {
  private decoder: VideoDecoder | null = null;
  private configured = '';
  private readonly context: CanvasRenderingContext2D;
  /** Received-at time per chunk timestamp, to measure received -> painted. */
  private readonly received = new Map<number, number>();
  private pending: VideoFrame | null = null;
  private raf = 0;
  private needKey = true;
  failure: string | null = null;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly tileSize: () => { width: number; height: number },
    private readonly onPainted: OnPainted,
  ) {
    const context = canvas.getContext('2d', { alpha: false });
    if (context === null) throw new Error('no 2D canvas');
    this.context = context;
  }

  /** Feeds a batch, (re)configuring the decoder when the stream's configuration changed. */
  push(batch: EncodedBatch, config: VideoDecoderConfig): void {
    const key = configKey(config);
    if (this.decoder === null || this.decoder.state === 'closed' || this.configured !== key) {
      this.decoder?.close();
      this.decoder = new VideoDecoder({
        output: (frame) => this.show(frame),
        error: (e) => {
          this.failure = e.message;
          this.needKey = true;
        },
      });
      this.decoder.configure(config);
      this.configured = key;
      this.needKey = true;
    }
    for (const chunk of batch.chunks) {
      if (this.needKey && !chunk.key) continue;
      this.needKey = false;
      this.received.set(chunk.seq, chunk.atMs);
      this.decoder.decode(
        new EncodedVideoChunk({ type: chunk.key ? 'key' : 'delta', timestamp: chunk.seq, data: chunk.data }),
      );
    }
  }

  private show(frame: VideoFrame): void {
    this.pending?.close();
    this.pending = frame;
    if (this.raf === 0) this.raf = requestAnimationFrame(() => this.paint());
  }

  private paint(): void {
    this.raf = 0;
    const frame = this.pending;
    this.pending = null;
    if (frame === null) return;
    const size = fit(
      { width: frame.displayWidth, height: frame.displayHeight },
      this.tileSize().width,
      this.tileSize().height,
    );
    if (this.canvas.width !== size.width || this.canvas.height !== size.height) {
      this.canvas.width = size.width;
      this.canvas.height = size.height;
    }
    this.context.drawImage(frame, 0, 0, size.width, size.height);
    const atMs = this.received.get(frame.timestamp) ?? Number.NaN;
    for (const seq of this.received.keys()) {
      if (seq <= frame.timestamp) this.received.delete(seq);
    }
    frame.close();
    this.onPainted(atMs, size.width, size.height);
  }

  destroy(): void {
    cancelAnimationFrame(this.raf);
    this.pending?.close();
    this.pending = null;
    if (this.decoder !== null && this.decoder.state !== 'closed') this.decoder.close();
  }
}
