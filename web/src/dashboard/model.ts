/**
 * The room as a host sees it, folded from envelopes: a plain object the components render.
 *
 * `applyEnvelope(model, envelope)` is pure bookkeeping (no DOM), bounded per input: timelines keep
 * at most `MAX_SEGMENTS` segments and `MAX_MARKS` marks per participant, the feed `MAX_FEED` items.
 * Topics without a view of their own land in `other` (topic and count), so a topic added to the
 * spec shows up before anyone writes its view.
 */

import type { AnyEnvelope, RoomVoteClosedPayload } from "../generated/topics.js";

export const MAX_SEGMENTS = 200;
export const MAX_MARKS = 100;
export const MAX_FEED = 40;

export interface Segment {
  startMs: number;
  endMs: number | null;
}

export interface Mark {
  atMs: number;
  kind: "interruption" | "overlap" | "backchannel";
  /** The participant talked over. */
  otherId: string;
}

export interface Person {
  id: string;
  name: string;
  present: boolean;
  speaking: boolean;
  talkMs: number;
  share: number | null;
  wpm: number | null;
  pace: "slow" | "normal" | "fast" | "no_words" | null;
  segments: Segment[];
  marks: Mark[];
  order: number;
}

export interface FeedItem {
  key: number;
  atMs: number | null;
  kind: "facilitator" | "policy" | "interrupt" | "wrapup" | "agenda" | "vote";
  text: string;
}

export interface VoteState {
  voteId: string;
  question: string;
  options: string[];
  closesAtMs: number;
  closed: RoomVoteClosedPayload | null;
  myChoice: string | null;
  myStatus: "none" | "sending" | "sent" | "failed";
  myError: string | null;
}

export interface RoomModel {
  sessionId: string | null;
  status: "waiting" | "live" | "ended" | "failed";
  endReason: string | null;
  nowMs: number;
  people: Map<string, Person>;
  dominantId: string | null;
  gini: number | null;
  sharesFinal: boolean;
  agenda: { item: string; next: string | null; elapsedMs: number; timeboxMs: number | null; atMs: number } | null;
  wrapup: { message: string; remainingMs: number; atMs: number } | null;
  vote: VoteState | null;
  feed: FeedItem[];
  other: Map<string, number>;
  botSpeaking: boolean;
  /** What the facilitator's voice is saying now (kind and who it addresses; never the text). */
  botSpeech: { kind: string; targetId: string | null } | null;
  envelopes: number;
  /** Bumped on every change; components compare it to skip work. */
  version: number;
}

export function emptyModel(): RoomModel {
  return {
    sessionId: null,
    status: "waiting",
    endReason: null,
    nowMs: 0,
    people: new Map(),
    dominantId: null,
    gini: null,
    sharesFinal: false,
    agenda: null,
    wrapup: null,
    vote: null,
    feed: [],
    other: new Map(),
    botSpeaking: false,
    botSpeech: null,
    envelopes: 0,
    version: 0,
  };
}

let feedKey = 0;

function person(model: RoomModel, id: string): Person {
  let p = model.people.get(id);
  if (p === undefined) {
    p = { id, name: id, present: true, speaking: false, talkMs: 0, share: null, wpm: null, pace: null, segments: [], marks: [], order: model.people.size };
    model.people.set(id, p);
  }
  return p;
}

/** A participant's label: the display name when the bot shares it, else the id without its `p-`. */
export function label(model: RoomModel, id: string | null | undefined): string {
  if (!id) return "someone";
  return model.people.get(id)?.name ?? id;
}

function pushFeed(model: RoomModel, kind: FeedItem["kind"], text: string, atMs: number | null): void {
  model.feed.unshift({ key: ++feedKey, atMs, kind, text });
  if (model.feed.length > MAX_FEED) model.feed.length = MAX_FEED;
}

function bounded<T>(list: T[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max);
}

function prettyName(id: string): string {
  const bare = id.replace(/^p-/, "");
  return bare.length > 0 ? bare.charAt(0).toUpperCase() + bare.slice(1) : id;
}

