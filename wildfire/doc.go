// Package wildfire is a client for the WildfireChat (野火IM) community
// im-server: the signed robot API on the server's client HTTP port, the
// signed admin API on its admin port, and the JSON bodies the server POSTs to
// a robot's callback URL.
//
// Every answer is the envelope {"code":N,"msg":m,"result":…}, HTTP 200 even
// for errors; a non-zero code becomes an *APIError that matches the sentinel
// errors of this package with errors.Is. Message uids exceed 2^53, so they are
// always decoded straight into int64, never through a float.
//
// The package knows nothing of OneBot; it only speaks the server's wire.
package wildfire
