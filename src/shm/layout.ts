/**
 * The one place that knows where things live in shared memory. Every primitive and (later) the
 * slot table reads its word offsets from here; nothing else hard-codes an index.
 *
 * Units are Int32 words (4 bytes). A cache line is taken to be 64 bytes = 16 words: words that
 * different threads write often are kept on different lines so they do not false-share.
 *
 * Bump LAYOUT_VERSION whenever an offset, a bit or a meaning here changes: handles carry it, and a
 * handle from another version is refused with a LayoutMismatchError instead of being misread.
 */

export const LAYOUT_VERSION = 1;

export const WORD_BYTES = Int32Array.BYTES_PER_ELEMENT;
export const CACHE_LINE_BYTES = 64;
export const CACHE_LINE_WORDS = CACHE_LINE_BYTES / WORD_BYTES;

/**
 * Every buffer atomvisor lays out on its own (channel, slot table) starts with the same two words:
 * a magic number naming what it is (stored last by its creator) and LAYOUT_VERSION.
 */
export const Header = { MAGIC: 0, VERSION: 1 } as const;

/** Handle kinds: the `kind` field of a structured-cloneable handle. */
export const HandleKind = {
  mutex: 'atomvisor.mutex',
  seqlock: 'atomvisor.seqlock',
  channel: 'atomvisor.channel',
  frameRing: 'atomvisor.frame-ring',
} as const;

/**
 * Mutex: two words.
 * - LOCK: 0 when free; otherwise `(ownerTag << OWNER_SHIFT) | waitersBit`, where ownerTag is the
 *   holder's threadId + 1. The owner lives in the lock word itself (as in Linux robust futexes),
 *   so there is no moment at which the lock is held but its owner unrecorded.
 * - FLAGS: FLAG_OWNER_DIED is set by owner-death recovery and cleared by markConsistent().
 */
export const Mutex = {
  WORDS: 2,
  LOCK: 0,
  FLAGS: 1,
  WAITERS_BIT: 1,
  OWNER_SHIFT: 1,
  /** Largest threadId that fits: ownerTag must stay below 2^30 so the word stays positive. */
  MAX_THREAD_ID: 2 ** 30 - 2,
  FLAG_OWNER_DIED: 1,
} as const;

/**
 * Seqlock: a sequence word, a parked-thread count, then the protected fields.
 * SEQ is even when no write is in progress, odd while a writer holds it.
 * PARKED counts threads sleeping on SEQ, so a writer notifies only when someone sleeps.
 */
export const Seqlock = {
  SEQ: 0,
  PARKED: 1,
  FIELDS: 2,
  MAX_FIELDS: 1024,
  words(fieldCount: number): number {
    return 2 + fieldCount;
  },
} as const;

/**
 * SharedChannel: a header of five cache lines, then the ring of slots.
 *
 * line 0 (read-mostly): magic, version, mode, capacity, message words, closed flag, role claims
 * line 1: TAIL, the write index, and SENDING, sends in progress (written by producers)
 * line 2: HEAD, the read index (written by the consumer)
 * line 3: the consumer's parking words (NOT_EMPTY futex word, CONSUMERS_WAITING)
 * line 4: the producers' parking words (NOT_FULL futex word, PRODUCERS_WAITING)
 *
 * SPSC slot: the message words. MPSC slot: a sequence word then the message words (Vyukov).
 */
export const Channel = {
  MAGIC: Header.MAGIC,
  VERSION: Header.VERSION,
  MODE: 2,
  CAPACITY: 3,
  MESSAGE_WORDS: 4,
  CLOSED: 5,
  PRODUCER_CLAIM: 6,
  CONSUMER_CLAIM: 7,
  CLAIM_TICKETS: 8,
  TAIL: 1 * CACHE_LINE_WORDS,
  SENDING: 1 * CACHE_LINE_WORDS + 1,
  HEAD: 2 * CACHE_LINE_WORDS,
  NOT_EMPTY: 3 * CACHE_LINE_WORDS,
  CONSUMERS_WAITING: 3 * CACHE_LINE_WORDS + 1,
  NOT_FULL: 4 * CACHE_LINE_WORDS,
  PRODUCERS_WAITING: 4 * CACHE_LINE_WORDS + 1,
  SLOTS: 5 * CACHE_LINE_WORDS,
  MAGIC_VALUE: 0x41564348, // 'AVCH'
  MODE_SPSC: 1,
  MODE_MPSC: 2,
  MAX_CAPACITY: 2 ** 24,
  MAX_MESSAGE_WORDS: 4096,
  slotWords(mode: number, messageWords: number): number {
    return mode === 2 ? messageWords + 1 : messageWords;
  },
  words(mode: number, capacity: number, messageWords: number): number {
    return 5 * CACHE_LINE_WORDS + capacity * (mode === 2 ? messageWords + 1 : messageWords);
  },
} as const;