/** Fold one (validated) envelope into the model. */
export function applyEnvelope(model: RoomModel, e: AnyEnvelope): void {
  model.envelopes += 1;
  model.version += 1;
  const at = (e.meta.mediaTimeMs ?? (e.payload as { mediaTimeMs?: number }).mediaTimeMs) as number | undefined;
  if (typeof at === "number" && at > model.nowMs) model.nowMs = at;
  if (e.runtime === "bot" && model.sessionId !== e.sessionId) {
    if (model.sessionId !== null) {
      const fresh = emptyModel();
      Object.assign(model, fresh, { version: model.version + 1 });
    }
    model.sessionId = e.sessionId;
    if (model.status === "waiting") model.status = "live";
  }
  switch (e.topic) {
    case "assistant.session.started":
      model.status = "live";
      break;
    case "assistant.session.ended":
      model.status = "ended";
      model.endReason = e.payload.reason;
      for (const p of model.people.values()) closeSpeaking(p, model.nowMs);
      break;
    case "assistant.session.failed":
      model.status = "failed";
      model.endReason = e.payload.stage;
      break;
    case "bot.health.heartbeat":
      if (e.payload.mediaTimeMs !== undefined && e.payload.mediaTimeMs > model.nowMs) model.nowMs = e.payload.mediaTimeMs;
      break;
    case "room.participant.joined": {
      const p = person(model, e.payload.participantId);
      p.present = true;
      p.name = e.payload.displayName ?? prettyName(p.id);
      break;
    }
    case "room.participant.left": {
      const p = person(model, e.payload.participantId);
      p.present = false;
      closeSpeaking(p, e.payload.mediaTimeMs);
      break;
    }
    case "room.speaking.started": {
      const p = person(model, e.payload.participantId);
      if (p.name === p.id) p.name = prettyName(p.id);
      p.speaking = true;
      p.segments.push({ startMs: e.payload.mediaTimeMs, endMs: null });
      bounded(p.segments, MAX_SEGMENTS);
      break;
    }
    case "room.speaking.stopped": {
      const p = person(model, e.payload.participantId);
      p.speaking = false;
      const open = p.segments[p.segments.length - 1];
      if (open !== undefined && open.endMs === null) open.endMs = e.payload.mediaTimeMs;
      else p.segments.push({ startMs: e.payload.mediaTimeMs - e.payload.durationMs, endMs: e.payload.mediaTimeMs });
      bounded(p.segments, MAX_SEGMENTS);
      break;
    }
    case "room.dominance.score":
      for (const share of e.payload.participants) {
        const p = person(model, share.participantId);
        if (p.name === p.id) p.name = prettyName(p.id);
        p.share = share.share;
        p.talkMs = share.talkTimeMs;
      }
      model.dominantId = e.payload.dominantParticipantId;
      model.gini = e.payload.gini;
      model.sharesFinal = e.payload.trigger === "final";
      break;
    case "room.pacing.updated": {
      const p = person(model, e.payload.participantId);
      p.wpm = e.payload.wordsPerMinute;
      p.pace = e.payload.state;
      break;
    }
    case "room.overlap.detected": {
      const p = person(model, e.payload.overlapperId);
      p.marks.push({ atMs: e.payload.mediaTimeMs, kind: e.payload.kind, otherId: e.payload.speakerId });
      bounded(p.marks, MAX_MARKS);
      break;
    }
    case "room.interrupt.request":
      pushFeed(model, "interrupt", `Facilitator asked to step in: ${label(model, e.payload.targetParticipantId)} (${e.payload.reason.replace("_", " ")}, ${Math.round(e.payload.monologueMs / 1000)} s)`, at ?? null);
      break;
    case "room.interrupt.executed":
      pushFeed(model, "interrupt", `Facilitator stepped in with ${label(model, e.payload.targetParticipantId)} (by ${e.payload.method})`, at ?? null);
      break;
    case "room.topic.shift.suggested":
      model.agenda = { item: e.payload.currentItem, next: e.payload.nextItem, elapsedMs: e.payload.elapsedMs, timeboxMs: e.payload.timeboxMs ?? null, atMs: model.nowMs };
      pushFeed(model, "agenda", e.payload.nextItem ? `Time to move on from "${e.payload.currentItem}" to "${e.payload.nextItem}"` : `"${e.payload.currentItem}" is over its time`, at ?? null);
      break;
    case "room.wrapup.prompt":
      model.wrapup = { message: e.payload.message, remainingMs: e.payload.remainingMs, atMs: model.nowMs };
      pushFeed(model, "wrapup", e.payload.message, at ?? null);
      break;
    case "room.vote.started":
      model.vote = { voteId: e.payload.voteId, question: e.payload.question, options: [...e.payload.options], closesAtMs: e.payload.closesAtMs, closed: null, myChoice: null, myStatus: "none", myError: null };
      pushFeed(model, "vote", `Vote opened: ${e.payload.question}`, at ?? null);
      break;
    case "room.vote.closed": {
      if (model.vote === null || model.vote.voteId !== e.payload.voteId) {
        model.vote = { voteId: e.payload.voteId, question: e.payload.voteId, options: Object.keys(e.payload.tally), closesAtMs: model.nowMs, closed: null, myChoice: null, myStatus: "none", myError: null };
      }
      model.vote.closed = e.payload;
      const winner = e.payload.winner ? `"${e.payload.winner}" wins` : "no winner";
      pushFeed(model, "vote", `Vote closed: ${winner} (${e.payload.totalVotes} vote${e.payload.totalVotes === 1 ? "" : "s"})`, at ?? null);
      break;
    }
    case "conversation.policy.violation":
      pushFeed(model, "policy", `Policy: ${e.payload.rule} (${e.payload.kind.replace("_", " ")}, ${e.payload.severity}) → ${e.payload.action}${e.payload.participantId ? ` · ${label(model, e.payload.participantId)}` : ""}`, at ?? null);
      break;
    case "facilitator.message":
      pushFeed(model, "facilitator", e.payload.audience === "participant" && e.payload.participantId ? `To ${label(model, e.payload.participantId)}: ${e.payload.text}` : e.payload.text, at ?? null);
      break;
    case "facilitator.speech.started":
      model.botSpeaking = true;
      model.botSpeech = { kind: e.payload.kind, targetId: e.payload.targetParticipantId ?? null };
      break;
    case "facilitator.speech.stopped":
      model.botSpeaking = false;
      model.botSpeech = null;
      if (e.payload.reason === "barge_in") pushFeed(model, "facilitator", "The facilitator stopped speaking: someone started talking", at ?? null);
      break;
    default: {
      const topic: string = e.topic; // every topic with a view has its case above
      model.other.set(topic, (model.other.get(topic) ?? 0) + 1);
    }
  }
}

function closeSpeaking(p: Person, atMs: number): void {
  p.speaking = false;
  const open = p.segments[p.segments.length - 1];
  if (open !== undefined && open.endMs === null) open.endMs = Math.max(open.startMs, atMs);
}
