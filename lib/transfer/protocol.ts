// The two upload formats spoken on one port (docs/file-transfer.md has them
// byte by byte): the tutorial's demo11/demo12 format, kept exactly, and the
// extended format (64-bit size, SHA-256 trailer, replies that say why).
// Pure encoding, decoding and validation: no I/O here.

/** sizeof(struct st_fileinfo) on x86-64: char filename[256]; int filesize; */
export const TUTORIAL_HEADER_SIZE = 260;
/** The filename field of the tutorial's struct, NUL terminator included. */
export const TUTORIAL_NAME_FIELD = 256;
/** The largest size an `int filesize` can announce. */
export const TUTORIAL_MAX_SIZE = 0x7fff_ffff;
/** The tutorial's only reply, sent after the header and after the content. */
export const TUTORIAL_OK: Buffer = Buffer.from('ok', 'latin1');

/** NAME_MAX of Linux file systems: the longest single path component, in bytes. */
export const NAME_MAX = 255;

/** "\0sockfd" then the version byte. A NUL first byte never starts a valid tutorial header (its name would be empty). */
export const EXTENDED_MAGIC: Buffer = Buffer.from([0x00, 0x73, 0x6f, 0x63, 0x6b, 0x66, 0x64, 0x01]);
/** magic (8) + size (u64 BE, 8) + name length (u16 BE, 2); the name follows. */
export const EXTENDED_FIXED_SIZE = 18;
/** The SHA-256 digest that follows the content in the extended format. */
export const DIGEST_SIZE = 32;
/** Digest algorithm of the trailer, as node:crypto names it. */
export const DIGEST_ALGORITHM = 'sha256';

/** Reply codes of the extended format (one byte on the wire). */
export const ReplyCode = {
  /** Go on (after the header) or stored (after the content; the reason holds the SHA-256 in hex). */
  OK: 0,
  /** Not a header this server understands: wrong magic or version, truncated, garbage. */
  BAD_HEADER: 1,
  /** The name is not a single plain file name. */
  BAD_NAME: 2,
  /** The size is above the server's limit. */
  TOO_LARGE: 3,
  /** The target file system has no room for the announced size. */
  NO_SPACE: 4,
  /** The content's SHA-256 differs from the trailer's. */
  CHECKSUM_MISMATCH: 5,
  /** Bytes arrived after the trailer. */
  TOO_MUCH_DATA: 6,
  /** The server could not create, write or publish the file (the reason says which call failed). */
  STORAGE_ERROR: 7,
  /** The client sent nothing for longer than the server's idle timeout. */
  TIMEOUT: 8,
  /** The server was told to stop (SIGTERM/SIGINT) during the upload. */
  SHUTTING_DOWN: 9,
  /** The connection ended before the announced bytes arrived. */
  TRUNCATED: 10,
  /** Every upload slot stayed taken for as long as the server lets a connection wait. */
  BUSY: 11,
} as const;
/** The name of a reply code (a key of ReplyCode). */
export type ReplyCodeName = keyof typeof ReplyCode;

const codeNames = new Map<number, ReplyCodeName>(
  (Object.entries(ReplyCode) as [ReplyCodeName, number][]).map(([name, code]) => [code, name]),
);

/** Codes that say the upload broke (the other non-OK codes say the server refused it). */
const FAILURE_CODES: ReadonlySet<string> = new Set<ReplyCodeName>(['TRUNCATED', 'TIMEOUT', 'SHUTTING_DOWN', 'STORAGE_ERROR', 'BUSY']);

/** 'stored' for OK, 'failed' when the upload broke, 'refused' when the server would not take it. */
export function outcomeOfCode(codeName: string): 'stored' | 'refused' | 'failed' {
  return codeName === 'OK' ? 'stored' : FAILURE_CODES.has(codeName) ? 'failed' : 'refused';
}

/** The name of a reply code, or `CODE_<n>` for a code this version does not know. */
export function replyCodeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

/** Why an upload was refused or failed: the code goes on the wire (extended format), the reason too. */
export class TransferRefusal extends Error {
  override name = 'TransferRefusal';
  /** An Error of `code` and `reason`. */
  constructor(
    /** The reply code sent to the client. */
    readonly code: ReplyCodeName,
    /** Why, in words (sent with the extended format). */
    readonly reason: string,
  ) {
    super(`${code}: ${reason}`);
  }
}

/** Which format a connection speaks, judged by its first byte. */
export type TransferFormat = 'tutorial' | 'extended';

/** A header starting with NUL is extended: a tutorial header's first byte is its name's first, never NUL. */
export function formatOfFirstByte(byte: number): TransferFormat {
  return byte === 0 ? 'extended' : 'tutorial';
}

// ---- names ------------------------------------------------------------------
// ignoreBOM: a leading U+FEFF stays in the text, so it is judged (and refused) like any other character.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Characters that make a listing lie: bidirectional overrides, embeddings,
 * isolates and marks reorder what `ls` shows ("evil\u202Etxt.exe" reads as
 * "evilexe.txt"); zero-width and invisible ones make two names look alike.
 */
