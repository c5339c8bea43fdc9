/**
 * Request `datastore.ensure` (server: plugins/datastore/skeleton.ts): after syncing, the SDK
 * asks the server to create the child models and collections of the root model that are
 * missing, so two clients never create the same nested map concurrently (Yjs would keep
 * one and drop what was written into the other).
 *   params: { root: <top-level map name>, value: Yjs update of a scratch doc whose map
 *             'skeleton' holds the expected shared types }
 *   result: number of shared types the server created
 */
export const DATASTORE_ENSURE = 'datastore.ensure'
export const SKELETON_ROOT = 'skeleton'
