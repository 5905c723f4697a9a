/*
 * kura_sendfile: blob bytes from a file straight to a client's TCP socket, without JavaScript
 * buffers: by sendfile(2) (`zeroCopy`) or through a small per-thread buffer (send_bytes below). Two
 * synchronous calls, made on the event loop like nginx's default `sendfile on`:
 *
 *   sendfile(socketFd, fileFd, offset, length[, zeroCopy = 1]) -> bytes sent (>= 0; fewer than asked when the
 *       socket's buffer is full), or -errno when nothing was sent and the socket failed, or
 *       KURA_EOF when the file ended before `length`.
 *   cached(fileFd, offset) -> false when the page at `offset` is not in the page cache
 *       (preadv2 RWF_NOWAIT), so the caller reads it on the thread pool instead of blocking the
 *       event loop on the disk; true when it is, or when the kernel cannot tell.
 *
 *   sendfileAsync(socketFd, fileFd, offset, length, budgetMs, callback[, zeroCopy = true]): the same on the thread
 *       pool, waiting in poll() while the socket is full (below).
 *
 * The socket is non-blocking (libuv's), so sendfile stops with EAGAIN once the socket buffer is
 * full; the caller then waits for room with sendfileAsync, or by writing through Node. The
 * synchronous calls use both fds only during the call, on the thread that owns them, so a socket
 * closed by Node cannot be reused under them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define KURA_EOF (-1000000)
/* One call sends at most this much, so a fast reader cannot hold the event loop for long. */
#define KURA_MAX_CALL (16 * 1024 * 1024)

/* The integer arguments: `want` of them required, up to `max` read (the rest keep their defaults). */
static int args(napi_env env, napi_callback_info info, size_t want, size_t max, int64_t *out) {
  napi_value argv[5];
  size_t argc = max;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "kura_sendfile: missing arguments");
    return 0;
  }
  for (size_t i = 0; i < argc && i < max; i++) {
    if (napi_get_value_int64(env, argv[i], &out[i]) != napi_ok || out[i] < 0) {
      napi_throw_type_error(env, NULL, "kura_sendfile: arguments must be non-negative integers");
      return 0;
    }
  }
  return 1;
}

/*
 * One call's worth of bytes from the file to the socket, with sendfile(2)'s contract (bytes sent,
 * 0 at the end of the file, -1 and errno). zero_copy: sendfile itself, which hands the socket
 * references to the page cache (least server CPU). Otherwise a copy through a 32 KiB buffer of this
 * thread (pread + write, as Distribution's io.Copy does): more server CPU, but a client that is
 * itself busy reads bytes the server has just written, still in the CPU's cache, instead of cold
 * page-cache memory, and a single-threaded client pulls faster (docs/benchmarks.md, "Registry").
 * A write that takes fewer bytes than were read sends the rest again on the next call.
 */
