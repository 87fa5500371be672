/**
 * Replaces a generated section of a markdown file: the text between `<!-- bench:NAME:start -->`
 * and `<!-- bench:NAME:end -->`, which stay, so the next run finds them again and everything
 * around them (prose others write) is left as it was.
 */
export const startMarker = (name: string) => `<!-- bench:${name}:start -->`;
export const endMarker = (name: string) => `<!-- bench:${name}:end -->`;

function onlyIndex(text: string, marker: string): number {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`marker ${marker} not found`);
  if (text.indexOf(marker, at + marker.length) >= 0) throw new Error(`marker ${marker} appears more than once`);
  return at;
}

export function spliceSection(text: string, name: string, body: string): string {
  const start = onlyIndex(text, startMarker(name));
  const end = onlyIndex(text, endMarker(name));
  if (end < start) throw new Error(`marker ${endMarker(name)} comes before ${startMarker(name)}`);
  return `${text.slice(0, start + startMarker(name).length)}\n${body}\n${text.slice(end)}`;
}
