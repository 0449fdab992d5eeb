// Images arriving from the kernel, in either transport (failwidgets/widgets/transport.py):
// - "buffers": one binary buffer per image; the message's indices point into the buffers;
// - "dataurl": no buffers; message.data_urls holds one base64 data: URL per image at the
//   same indices (for front ends that drop binary buffers, such as Colab's).
// Also decodes a binary trait that may arrive as base64 text under the "dataurl" transport.

const DATA_IMAGE = /^data:image\/[a-z0-9.+-]+;base64,[a-z0-9+/=]*$/i;

/** Whether `url` is a data: URL (nothing to revoke) rather than an object URL. */
export function isDataURL(url) {
  return typeof url === "string" && url.startsWith("data:");
}

/**
 * The URL of image `position` of `message`: its data URL when the message carries data_urls,
 * else an object URL of buffers[position] (made with createObjectURL), or null when missing.
 * Only base64 image data URLs are accepted, anything else reads as missing.
 */
export function imageURL(message, buffers, position, createObjectURL, fallbackMime = "image/png") {
  if (position == null || !(position >= 0)) return null;
  const dataUrls = message && Array.isArray(message.data_urls) ? message.data_urls : null;
  if (dataUrls) {
    const url = dataUrls[position];
    return typeof url === "string" && DATA_IMAGE.test(url) ? url : null;
  }
  const buffer = buffers ? buffers[position] : undefined;
  if (!buffer) return null;
  return createObjectURL(new Blob([buffer], { type: (message && message.mime) || fallbackMime }));
}

/** Revoke `url` when it is an object URL (data URLs hold nothing to release). */
export function releaseURL(url, revokeObjectURL) {
  if (url && !isDataURL(url)) revokeObjectURL(url);
}

/**
 * Bytes of a binary trait: a DataView/ArrayBuffer/typed array as is, or base64 text (the
 * "dataurl" transport) decoded to a DataView. Anything else gives null.
 */
export function bytesOf(value) {
  if (typeof value !== "string") return value ?? null;
  try {
    const text = atob(value);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new DataView(bytes.buffer);
  } catch {
    return null;
  }
}
