/**
 * The browser client of Prism Room Bot's events: the runtime, the transports (Daily, SSE) and the
 * generated types. Import from here in a front-end.
 */

export { EventRuntime, type DropReason, type DropRecord, type Handler, type RuntimeOptions, type RuntimeStats } from "./runtime.js";
export { compilePattern, topicFamily } from "./patterns.js";
export { PayloadValidator } from "./validate.js";
export { APP_MESSAGE_MAX_BYTES, EventsClient, SendError, type ClientOptions, type ConnectionState, type Transport, type TransportSink } from "./transport.js";
export { DailyEventsClient, DailyTransport, DEFAULT_BOT_NAME, type BotIdentity, type DailyCallLike } from "./daily.js";
export { SseEventsClient, SseTransport, type SseOptions } from "./sse.js";
export { createEnvelope, checkInbound } from "../envelope.js";
export { SPEC_VERSION, Topic, type AnyEnvelope, type Envelope, type TopicId, type TopicPayloads } from "../generated/topics.js";
export { registry, isTopicId, topicInfo } from "../generated/registry.js";
