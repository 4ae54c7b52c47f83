// What a Pulumi program of your own imports to declare a voice edge (see README, "Use it in your own program").
export { VoiceEdge, type VoiceEdgeArgs } from "./voiceEdge";
export { parseStackSecrets, parseStackSettings, stackSecretsSchema, stackSettingsSchema, type StackSecrets, type StackSettings } from "./config/schema";
export { buildWorkerBundle, type WorkerBundle } from "../worker/build";
