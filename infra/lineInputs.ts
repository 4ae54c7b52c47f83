// What the stack program needs from outside itself before it declares the line: the line's
// bundle and the line script's live migration tag. `pulumi up` builds and reads them; the offline
// run (`npm run plan`, the infra tests) answers them instead, as Pulumi's mocks answer the rest.
import Cloudflare from "cloudflare";
import { buildLineBundle, type WorkerBundle } from "../worker/build";
import { readLiveLineScript, type LiveLineScript } from "./lineMigrations";

export { buildLineBundle, LINE_BUNDLE_MODULE_NAME } from "../worker/build";

export interface LineProgramInputs {
  bundle(): Promise<WorkerBundle>;
  /** The line script as the account holds it now; throws when that cannot be known. */
  liveScript(accountId: string, scriptName: string): Promise<LiveLineScript>;
}

/**
 * The real answers: the bundle from source, the live tag through the API with the token the
 * provider uses (`cloudflare:apiToken`, else CLOUDFLARE_API_TOKEN), token only, as preflight does.
 */
export function accountLineInputs(apiToken: string | undefined): LineProgramInputs {
  return {
    bundle: () => buildLineBundle(),
    async liveScript(accountId, scriptName) {
      const token = apiToken ?? process.env.CLOUDFLARE_API_TOKEN;
      if (!token)
        throw new Error(
          `cannot read the line script ${scriptName}'s Durable Object migration tag: neither cloudflare:apiToken nor CLOUDFLARE_API_TOKEN is set`,
        );
      const client = new Cloudflare({
        apiToken: token,
        apiKey: null,
        apiEmail: null,
        userServiceKey: null,
        ...(process.env.CLOUDFLARE_BASE_URL ? { baseURL: process.env.CLOUDFLARE_BASE_URL } : {}),
        timeout: 30_000,
      });
      return readLiveLineScript(client, accountId, scriptName);
    },
  };
}

let offlineAnswers: LineProgramInputs | undefined;

/** The answers the program uses: the offline run's while one is running, else the account's. */
export function lineProgramInputs(apiToken: string | undefined): LineProgramInputs {
  return offlineAnswers ?? accountLineInputs(apiToken);
}

/** For the offline run only: answer the program's line inputs until the returned function is called. */
export function answerLineInputsOffline(answers: LineProgramInputs): () => void {
  offlineAnswers = answers;
  return () => {
    if (offlineAnswers === answers) offlineAnswers = undefined;
  };
}