/**
 * FrameRing (src/shm/frame-ring.ts): a header of five cache lines, then `capacity` data bytes.
 *
 * line 0 (read-mostly): magic, version, capacity in bytes, closed flag
 * line 1: TAIL, bytes ever published (written by the producer only)
 * line 2: HEAD, bytes ever consumed (written by the consumer only)
 * line 3: the consumer's parking words: DATA_SEQ (futex word), CONSUMER_SLEEPING
 * line 4: the producer's parking words: SPACE_SEQ (futex word), PRODUCER_SLEEPING
 *
 * TAIL and HEAD count bytes as wrapping Int32s; a position in the data is `index & (capacity - 1)`.
 * A frame starts on an 8-byte boundary: four Int32 header words (FRAME_*), then the payload,
 * padded to 8 bytes. A frame never wraps: where the rest of the data area cannot hold it, the
 * producer writes a PAD frame over the rest (or, when fewer than FRAME_HEADER_BYTES remain, both
 * sides skip them by rule) and the frame starts at position 0.
 */
export const FrameRing = {
  MAGIC: Header.MAGIC,
  VERSION: Header.VERSION,
  CAPACITY: 2,
  CLOSED: 3,
  TAIL: 1 * CACHE_LINE_WORDS,
  HEAD: 2 * CACHE_LINE_WORDS,
  DATA_SEQ: 3 * CACHE_LINE_WORDS,
  CONSUMER_SLEEPING: 3 * CACHE_LINE_WORDS + 1,
  SPACE_SEQ: 4 * CACHE_LINE_WORDS,
  PRODUCER_SLEEPING: 4 * CACHE_LINE_WORDS + 1,
  HEADER_WORDS: 5 * CACHE_LINE_WORDS,
  HEADER_BYTES: 5 * CACHE_LINE_BYTES,
  MAGIC_VALUE: 0x41564652, // 'AVFR'
  /** Data bytes: a power of two in [MIN_CAPACITY, MAX_CAPACITY]. */
  MIN_CAPACITY: 1024,
  MAX_CAPACITY: 2 ** 30,
  FRAME_HEADER_BYTES: 16,
  FRAME_ALIGN: 8,
  // words within a frame header
  FRAME_LENGTH: 0,
  FRAME_SLOT: 1,
  FRAME_GENERATION: 2,
  /** Low 8 bits: the kind (0 = PAD); bit 8: MORE, another chunk of the same message follows. */
  FRAME_TYPE: 3,
  KIND_PAD: 0,
  KIND_MASK: 0xff,
  FLAG_MORE: 0x100,
  bytes(capacity: number): number {
    return 5 * CACHE_LINE_BYTES + capacity;
  },
} as const;

/**
 * Slot table (src/table): two header lines, then one 64-byte slot (16 words) per connection, so
 * slots never false-share.
 *
 * Header line 0 (read-mostly): MAGIC, VERSION, CAPACITY, EPOCH_HI/EPOCH_LO (the table's epoch in
 * ms since the Unix epoch, split in two words; every slot timestamp is ms since it, as a wrapping
 * Int32, so ages up to 24 days compare correctly).
 * Header line 1: RELEASES (a futex word bumped when a slot may have become leasable and someone
 * waits) and LEASE_WAITERS (threads parked on it).
 *
 * Slot words:
 *   STATE        status | generation | flags, changed only by CAS (src/table/state.ts)
 *   LEASE        0 when no exclusive lease is held, else the holder's lease id
 *   LEASE_SINCE  when the current lease was taken (ms since epoch)
 *   WAITERS      callers waiting to lease this slot (informational, for stats)
 *   IN_FLIGHT    requests sent and not yet settled
 *   SEQ, PARKED  the seqlock over the FIELDS below (words SEQ .. SEQ + 1 + FIELD_COUNT)
 *   LEASE_IDS    this slot's lease-id counter (ids are unique per slot)
 *   FIELDS       PID, RESTARTS, STARTED_AT, EXIT (code, or 1000 + signal number), PROBE_FAILURES,
 *                PROBE_SUCCESSES, LAST_PROBE_AT, LAST_PROBE_MS
 */
export const Table = {
  MAGIC: Header.MAGIC,
  VERSION: Header.VERSION,
  CAPACITY: 2,
  EPOCH_HI: 3,
  EPOCH_LO: 4,
  RELEASES: CACHE_LINE_WORDS,
  LEASE_WAITERS: CACHE_LINE_WORDS + 1,
  HEADER_WORDS: 2 * CACHE_LINE_WORDS,
  MAGIC_VALUE: 0x41565442, // 'AVTB'
  SLOT_WORDS: CACHE_LINE_WORDS,
  MAX_CAPACITY: 65_536,
  // words within a slot
  STATE: 0,
  LEASE: 1,
  LEASE_SINCE: 2,
  WAITERS: 3,
  IN_FLIGHT: 4,
  SEQ: 5,
  LEASE_IDS: 15,
  FIELD_COUNT: 8,
  // field numbers within the seqlock record (words SEQ + 2 ..)
  F_PID: 0,
  F_RESTARTS: 1,
  F_STARTED_AT: 2,
  F_EXIT: 3,
  F_PROBE_FAILURES: 4,
  F_PROBE_SUCCESSES: 5,
  F_LAST_PROBE_AT: 6,
  F_LAST_PROBE_MS: 7,
  /** State word bit layout (low to high): status 4 bits, generation 20 bits, flags 8 bits. */
  STATUS_BITS: 4,
  GENERATION_BITS: 20,
  FLAG_BITS: 8,
  slotBase(slot: number): number {
    return 2 * CACHE_LINE_WORDS + slot * CACHE_LINE_WORDS;
  },
  words(capacity: number): number {
    return CACHE_LINE_WORDS * (2 + capacity);
  },
} as const;
