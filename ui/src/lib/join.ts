// The join form's types and the checks the screen runs while the user types.
//
// The Rust command `join_class` (src-tauri/src/join.rs) is the authority and runs the same rules;
// both run the cases in join.cases.json, so they cannot drift apart unnoticed. These checks only
// exist to point at the right field before anything is sent.

/** Whether the person joining teaches the class or attends it. */
export type Role = 'teacher' | 'student';

/** What the join screen sends to `join_class`; field names match Rust's `JoinForm`. */
export interface JoinForm {
  role: Role;
  name: string;
  server: string;
  room: string;
}

/** The fields that can be wrong. */
export type JoinField = 'name' | 'server' | 'room';

/** One message per field that is wrong; an empty object means the form may be sent. */
export type JoinErrors = Partial<Record<JoinField, string>>;

/** Longest display name or room name, in characters (code points), as in Rust. */
export const MAX_NAME_CHARS = 64;

/** Counts code points, as Rust's `chars().count()` does, rather than UTF-16 units. */
function charCount(text: string): number {
  return [...text].length;
}

function checkName(raw: string): string | undefined {
  const name = raw.trim();
  if (name === '') return 'Enter the name the class will see.';
  if (charCount(name) > MAX_NAME_CHARS) {
    return `Use a name of at most ${MAX_NAME_CHARS} characters.`;
  }
  return undefined;
}

function checkServer(raw: string): string | undefined {
  const server = raw.trim();
  if (server === '') return 'Enter the class server address, like ws://192.168.1.10:8080/ws.';
  let rest: string;
  if (server.startsWith('ws://')) rest = server.slice('ws://'.length);
  else if (server.startsWith('wss://')) rest = server.slice('wss://'.length);
  else return 'The server address must start with ws:// or wss://.';
  if (/\s/u.test(server)) return 'The server address cannot contain spaces.';
  const host = rest.split(/[/?#]/u, 1)[0] ?? '';
  if (host === '' || host.startsWith(':')) {
    return 'The server address needs a host, like ws://192.168.1.10:8080/ws.';
  }
  return undefined;
}

function checkRoom(raw: string): string | undefined {
  const room = raw.trim();
  if (room === '') return 'Enter the room to join.';
  if (charCount(room) > MAX_NAME_CHARS) {
    return `Use a room name of at most ${MAX_NAME_CHARS} characters.`;
  }
  return undefined;
}

/** Checks every field and returns a message for each one that is wrong. */
export function validateJoin(form: JoinForm): JoinErrors {
  const errors: JoinErrors = {};
  const name = checkName(form.name);
  if (name !== undefined) errors.name = name;
  const server = checkServer(form.server);
  if (server !== undefined) errors.server = server;
  const room = checkRoom(form.room);
  if (room !== undefined) errors.room = room;
  return errors;
}

/** True when `validateJoin` found nothing wrong. */
export function isValid(errors: JoinErrors): boolean {
  return Object.keys(errors).length === 0;
}
