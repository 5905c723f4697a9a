/*
 * kura_sendfile, relay part: the pull-through cache's per-byte work moved off the event loop. A cold pull through the
 * cache hashes every byte it fetches and writes it to the client's socket; on the event loop those two took about
 * half its time (docs/benchmarks.md, "Pull-through cache"). Both run here on libuv's thread pool instead, one job at
 * a time per blob and per client, each over every chunk that arrived meanwhile:
 *
 *   hashNew(algorithm) -> an External holding an OpenSSL digest context ("sha256" or "sha512"), freed with it.
 *   hashAsync(ctx, buffers, callback): feeds the buffers, in order, to the context on the thread pool, then calls
 *       callback(0) (or callback(-1) on failure). The caller keeps one job in flight per context.
 *   hashDigest(ctx) -> the digest as a Buffer (the context is finished; no job may be in flight).
 *   writevAsync(socketFd, buffers, callback): writev(2) of the buffers to the socket on the thread pool, without
 *       waiting: callback(bytes written, possibly fewer than given when the socket's buffer filled, or -errno when
 *       nothing was written). The caller waits for room another way (a write through Node) and goes on.
 *
 * The JavaScript side holds a reference to each job's array of buffers until its callback, so their memory stays put
 * while a thread reads it. The socket is written through a dup() of its fd, closed when the job ends, as in
 * sendfile.c. OpenSSL is the one Node links (its headers come with Node's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include <openssl/evp.h>

#define KURA_MAX_IOV 64

typedef struct {
  EVP_MD_CTX *md;
} hash_t;

static void hash_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  hash_t *h = data;
  EVP_MD_CTX_free(h->md);
  free(h);
}

static napi_value hash_new(napi_env env, napi_callback_info info) {
  napi_value argv[1], ext;
  size_t argc = 1;
  char name[16] = {0};
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "kura_sendfile: hashNew(algorithm)");
    return NULL;
  }
  const EVP_MD *md = strcmp(name, "sha256") == 0 ? EVP_sha256() : strcmp(name, "sha512") == 0 ? EVP_sha512() : NULL;
  hash_t *h = md ? calloc(1, sizeof *h) : NULL;
  if (h) h->md = EVP_MD_CTX_new();
  if (!h || !h->md || EVP_DigestInit_ex(h->md, md, NULL) != 1) {
    if (h) EVP_MD_CTX_free(h->md);
    free(h);
    napi_throw_error(env, NULL, "kura_sendfile: cannot make a digest context");
    return NULL;
  }
  napi_create_external(env, h, hash_free, NULL, &ext);
  return ext;
}

/* One job: a hash update or a socket write over a list of buffers, with the callback and the array referenced. */
typedef struct {
  napi_async_work work;
  napi_ref callback, buffers;
  hash_t *hash;
  int fd;
  size_t count;
  struct iovec iov[KURA_MAX_IOV];
  int64_t result;
} job_t;

static void hash_execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  j->result = 0;
  for (size_t i = 0; i < j->count; i++)
    if (EVP_DigestUpdate(j->hash->md, j->iov[i].iov_base, j->iov[i].iov_len) != 1) j->result = -1;
}

static void writev_execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  int64_t sent = 0;
  struct iovec *iov = j->iov;
  size_t n = j->count;
  while (n > 0) {
    ssize_t w = writev(j->fd, iov, (int)n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (sent == 0) sent = errno == EAGAIN ? 0 : -(int64_t)errno;
      break;
    }
    sent += w;
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  j->result = sent;
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  if (j->fd >= 0) close(j->fd);
  napi_value cb, global, v;
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int64(env, status == napi_ok ? j->result : -ECANCELED, &v);
  napi_delete_reference(env, j->buffers);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, global, cb, 1, &v, NULL);
}

