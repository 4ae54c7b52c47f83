import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("voice-edge", {
  policies: policies as ConstructorParameters<typeof PolicyPack>[1]["policies"],
});