const DECEPTIVE: ReadonlyMap<number, string> = new Map([
  [0x00ad, 'SOFT HYPHEN'],
  [0x061c, 'ARABIC LETTER MARK'],
  [0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [0x200b, 'ZERO WIDTH SPACE'],
  [0x200c, 'ZERO WIDTH NON-JOINER'],
  [0x200d, 'ZERO WIDTH JOINER'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x2060, 'WORD JOINER'],
  [0x2061, 'FUNCTION APPLICATION'],
  [0x2062, 'INVISIBLE TIMES'],
  [0x2063, 'INVISIBLE SEPARATOR'],
  [0x2064, 'INVISIBLE PLUS'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0xfeff, 'ZERO WIDTH NO-BREAK SPACE (BOM)'],
]);

const codePointName = (code: number): string => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** Uploads are written under this prefix before they are renamed; clients may not use it. */
export const TEMP_PREFIX = '.sockfd-upload-';

/**
 * The reason a file name is refused, or null when it is a single plain
 * component: not empty, not `.` or `..`, no `/`, no NUL, no control
 * character (C0, DEL, C1), no bidirectional-override or zero-width
 * character, valid UTF-8 (a BOM is a character like any other), at most
 * NAME_MAX bytes, and not the server's temporary-file prefix.
 */
export function nameProblem(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return 'the name is empty';
  if (bytes.length > NAME_MAX) return `the name is ${bytes.length} bytes, more than ${NAME_MAX}`;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'the name is not valid UTF-8';
  }
  if (text === '.' || text === '..') return `the name '${text}' is not a file name`;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code === 0) return 'the name contains a NUL byte';
    if (char === '/') return 'the name contains /: only a single file name is accepted';
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `the name contains the control character ${codePointName(code)}`;
    const deceptive = DECEPTIVE.get(code);
    if (deceptive !== undefined)
      return `the name contains ${codePointName(code)} ${deceptive}, which makes a listing show something else than the name`;
  }
  if (text.startsWith(TEMP_PREFIX)) return `names starting with ${TEMP_PREFIX} are reserved for the server's temporary files`;
  return null;
}

