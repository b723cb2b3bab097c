/**
 * Transports and the client that joins one to a runtime.
 *
 * A transport delivers raw inbound messages (with the sender when it knows one) and sends
 * browser-origin envelopes; the client does the rest: sender checks, the runtime, the browser's own
 * `meta.seq`, the 4 KB size check, the connection state. `DailyTransport` (daily-js app messages)
 * and `SseTransport` (the supervisor's live feed) are the two shipped.
 */

import { createEnvelope, type BrowserTopicId } from "../envelope.js";
import { registry } from "../generated/registry.js";
import type { TopicPayloads } from "../generated/topics.js";
import { EventRuntime, type RuntimeOptions } from "./runtime.js";

/** Connection state a view can show. */
export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected" | "ended";

/** What a transport calls. */
export interface TransportSink {
  /** One inbound message: `from` is the transport's sender id (undefined when the stream is the bot's alone). */
  message(raw: unknown, from?: string): void;
  state(state: ConnectionState, detail?: string): void;
}

/** The small interface a stream of envelopes implements. */
export interface Transport {
  start(sink: TransportSink): void | Promise<void>;
  stop(): void | Promise<void>;
  /** Deliver a browser envelope (already size-checked) to the bot. */
  send(envelope: object): Promise<void>;
  /** The session id the browser's envelopes carry (the room's bot session), when known. */
  sessionId(): string | undefined;
  /** Whether `from` is the bot (transports without senders return true). */
  isBot(from: string | undefined): boolean;
}

/** Daily's app-message limit, from the spec's `app_message` destination. */
export const APP_MESSAGE_MAX_BYTES: number = registry.destinations.app_message.maxBytes as number;

/** A send refused before it left the page. */
export class SendError extends Error {
  constructor(
    readonly reason: "too_large" | "no_session" | "not_connected",
    message: string,
  ) {
    super(message);
    this.name = "SendError";
  }
}

/** Options of {@link EventsClient}. */
export interface ClientOptions extends RuntimeOptions {
  /** Use this runtime instead of a new one. */
  runtime?: EventRuntime;
}

/** Joins a transport to a runtime; see the module doc. */
export class EventsClient {
  readonly runtime: EventRuntime;
  private current: ConnectionState = "idle";
  private readonly listeners = new Set<(state: ConnectionState, detail?: string) => void>();
  private seq = 0;
  private seqSession: string | undefined;
  private lastSessionSeen: string | undefined;
  /** `performance.now()` when the message being dispatched arrived from the transport (before
   * any checks): a view reads it in its handler to measure arrival → screen. */
  arrivedAt = 0;

  constructor(
    readonly transport: Transport,
    options: ClientOptions = {},
  ) {
    this.runtime = options.runtime ?? new EventRuntime(options);
  }

  /** The connection state now. */
  get state(): ConnectionState {
    return this.current;
  }

  /** Be told of every state change; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState, detail?: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.setState("connecting");
    await this.transport.start({
      message: (raw, from) => this.onMessage(raw, from),
      state: (state, detail) => this.setState(state, detail),
    });
  }

  async stop(): Promise<void> {
    await this.transport.stop();
    this.setState("disconnected");
  }

  /**
   * Publish a browser-origin envelope (today `room.vote.cast`) to the bot. Checks the 4 KB app-message
   * limit and numbers it with the browser's own `meta.seq` (from 1 per bot session). Throws
   * {@link SendError} when it cannot go.
   */
  async publish<T extends BrowserTopicId>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    const sessionId = this.transport.sessionId() ?? this.lastSessionSeen;
    if (sessionId === undefined) throw new SendError("no_session", "no bot session yet: wait for the first envelope");
    if (sessionId !== this.seqSession) {
      this.seqSession = sessionId;
      this.seq = 0;
    }
    const envelope = createEnvelope(topic, payload, { sessionId, seq: this.seq + 1 });
    const size = new TextEncoder().encode(JSON.stringify(envelope)).length;
    if (size > APP_MESSAGE_MAX_BYTES) {
      throw new SendError("too_large", `the envelope is ${size} bytes, over the ${APP_MESSAGE_MAX_BYTES}-byte app-message limit`);
    }
    await this.transport.send(envelope);
    this.seq += 1; // only a sent envelope uses a number: the bot sees no gap for a refused one
  }

  /** Cast a ballot in the open vote. */
  vote(voteId: string, option: string): Promise<void> {
    return this.publish("room.vote.cast", { voteId, option });
  }

  private onMessage(raw: unknown, from: string | undefined): void {
    this.arrivedAt = typeof performance === "undefined" ? Date.now() : performance.now();
    if (!this.transport.isBot(from)) {
      this.runtime.drop("sender", "not from the bot participant");
      return;
    }
    const result = this.runtime.receive(raw);
    if (result.ok && result.envelope.runtime === "bot") this.lastSessionSeen = result.envelope.sessionId;
  }

  private setState(state: ConnectionState, detail?: string): void {
    if (state === this.current) return;
    this.current = state;
    for (const listener of [...this.listeners]) {
      try {
        listener(state, detail);
      } catch (error) {
        console.error("connection state listener failed", error);
      }
    }
  }
}
