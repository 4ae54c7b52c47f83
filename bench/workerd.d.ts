declare module "workerd" {
  /** The npm package's CommonJS exports (`default` is the path of the workerd binary), or that path itself, depending on the loader's interop. */
  const workerd: { default: string; version: string; compatibilityDate: string } | string;
  export default workerd;
}
