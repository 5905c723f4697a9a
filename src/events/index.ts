// Webhook events (`notifications`): Distribution-compatible events written to the outbox and delivered from it.
export { EventDelivery, BATCH, type DeliveryHooks } from './delivery.js';
export { NotificationRecorder } from './recorder.js';
export { cloudEventType, signatureHeaders, toCloudEvent } from './cloudevents.js';
export {
  CLOUDEVENTS_MEDIA_TYPE,
  ENVELOPE_MEDIA_TYPE,
  type EndpointConfig,
  type Envelope,
  type KuraCloudEvent,
  type NotificationEvent,
} from './types.js';
