import { StackConfigError, parseStackSettings, plaintextSecretProblem, type StackSettings } from "../../infra/config/schema";
import { PROJECT_ROOT, knownStacks, plaintextSecretsIn, projectValues, readStackFile, stackFileName } from "../../infra/config/stackFiles";

export { knownStacks, projectValues, readStackFile, stackFileName };
export const REPO_ROOT = PROJECT_ROOT;

/**
 * Reads `Pulumi.<stack>.yaml` and validates its settings with the stack schema. Secrets set with
 * `pulumi config set --secret` (encrypted in the file) are fine and not read; a secret in
 * plaintext is refused with the same words the Pulumi program uses.
 */
export function loadStackSettings(stack: string): StackSettings {
  const config = readStackFile(stack);
  const plaintext = plaintextSecretsIn(config);
  if (plaintext.length > 0) throw new StackConfigError(stack, stackFileName(stack), plaintext.map(plaintextSecretProblem));
  return parseStackSettings(stack, stackFileName(stack), projectValues(config));
}
