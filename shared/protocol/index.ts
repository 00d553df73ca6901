/** The control protocol: one schema, validated at the edge, shared by hub and client. */
export { PROTOCOL_VERSION, MAX_MESSAGE_BYTES } from './version.js';
export { decodeMessage, encodeMessage, isEncodedKeepalive } from './codec.js';
export {
  controlMessageSchema, configSchema, CLIENT_MESSAGE_TYPES, HUB_MESSAGE_TYPES,
  type ControlMessage, type MessageOf, type OutgoingMessage,
} from './messages.js';
export {
  tunnelSpecSchema, linkTableSchema, linkPathSchema, ESP_PATHS, ESP_AEADS, type EspPath, type WireTunnelEsp, type WireTunnelSpec, type WireLinkTable,
  type WireLinkPath,
} from './tunnel-spec-schema.js';
export { ipv4AddressSchema, ipv4CidrSchema } from './ipv4-address-schema.js';
export { WS_CLOSE, ERROR_HEADER, wsCloseCodeFor, httpStatusFor, isAuthRefusal } from './close-codes.js';
export { LineFramer } from './line-framer.js';
export { CLIENT_TOKEN_TYPE, CLIENT_TOKEN_MAX_AGE_S, JOIN_HEADERS } from './client-token.js';
export { PATH_LIVENESS, PATH_PROVEN_INTERVALS, CONTROL_SILENCE_INTERVALS, offersPathLiveness, pathLivenessFits } from './path-liveness.js';
