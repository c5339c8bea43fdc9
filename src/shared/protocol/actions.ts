/** The extension request an action call is sent as (SPEC §8; server: plugins/actions). */
export const ACTION_METHOD = 'action'
