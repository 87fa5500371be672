/**
 * The labels OpenMB puts on what it creates. A pool's instance Pods carry POOL_LABEL and role
 * `instance` (the pool's selector, which the scale subresource and an HPA count); its switch Pod
 * carries SWITCH_OF_LABEL instead, so that it is never counted as an instance.
 */
export const POOL_LABEL = 'openmb.io/pool';
export const INSTANCE_LABEL = 'openmb.io/instance';
export const ROLE_LABEL = 'openmb.io/role';
export const SWITCH_OF_LABEL = 'openmb.io/switch-of';
/** On the operator replica that holds the leader Lease (the controller Service selects it). */
export const LEADER_LABEL = 'openmb.io/leader';

/** Label selector of a pool's instance Pods, in string form (status.selector). */
export function instanceSelector(pool: string): string {
  return `${POOL_LABEL}=${pool},${ROLE_LABEL}=instance`;
}
