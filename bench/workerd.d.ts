declare module "workerd" {
  /** The npm package's CommonJS exports: `default` is the path of the workerd binary. */
  const workerd: { default: string; version: string; compatibilityDate: string };
  export default workerd;
}