/* Reads (target, buffers, callback) into a new job; NULL (with a JS exception) when the arguments are wrong. */
static job_t *job_new(napi_env env, napi_callback_info info, const char *usage) {
  napi_value argv[3];
  size_t argc = 3;
  napi_valuetype t;
  bool is_array = false;
  uint32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > KURA_MAX_IOV ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "kura_sendfile: out of memory");
    return NULL;
  }
  j->fd = -1;
  j->count = count;
  for (uint32_t i = 0; i < count; i++) {
    napi_value b;
    bool is_buffer = false;
    if (napi_get_element(env, argv[1], i, &b) != napi_ok || napi_is_buffer(env, b, &is_buffer) != napi_ok ||
        !is_buffer || napi_get_buffer_info(env, b, &j->iov[i].iov_base, &j->iov[i].iov_len) != napi_ok) {
      free(j);
      napi_throw_type_error(env, NULL, usage);
      return NULL;
    }
  }
  napi_create_reference(env, argv[1], 1, &j->buffers);
  napi_create_reference(env, argv[2], 1, &j->callback);
  return j;
}

/* Queues the job; false (with a JS exception, the job freed) when it could not be. */
static bool job_queue(napi_env env, job_t *j, napi_async_execute_callback execute) {
  napi_value name;
  napi_create_string_utf8(env, "kura_relay", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, job_complete, j, &j->work);
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->fd >= 0) close(j->fd);
    napi_delete_reference(env, j->buffers);
    napi_delete_reference(env, j->callback);
    napi_delete_async_work(env, j->work);
    free(j);
    napi_throw_error(env, NULL, "kura_sendfile: cannot queue the job");
    return false;
  }
  return true;
}

/* The digest context given as the first argument; NULL (with a JS exception) when it is not one. */
static hash_t *context_arg(napi_env env, napi_callback_info info, const char *usage) {
  napi_value argv[1];
  size_t argc = 1;
  void *ext = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], &ext) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return ext;
}

static napi_value hash_async(napi_env env, napi_callback_info info) {
  const char *usage = "kura_sendfile: hashAsync(context, buffers (1 to 64), callback)";
  hash_t *h = context_arg(env, info, usage);
  job_t *j = h ? job_new(env, info, usage) : NULL;
  if (!j) return NULL;
  j->hash = h;
  job_queue(env, j, hash_execute);
  return NULL;
}

static napi_value hash_digest(napi_env env, napi_callback_info info) {
  hash_t *h = context_arg(env, info, "kura_sendfile: hashDigest(context)");
  if (!h) return NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  napi_value out;
  if (EVP_DigestFinal_ex(h->md, md, &len) != 1) {
    napi_throw_error(env, NULL, "kura_sendfile: digest failed");
    return NULL;
  }
  napi_create_buffer_copy(env, len, md, NULL, &out);
  return out;
}

static napi_value writev_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int64_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "kura_sendfile: writevAsync(socketFd, buffers, callback)");
    return NULL;
  }
  job_t *j = job_new(env, info, "kura_sendfile: writevAsync(socketFd, buffers (1 to 64), callback)");
  if (!j) return NULL;
  j->fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (j->fd < 0) {
    int e = errno;
    napi_delete_reference(env, j->buffers);
    napi_delete_reference(env, j->callback);
    free(j);
    napi_value v;
    napi_create_int64(env, -(int64_t)e, &v);
    return v;
  }
  if (!job_queue(env, j, writev_execute)) return NULL;
  napi_value v;
  napi_create_int64(env, 0, &v);
  return v;
}

void kura_relay_init(napi_env env, napi_value exports) {
  napi_value fn, max;
  napi_create_function(env, "hashNew", NAPI_AUTO_LENGTH, hash_new, NULL, &fn);
  napi_set_named_property(env, exports, "hashNew", fn);
  napi_create_function(env, "hashAsync", NAPI_AUTO_LENGTH, hash_async, NULL, &fn);
  napi_set_named_property(env, exports, "hashAsync", fn);
  napi_create_function(env, "hashDigest", NAPI_AUTO_LENGTH, hash_digest, NULL, &fn);
  napi_set_named_property(env, exports, "hashDigest", fn);
  napi_create_function(env, "writevAsync", NAPI_AUTO_LENGTH, writev_async, NULL, &fn);
  napi_set_named_property(env, exports, "writevAsync", fn);
  napi_create_int64(env, KURA_MAX_IOV, &max);
  napi_set_named_property(env, exports, "MAX_IOV", max);
}