/** The name as text, or a BAD_NAME refusal. */
export function checkName(bytes: Uint8Array): string {
  const problem = nameProblem(bytes);
  if (problem !== null) throw new TransferRefusal('BAD_NAME', problem);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** Printable form of a name for logs: quoted, control characters, quotes and backslashes escaped. */
export function printableName(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f"\\]/g, (c) =>
    c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `"${escaped}"`;
}

// ---- the tutorial's format ------------------------------------------------------
/** The tutorial's header (demo11/demo12's struct st_fileinfo): the file's name and size. */
export interface UploadHeader {
  name: string;
  size: number;
}

/** struct st_fileinfo as x86-64 lays it out: NUL-padded name[256], int32 little-endian size. */
export function encodeTutorialHeader(name: string, size: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const problem = nameProblem(nameBytes);
  if (problem !== null) throw new RangeError(`cannot send ${JSON.stringify(name)}: ${problem}`);
  if (nameBytes.length >= TUTORIAL_NAME_FIELD) throw new RangeError(`the tutorial's format holds names of at most ${TUTORIAL_NAME_FIELD - 1} bytes`);
  if (!Number.isSafeInteger(size) || size < 0 || size > TUTORIAL_MAX_SIZE)
    throw new RangeError(`the tutorial's format holds sizes of 0..${TUTORIAL_MAX_SIZE} bytes (an int), got ${size}`);
  const header = Buffer.alloc(TUTORIAL_HEADER_SIZE); // zeroed, as the C's memset
  nameBytes.copy(header, 0);
  header.writeInt32LE(size, TUTORIAL_NAME_FIELD);
  return header;
}

/** The two fields of a tutorial header, unchecked: the name's bytes (null when no NUL ends them) and the int. */
export interface TutorialFields {
  nameBytes: Buffer | null;
  size: number;
}

/** Splits a 260-byte tutorial header. The name ends at the first NUL; bytes after it are ignored, as C's strings do. */
export function splitTutorialHeader(header: Uint8Array): TutorialFields {
  if (header.length !== TUTORIAL_HEADER_SIZE) throw new TransferRefusal('BAD_HEADER', `the header is ${header.length} bytes, not ${TUTORIAL_HEADER_SIZE}`);
  const view = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  const end = view.subarray(0, TUTORIAL_NAME_FIELD).indexOf(0);
  return { nameBytes: end < 0 ? null : view.subarray(0, end), size: view.readInt32LE(TUTORIAL_NAME_FIELD) };
}

/** Checks a tutorial header's fields: a plain name ended by NUL, a size of 0..maxSize. */
export function checkTutorialFields(fields: TutorialFields, maxSize: number): UploadHeader {
  if (fields.nameBytes === null) throw new TransferRefusal('BAD_NAME', `the name fills all ${TUTORIAL_NAME_FIELD} bytes with no terminating NUL`);
  const name = checkName(fields.nameBytes);
  return { name, size: checkSize(BigInt(fields.size), maxSize) };
}

/** Reads and checks a 260-byte tutorial header. */
export function decodeTutorialHeader(header: Uint8Array, maxSize: number): UploadHeader {
  return checkTutorialFields(splitTutorialHeader(header), maxSize);
}

/** The size as a number, or BAD_HEADER (negative) / TOO_LARGE (above maxSize). */
export function checkSize(size: bigint, maxSize: number): number {
  if (size < 0n) throw new TransferRefusal('BAD_HEADER', `the size is negative (${size})`);
  if (size > BigInt(maxSize)) throw new TransferRefusal('TOO_LARGE', `${size} bytes is more than this server's limit of ${maxSize}`);
  return Number(size);
}

// ---- the extended format ---------------------------------------------------------
/** magic, u64 BE size, u16 BE name length, name. */
export function encodeExtendedHeader(name: string, size: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const problem = nameProblem(nameBytes);
  if (problem !== null) throw new RangeError(`cannot send ${JSON.stringify(name)}: ${problem}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative safe integer, got ${size}`);
  const header = Buffer.alloc(EXTENDED_FIXED_SIZE + nameBytes.length);
  EXTENDED_MAGIC.copy(header, 0);
  header.writeBigUInt64BE(BigInt(size), 8);
  header.writeUInt16BE(nameBytes.length, 16);
  nameBytes.copy(header, EXTENDED_FIXED_SIZE);
  return header;
}

/** The fixed part of an extended header: the size (unchecked: see checkSize) and how many name bytes follow. */
export interface ExtendedFixed {
  size: bigint;
  nameLength: number;
}

/** Checks magic, version and the name length (1..NAME_MAX); the size is checked after the name is read, so logs can name the file. */
export function decodeExtendedFixed(fixed: Uint8Array): ExtendedFixed {
  if (fixed.length !== EXTENDED_FIXED_SIZE) throw new TransferRefusal('BAD_HEADER', `the header is ${fixed.length} bytes, not ${EXTENDED_FIXED_SIZE}`);
  const view = Buffer.from(fixed.buffer, fixed.byteOffset, fixed.byteLength);
  if (!view.subarray(0, 7).equals(EXTENDED_MAGIC.subarray(0, 7))) throw new TransferRefusal('BAD_HEADER', 'the header does not start with "\\0sockfd"');
  if (view[7] !== EXTENDED_MAGIC[7]) throw new TransferRefusal('BAD_HEADER', `version ${view[7]} is not supported (this server speaks ${EXTENDED_MAGIC[7]})`);
  const nameLength = view.readUInt16BE(16);
  if (nameLength === 0) throw new TransferRefusal('BAD_NAME', 'the name is empty');
  if (nameLength > NAME_MAX) throw new TransferRefusal('BAD_NAME', `the name is ${nameLength} bytes, more than ${NAME_MAX}`);
  return { size: view.readBigUInt64BE(8), nameLength };
}

/**
 * How many bytes the header starting with `peeked` takes in all, as far as
 * the bytes so far tell (18 until the extended name length is known), or
 * null when `peeked` is empty. The server waits for that many before it
 * spends a process on the connection; a header it will refuse counts as complete.
 */
export function headerLength(peeked: Uint8Array): number | null {
  if (peeked.length === 0) return null;
  if (formatOfFirstByte(peeked[0]!) === 'tutorial') return TUTORIAL_HEADER_SIZE;
  if (peeked.length < EXTENDED_FIXED_SIZE) return EXTENDED_FIXED_SIZE;
  const nameLength = (peeked[16]! << 8) | peeked[17]!;
  return nameLength > NAME_MAX ? EXTENDED_FIXED_SIZE : EXTENDED_FIXED_SIZE + nameLength;
}

/** The longest header there is: the extended fixed part and a NAME_MAX name. */
export const MAX_HEADER_SIZE = Math.max(TUTORIAL_HEADER_SIZE, EXTENDED_FIXED_SIZE + NAME_MAX);

// ---- replies of the extended format ------------------------------------------------
/** code (u8), reason length (u8), reason (UTF-8, cut to 255 bytes on a character boundary). */
export function encodeReply(code: ReplyCodeName, reason = ''): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > 255) {
    let end = 255;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence
    text = text.subarray(0, end);
  }
  return Buffer.concat([Buffer.from([ReplyCode[code], text.length]), text]);
}

/** A server's reply, decoded. */
export interface Reply {
  code: number;
  /** ReplyCode name, or CODE_<n> when unknown. */
  codeName: string;
  reason: string;
}

/** A reply from its code byte and reason bytes. */
export function decodeReply(code: number, reason: Uint8Array): Reply {
  return { code, codeName: replyCodeName(code), reason: Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength).toString('utf8') };
}
