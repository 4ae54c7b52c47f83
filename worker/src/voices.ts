/**
 * What a PersonaPlex `voice_prompt` may be, for the edge and the guard alike. The server joins the
 * value to its voice directory with no basename check and loads that file: a voice is a file name,
 * never a path, whatever list a stack or a guard carries.
 */

/** `<name>.pt`: letters, digits, `_` and `-`, single dots between parts; no `/`, `\`, `..` or leading dot. */
export const VOICE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.pt$/;
export const VOICE_FILE_NAME_MAX_LENGTH = 128;
export const VOICE_FILE_NAME_EXAMPLE = "NATF0.pt";

export function isVoiceFileName(value: string): boolean {
  return value.length <= VOICE_FILE_NAME_MAX_LENGTH && VOICE_FILE_NAME.test(value);
}

/** The voices the stock PersonaPlex web client offers (NATF0–3, NATM0–3, VARF0–4, VARM0–4). */
export const STOCK_VOICES: readonly string[] = [
  ...[0, 1, 2, 3].flatMap((i) => [`NATF${i}.pt`, `NATM${i}.pt`]),
  ...[0, 1, 2, 3, 4].flatMap((i) => [`VARF${i}.pt`, `VARM${i}.pt`]),
].sort();
