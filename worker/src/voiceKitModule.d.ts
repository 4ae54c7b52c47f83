/** The client kit's built text, put in the bundle by worker/build.ts (`KIT_VIRTUAL_MODULE`). */
declare module "voice-kit:module" {
  export const KIT_MODULE_TEXT: string;
  /** SHA-256 of the text's UTF-8 bytes, hex. */
  export const KIT_MODULE_SHA256: string;
}
