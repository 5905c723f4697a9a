/*
 * kura_sendfile: sendfile(2) from a blob file to a client's TCP socket, so that served bytes never
 * enter user space (a read() + write() pair copies every byte twice more). Two synchronous calls,
 * made on the event loop like nginx's default `sendfile on`:
 *
 *   sendfile(socketFd, fileFd, offset, length) -> bytes sent (>= 0; fewer than asked when the
 *       socket's buffer is full), or -errno when nothing was sent and the socket failed, or
 *       KURA_EOF when the file ended before `length`.
 *   cached(fileFd, offset) -> false when the page at `offset` is not in the page cache
 *       (preadv2 RWF_NOWAIT), so the caller reads it on the thread pool instead of blocking the
 *       event loop on the disk; true when it is, or when the kernel cannot tell.
 *
 * The socket is non-blocking (libuv's), so sendfile stops with EAGAIN once the socket buffer is
 * full; the caller then waits for room by writing through Node. Both fds are only used during the
 * call, on the thread that owns them, so a socket closed by Node cannot be reused under us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <node_api.h>

#define KURA_EOF (-1000000)
/* One call sends at most this much, so a fast reader cannot hold the event loop for long. */
#define KURA_MAX_CALL (16 * 1024 * 1024)

static int args(napi_env env, napi_callback_info info, size_t want, int64_t *out) {
  napi_value argv[4];
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "kura_sendfile: missing arguments");
    return 0;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int64(env, argv[i], &out[i]) != napi_ok || out[i] < 0) {
      napi_throw_type_error(env, NULL, "kura_sendfile: arguments must be non-negative integers");
      return 0;
    }
  }
  return 1;
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  int64_t a[4];
  if (!args(env, info, 4, a)) return NULL;
  int out_fd = (int)a[0], in_fd = (int)a[1];
  off_t off = (off_t)a[2];
  int64_t left = a[3] > KURA_MAX_CALL ? KURA_MAX_CALL : a[3];
  int64_t sent = 0, result;
  int err = 0;
  while (left > 0) {
    ssize_t n = sendfile(out_fd, in_fd, &off, (size_t)left);
    if (n > 0) {
      sent += n;
      left -= n;
      continue;
    }
    if (n == 0) {
      err = KURA_EOF;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) err = errno;
    break;
  }
  if (sent > 0) result = sent; /* a failure shows again on the next call */
  else if (err == KURA_EOF) result = KURA_EOF;
  else result = -(int64_t)err;
  napi_value v;
  napi_create_int64(env, result, &v);
  return v;
}

static napi_value cached(napi_env env, napi_callback_info info) {
  int64_t a[2];
  if (!args(env, info, 2, a)) return NULL;
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  ssize_t n;
  do n = preadv2((int)a[0], &iov, 1, (off_t)a[1], RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  napi_value v;
  napi_get_boolean(env, !(n < 0 && errno == EAGAIN), &v);
  return v;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sendfile", NAPI_AUTO_LENGTH, send_file, NULL, &fn);
  napi_set_named_property(env, exports, "sendfile", fn);
  napi_create_function(env, "cached", NAPI_AUTO_LENGTH, cached, NULL, &fn);
  napi_set_named_property(env, exports, "cached", fn);
  napi_value eof;
  napi_create_int64(env, KURA_EOF, &eof);
  napi_set_named_property(env, exports, "EOF", eof);
  napi_value max;
  napi_create_int64(env, KURA_MAX_CALL, &max);
  napi_set_named_property(env, exports, "MAX_CALL", max);
  return exports;
}
