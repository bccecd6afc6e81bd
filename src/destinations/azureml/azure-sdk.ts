// The parts of the Azure SDKs pf runs, re-exported from one module so that the build bundles them into one file
// (scripts/bundle-sdks.js): loading the packages' ~1,000 small ESM files took ~0.45 s of every Azure
// command, the bundle ~0.1 s. Import them only through here, so one copy of each SDK class exists at run time.
export {CosmosClient} from '@azure/cosmos'
export {createDefaultHttpClient} from '@azure/core-rest-pipeline'
export {AnonymousCredential, ContainerClient, StorageSharedKeyCredential} from '@azure/storage-blob'
export {
  AzureCliCredential,
  ChainedTokenCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from '@azure/identity'
