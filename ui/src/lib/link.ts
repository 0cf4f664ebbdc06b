// The teacher's invite link (`classroom://join?server=…&room=…&invite=…&pin=…`, built by
// src-tauri/src/link.rs): a student pastes it once instead of three values, and it carries the
// certificate fingerprint a class on the school network is trusted by.

/** What an invite link holds, ready for the join form. */
export interface InviteLink {
  server: string;
  room: string;
  token: string;
  /** The class server's certificate fingerprint (unpadded base64url), for `wss://` classes. */
  pin?: string;
}

/** The scheme and path every invite link starts with. */
export const LINK_PREFIX = 'classroom://join';

/** Whether the text looks like an invite link (so a broken one is reported, not ignored). */
export function looksLikeLink(text: string): boolean {
  return text.trim().toLowerCase().startsWith(LINK_PREFIX);
}

/** Reads an invite link; `null` when it is not one or lacks what a join needs. */
export function parseInviteLink(text: string): InviteLink | null {
  const trimmed = text.trim();
  if (!looksLikeLink(trimmed)) return null;
  const query = trimmed.slice(LINK_PREFIX.length);
  if (query !== '' && !query.startsWith('?')) return null;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    return null;
  }
  const server = params.get('server')?.trim() ?? '';
  const room = params.get('room')?.trim() ?? '';
  const token = params.get('invite')?.trim() ?? '';
  if (server === '' || room === '' || token === '') return null;
  const pin = params.get('pin')?.trim();
  return pin ? { server, room, token, pin } : { server, room, token };
}
