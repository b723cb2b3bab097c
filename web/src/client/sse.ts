/**
 * `SseTransport`: the room's events from the supervisor's live feed (`GET /rooms/{id}/events`).
 *
 * The feed carries only the bot's envelopes (there is no other sender), as browsers in a Daily room
 * would see them. `EventSource` reconnects by itself and sends `Last-Event-ID` (the last `meta.seq`),
 * so the supervisor resumes without loss or duplicates; a `dropped` event (the page fell behind)
 * is followed by that reconnect, an `end` event closes the stream for good. Votes go to
 * `POST /rooms/{id}/messages`.
 */

import { EventsClient, type ClientOptions, type Transport, type TransportSink } from "./transport.js";

/** Where the feed is and how to authenticate. */
export interface SseOptions {
  /** The supervisor's base URL ("" = this page's origin). */
  baseUrl?: string;
  roomId: string;
  /** A view token (`POST /view-tokens`); sent as `?token=` (EventSource cannot set headers). */
  token?: string;
  /** The EventSource constructor (tests; default: the page's). */
  EventSourceImpl?: typeof EventSource;
  fetchImpl?: typeof fetch;
}

/** A {@link Transport} over the supervisor's Server-Sent Events feed. */
export class SseTransport implements Transport {
  private source: EventSource | undefined;
  private session: string | undefined;
  /** The feed's `hello` events so far (1 + reconnects). */
  connects = 0;
  /** `dropped` events: the supervisor ended the stream because this page fell behind. */
  droppedByServer = 0;
  /** The room's title from the feed's `hello` (the scenario's name, or "Daily room"). */
  title: string | undefined;
  /** Envelopes the resume point was behind the supervisor's backlog (lost to this page), summed. */
  missed = 0;
  /** Called on every `hello` (first connect and each resume). */
  onHello: ((hello: { roomId?: string; title?: string; status?: string; sessionId?: string | null; missed?: number }) => void) | undefined;

  constructor(private readonly options: SseOptions) {}

  private url(path: string): string {
    const base = this.options.baseUrl ?? "";
    const token = this.options.token ? `?token=${encodeURIComponent(this.options.token)}` : "";
    return `${base}/rooms/${encodeURIComponent(this.options.roomId)}/${path}${token}`;
  }

  start(sink: TransportSink): void {
    const Impl = this.options.EventSourceImpl ?? EventSource;
    const source = new Impl(this.url("events"));
    this.source = source;
    source.addEventListener("hello", (e) => {
      this.connects += 1;
      try {
        const hello = JSON.parse((e as MessageEvent<string>).data) as { sessionId?: string | null; status?: string; title?: string; missed?: number };
        if (typeof hello.sessionId === "string") this.session = hello.sessionId;
        if (typeof hello.title === "string") this.title = hello.title;
        if (typeof hello.missed === "number") this.missed += hello.missed;
        this.onHello?.(hello);
      } catch {
        /* a malformed hello only loses the session hint */
      }
      sink.state("connected");
    });
    source.addEventListener("message", (e) => {
      const data = (e as MessageEvent<string>).data;
      sink.message(data);
    });
    source.addEventListener("dropped", () => {
      this.droppedByServer += 1;
      sink.state("reconnecting", "the page fell behind; resuming");
    });
    source.addEventListener("end", () => {
      source.close();
      sink.state("ended", "the room is over");
    });
    source.onerror = () => {
      if (source.readyState === 2 /* CLOSED */) {
        if (this.source === source) sink.state("disconnected", "the feed refused the connection (token expired, or no such room)");
      } else {
        sink.state("reconnecting");
      }
    };
  }

  stop(): void {
    this.source?.close();
    this.source = undefined;
  }

  async send(envelope: object): Promise<void> {
    const fetcher = this.options.fetchImpl ?? fetch;
    const response = await fetcher(this.url("messages"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(envelope),
    });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        message = ((await response.json()) as { message?: string }).message ?? message;
      } catch {
        /* keep the status */
      }
      throw new Error(message);
    }
  }

  sessionId(): string | undefined {
    return this.session;
  }

  isBot(): boolean {
    return true;
  }
}

/** An {@link EventsClient} on the supervisor's live feed of one room. */
export class SseEventsClient extends EventsClient {
  constructor(options: SseOptions & ClientOptions) {
    super(new SseTransport(options), options);
  }
}
