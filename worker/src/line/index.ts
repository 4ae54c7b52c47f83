/** The line script's entry (`<workerName>-line`): the coordinator's class; nothing answers on its own URL. */
export { FleetLine } from "./fleetLine";

export default {
  fetch: () => new Response(null, { status: 404 }),
} satisfies ExportedHandler;
