/**
 * Topic patterns: an exact topic (`room.vote.closed`), a prefix (`room.vote.*`: every topic below
 * `room.vote`) or `*` (everything). The same three forms as the bot's EventBus.
 */

/** A compiled pattern: a predicate over topic ids. */
export type TopicMatcher = (topic: string) => boolean;

/** Compile a pattern; throws a TypeError on anything but the three forms. */
export function compilePattern(pattern: string): TopicMatcher {
  if (pattern === "*") return () => true;
  if (pattern.endsWith(".*")) {
    const prefix = pattern.slice(0, -1); // keeps the dot: "room.vote." does not match "room.voter"
    if (prefix.length < 2 || prefix.slice(0, -1).includes("*")) throw new TypeError(`bad topic pattern ${JSON.stringify(pattern)}`);
    return (topic) => topic.startsWith(prefix);
  }
  if (pattern.length === 0 || pattern.includes("*")) throw new TypeError(`bad topic pattern ${JSON.stringify(pattern)}`);
  return (topic) => topic === pattern;
}

/** A topic's family for the replay buffer: its first two segments (`room.vote.closed` → `room.vote`). */
export function topicFamily(topic: string): string {
  const parts = topic.split(".");
  return parts.length > 2 ? parts.slice(0, 2).join(".") : topic;
}