#define KURA_COPY_BUF (32 * 1024)
static __thread char *copy_buf;
static ssize_t send_bytes(int out_fd, int in_fd, off_t *off, size_t len, int zero_copy) {
  if (zero_copy || (!copy_buf && !(copy_buf = malloc(KURA_COPY_BUF)))) return sendfile(out_fd, in_fd, off, len);
  ssize_t r = pread(in_fd, copy_buf, len < KURA_COPY_BUF ? len : KURA_COPY_BUF, *off);
  if (r <= 0) return r;
  ssize_t w = write(out_fd, copy_buf, (size_t)r);
  if (w > 0) *off += w;
  return w;
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  int64_t a[5] = {0, 0, 0, 0, 1};
  if (!args(env, info, 4, 5, a)) return NULL;
  int out_fd = (int)a[0], in_fd = (int)a[1];
  off_t off = (off_t)a[2];
  int64_t left = a[3] > KURA_MAX_CALL ? KURA_MAX_CALL : a[3];
  int64_t sent = 0, result;
  int err = 0;
  while (left > 0) {
    ssize_t n = send_bytes(out_fd, in_fd, &off, (size_t)left, (int)a[4]);
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
  if (!args(env, info, 2, 2, a)) return NULL;
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  ssize_t n;
  do n = preadv2((int)a[0], &iov, 1, (off_t)a[1], RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  napi_value v;
  napi_get_boolean(env, !(n < 0 && errno == EAGAIN), &v);
  return v;
}

/*
 * The socket-full case, waiting in the kernel. sendfileAsync(socketFd, fileFd, offset, length,
 * budgetMs, callback) runs on libuv's thread pool: sendfile until the socket is full, then poll()
 * for POLLOUT and go on, so the socket is refilled the moment it has room (a write through Node
 * waits for a whole 'drain' turn of the event loop instead). It stops when `length` bytes are sent,
 * the socket fails, the file ends, or `budgetMs` has passed (so a stalled reader hands its thread
 * back and the caller's idle timer is reset in time), then calls callback(result) on the event loop
 * with the same result as sendfile(). The worker writes to a dup() of the socket fd, closed when it
 * is done: should Node close its own fd meanwhile, the number cannot be reused under the worker by
 * another file. poll() on the dup does not touch libuv's epoll registration. Returns 0 when the work
 * was queued, or -errno when it could not start (nothing was sent; the caller writes another way).
 */
typedef struct {
  napi_async_work work;
  napi_ref callback;
  int out_fd, in_fd, budget_ms, zero_copy;
  off_t off;
  int64_t left, sent;
  int err;
} job_t;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  int64_t deadline = now_ms() + j->budget_ms;
  int hangup = 0;
  while (j->left > 0) {
    ssize_t n = send_bytes(j->out_fd, j->in_fd, &j->off, (size_t)j->left, j->zero_copy);
    if (n > 0) {
      j->sent += n;
      j->left -= n;
      continue;
    }
    if (n == 0) {
      j->err = KURA_EOF;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      j->err = errno;
      break;
    }
    if (hangup) { /* poll said the peer is gone, yet sendfile says "full": do not spin */
      j->err = EPIPE;
      break;
    }
    int64_t wait = deadline - now_ms();
    if (wait <= 0) break;
    struct pollfd p = {.fd = j->out_fd, .events = POLLOUT};
    int r = poll(&p, 1, (int)wait);
    if (r < 0 && errno != EINTR) {
      j->err = errno;
      break;
    }
    if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) hangup = 1;
  }
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  close(j->out_fd);
  int64_t result;
  if (j->sent > 0) result = j->sent;
  else if (j->err == KURA_EOF) result = KURA_EOF;
  else if (status == napi_cancelled) result = -ECANCELED;
  else result = -(int64_t)j->err;
  napi_value cb, global, v;
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int64(env, result, &v);
  napi_call_function(env, global, cb, 1, &v, NULL);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value send_file_async(napi_env env, napi_callback_info info) {
  napi_value argv[7], name, v;
  size_t argc = 7;
  int64_t a[5];
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 ||
      napi_typeof(env, argv[5], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "kura_sendfile: sendfileAsync(socketFd, fileFd, offset, length, budgetMs, cb)");
    return NULL;
  }
  for (int i = 0; i < 5; i++) {
    if (napi_get_value_int64(env, argv[i], &a[i]) != napi_ok || a[i] < 0) {
      napi_throw_type_error(env, NULL, "kura_sendfile: arguments must be non-negative integers");
      return NULL;
    }
  }
  int64_t result = 0;
  job_t *j = calloc(1, sizeof *j);
  int out = j ? fcntl((int)a[0], F_DUPFD_CLOEXEC, 0) : -1;
  if (out < 0) {
    result = -(int64_t)(j ? errno : ENOMEM);
    free(j);
  } else {
    j->out_fd = out;
    j->in_fd = (int)a[1];
    j->off = (off_t)a[2];
    j->left = a[3] > KURA_MAX_CALL ? KURA_MAX_CALL : a[3];
    j->budget_ms = a[4] > 60000 ? 60000 : (int)a[4];
    bool zero_copy = true;
    j->zero_copy = argc < 7 || napi_get_value_bool(env, argv[6], &zero_copy) != napi_ok || zero_copy;
    napi_create_string_utf8(env, "kura_sendfile", NAPI_AUTO_LENGTH, &name);
    napi_create_reference(env, argv[5], 1, &j->callback);
    napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work);
    if (napi_queue_async_work(env, j->work) != napi_ok) {
      close(out);
      napi_delete_reference(env, j->callback);
      napi_delete_async_work(env, j->work);
      free(j);
      result = -EAGAIN;
    }
  }
  napi_create_int64(env, result, &v);
  return v;
}

void kura_relay_init(napi_env env, napi_value exports); /* relay.c */

NAPI_MODULE_INIT() {
  napi_value fn;
  kura_relay_init(env, exports);
  napi_create_function(env, "sendfile", NAPI_AUTO_LENGTH, send_file, NULL, &fn);
  napi_set_named_property(env, exports, "sendfile", fn);
  napi_create_function(env, "cached", NAPI_AUTO_LENGTH, cached, NULL, &fn);
  napi_set_named_property(env, exports, "cached", fn);
  napi_create_function(env, "sendfileAsync", NAPI_AUTO_LENGTH, send_file_async, NULL, &fn);
  napi_set_named_property(env, exports, "sendfileAsync", fn);
  napi_value eof;
  napi_create_int64(env, KURA_EOF, &eof);
  napi_set_named_property(env, exports, "EOF", eof);
  napi_value max;
  napi_create_int64(env, KURA_MAX_CALL, &max);
  napi_set_named_property(env, exports, "MAX_CALL", max);
  return exports;
}
