/**
 * `DailyEventsClient`: the room's events from a daily-js call object.
 *
 * The bot publishes envelopes as Daily app messages; any participant can send app messages too, so
 * only messages from the bot participant are fed to the runtime (the rest are dropped and counted
 * as `sender`). How the bot is known, strongest first:
 *   1. `bot.participantId`: its Daily session id, from whatever started it (your server).
 *   2. `bot.userId`: the `user_id` of the bot's meeting token (set server-side; a guest cannot choose it).
 *   3. `bot.userName`: its display name (`BOT_NAME`, default "Prism Facilitator"). Anyone can pick a
 *      name, so use it only in rooms where every participant is trusted.
 *
 * daily-js is a peer dependency: the client uses only `on`/`off`, `participants()`,
 * `sendAppMessage()` and `meetingState()`, so any object with that shape works (the tests use one).
 */

import { EventsClient, type ClientOptions, type Transport, type TransportSink } from "./transport.js";

/** The part of a daily-js call object the client uses. */
export interface DailyCallLike {
  on(event: string, handler: (event?: any) => void): unknown;
  off(event: string, handler: (event?: any) => void): unknown;
  participants(): Record<string, { session_id: string; user_id?: string; user_name?: string; local?: boolean }>;
  sendAppMessage(data: unknown, to?: string): unknown;
  meetingState(): string;
}

/** How to recognise the bot participant (see the module doc). */
export interface BotIdentity {
  participantId?: string;
  userId?: string;
  userName?: string;
}

export const DEFAULT_BOT_NAME = "Prism Facilitator";

/** A {@link Transport} over daily-js app messages. */
export class DailyTransport implements Transport {
  private botId: string | undefined;
  private session: string | undefined;
  private readonly handlers: [string, (event?: any) => void][] = [];

  constructor(
    private readonly call: DailyCallLike,
    private readonly bot: BotIdentity = { userName: DEFAULT_BOT_NAME },
  ) {
    this.botId = bot.participantId;
  }

  start(sink: TransportSink): void {
    const on = (event: string, handler: (e?: any) => void): void => {
      this.call.on(event, handler);
      this.handlers.push([event, handler]);
    };
    on("app-message", (e?: { data?: unknown; fromId?: string }) => {
      const data = e?.data;
      if (typeof data === "object" && data !== null && typeof (data as { sessionId?: unknown }).sessionId === "string") {
        if (this.isBot(e?.fromId)) this.session = (data as { sessionId: string }).sessionId;
      }
      sink.message(data, e?.fromId ?? "");
    });
    on("joined-meeting", () => sink.state("connected"));
    on("left-meeting", () => sink.state("disconnected"));
    on("network-connection", (e?: { event?: string }) => sink.state(e?.event === "interrupted" ? "reconnecting" : "connected"));
    on("participant-left", (e?: { participant?: { session_id?: string } }) => {
      if (e?.participant?.session_id !== undefined && e.participant.session_id === this.botId) {
        sink.state("ended", "the bot left the room");
      }
    });
    if (this.call.meetingState() === "joined-meeting") sink.state("connected");
  }

  stop(): void {
    for (const [event, handler] of this.handlers.splice(0)) this.call.off(event, handler);
  }

  async send(envelope: object): Promise<void> {
    this.call.sendAppMessage(envelope, this.botId ?? "*");
  }

  sessionId(): string | undefined {
    return this.session;
  }

  isBot(from: string | undefined): boolean {
    if (from === undefined || from === "") return false;
    if (this.botId !== undefined) return from === this.botId;
    const p = this.call.participants()[from] ?? Object.values(this.call.participants()).find((x) => x.session_id === from);
    if (p === undefined || p.local) return false;
    const matches =
      (this.bot.userId !== undefined && p.user_id === this.bot.userId) ||
      (this.bot.userId === undefined && this.bot.userName !== undefined && p.user_name === this.bot.userName);
    if (matches) this.botId = from; // pinned: a later participant with the same name is not the bot
    return matches;
  }
}

/** An {@link EventsClient} on a daily-js call object. */
export class DailyEventsClient extends EventsClient {
  constructor(call: DailyCallLike, options: ClientOptions & { bot?: BotIdentity } = {}) {
    super(new DailyTransport(call, options.bot), options);
  }
}
