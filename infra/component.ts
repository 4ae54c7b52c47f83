// What a Pulumi program of your own imports to declare a voice edge (see README, "Use it in your own program").
export { VoiceEdge } from "./voiceEdge";
export {
  validateBundle,
  validateName,
  validateSecrets,
  validateSettings,
  validateVoiceEdgeArgs,
  VoiceEdgeArgsError,
  type VoiceEdgeArgs,
  type VoiceEdgeLineArgs,
  type VoiceEdgeSecrets,
  type VoiceEdgeSettings,
} from "./voiceEdgeArgs";
export { buildWorkerBundle, type WorkerBundle } from "../worker/build";
export { buildLineBundle } from "./lineInputs";
export { readLiveLineScript, type LiveLineScript } from "./lineMigrations";
