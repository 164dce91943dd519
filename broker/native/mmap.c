/*
 * sluice_mmap: the few memory-mapping calls the storage engine needs, as an N-API addon.
 *
 * Safety rule: a mapping is unmapped only by the finalizer of the ArrayBuffer under the Buffer
 * map() returns, which runs once no Buffer or subarray over that memory is reachable. So
 * JavaScript can never read an unmapped page. Async work (sync, populate) holds a reference to
 * the Buffer for as long as it runs, for the same reason.
 *
 * A deleted file's mapping need not wait for that finalizer to give its disk blocks back:
 * release() puts anonymous zero pages over the same address range (MAP_FIXED), which drops the
 * mapping's reference to the file at once while every address stays valid. Stale slices then
 * read zeros; the finalizer still unmaps the range later.
 */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* A Buffer over memory whose length V8 does not count toward collecting (uncounted-buffer.cc). */
int sluice_uncounted_buffer(void *data, size_t length, void **buffer, void **array_buffer);

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Marks the Buffers map() returns, so release() never replaces memory it does not own. */
static const napi_type_tag mapping_tag = {0x736c756963656d6dULL, 0x61707065642d6d6dULL};

/*
 * What V8 is told each live mapping costs. Their lengths are kept out of its accounting
 * (uncounted-buffer.cc), but a mapping whose Buffers are unreachable is only unmapped when a
 * full collection finds it, and the kernel allows a process about 65,000 mappings: so each one
 * counts a little, and a few thousand new mappings since the last full collection set off the
 * next (V8 collects when its external count has grown by 64 MiB).
 */
#define MAPPING_CHARGE ((int64_t)16 * 1024)

static int64_t live_mappings = 0;
static int64_t live_bytes = 0;
static size_t page_size = 4096;

#define CHECK(call)                                                           \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      napi_throw_error(env, NULL, "sluice_mmap: N-API call failed: " #call); \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

static const char *errno_name(int error) {
  switch (error) {
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EFBIG: return "EFBIG";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case ENODEV: return "ENODEV";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, int error, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s failed: %s", what, strerror(error));
  napi_throw_error(env, errno_name(error), message);
  return NULL;
}

static napi_value make_error(napi_env env, int error, const char *what) {
  char message[256];
  napi_value code, text, result;
  snprintf(message, sizeof message, "%s failed: %s", what, strerror(error));
  napi_create_string_utf8(env, errno_name(error), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &result);
  return result;
}

static int get_int64(napi_env env, napi_value value, const char *name, int64_t min, int64_t *out) {
  napi_valuetype type;
  double number;
  char message[128];
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    snprintf(message, sizeof message, "%s must be a number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return 0;
  }
  napi_get_value_double(env, value, &number);
  if (number != (double)(int64_t)number || number < (double)min || number > 9007199254740991.0) {
    snprintf(message, sizeof message, "%s must be an integer >= %lld", name, (long long)min);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return 0;
  }
  *out = (int64_t)number;
  return 1;
}

/* The mapped range [data + offset, data + offset + length) of a Buffer argument, checked. */
static int get_range(napi_env env, napi_value *args, uint8_t **start, size_t *length) {
  bool is_buffer;
  void *data;
  size_t size;
  int64_t offset, count;
  if (napi_is_buffer(env, args[0], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mapping must be a Buffer");
    return 0;
  }
  napi_get_buffer_info(env, args[0], &data, &size);
  if (!get_int64(env, args[1], "offset", 0, &offset) || !get_int64(env, args[2], "length", 0, &count)) return 0;
  if ((uint64_t)offset + (uint64_t)count > size) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "offset + length is past the end of the mapping");
    return 0;
  }
  /* msync and madvise want a page-aligned start: widen the range down to its page. */
  uintptr_t begin = (uintptr_t)data + (uintptr_t)offset;
  uintptr_t aligned = begin & ~(uintptr_t)(page_size - 1);
  *start = (uint8_t *)aligned;
  *length = (size_t)count + (begin - aligned);
  return 1;
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  size_t length = (size_t)(uintptr_t)hint;
  int64_t ignored;
  munmap(data, length);
  live_mappings -= 1;
  live_bytes -= (int64_t)length;
  napi_adjust_external_memory(env, -MAPPING_CHARGE, &ignored);
}

/* map(fd, length, offset, writable) -> Buffer over a MAP_SHARED mapping. */
static napi_value map(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4], result;
  int64_t fd, length, offset;
  bool writable;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "map(fd, length, offset, writable)");
    return NULL;
  }
  if (!get_int64(env, args[0], "fd", -1, &fd) || !get_int64(env, args[1], "length", 1, &length) ||
      !get_int64(env, args[2], "offset", 0, &offset)) return NULL;
  if (offset % (int64_t)page_size != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "offset must be a multiple of the page size");
    return NULL;
  }
  CHECK(napi_get_value_bool(env, args[3], &writable));
  int protection = PROT_READ | (writable ? PROT_WRITE : 0);
  void *data = mmap(NULL, (size_t)length, protection, MAP_SHARED, (int)fd, (off_t)offset);
  if (data == MAP_FAILED) return throw_errno(env, errno, "mmap");
  void *buffer, *array_buffer;
  if (sluice_uncounted_buffer(data, (size_t)length, &buffer, &array_buffer) != 0 ||
      napi_add_finalizer(env, (napi_value)array_buffer, data, finalize_mapping, (void *)(uintptr_t)length, NULL) != napi_ok) {
    munmap(data, (size_t)length);
    napi_throw_error(env, NULL, "sluice_mmap: cannot wrap the mapping in a Buffer");
    return NULL;
  }
  result = (napi_value)buffer;
  if (napi_type_tag_object(env, result, &mapping_tag) != napi_ok) {
    napi_throw_error(env, NULL, "sluice_mmap: cannot tag the mapping");
    return NULL;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, MAPPING_CHARGE, &ignored);
  live_mappings += 1;
  live_bytes += length;
  return result;
}

/*
 * release(mapping, writable): replaces the whole mapping with private anonymous zero pages.
 * The protection stays what it was, so a stray late write lands in throwaway memory instead of
 * faulting; MAP_NORESERVE keeps a large writable range from counting against the commit limit.
 */
static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  bool tagged = false, writable;
  void *data;
  size_t length;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "release(mapping, writable)");
    return NULL;
  }
  if (napi_check_object_type_tag(env, args[0], &mapping_tag, &tagged) != napi_ok || !tagged) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mapping must be a Buffer returned by map(), not a slice of one");
    return NULL;
  }
  CHECK(napi_get_value_bool(env, args[1], &writable));
  CHECK(napi_get_buffer_info(env, args[0], &data, &length));
  int protection = PROT_READ | (writable ? PROT_WRITE : 0);
  void *replaced = mmap(data, length, protection, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (replaced == MAP_FAILED) return throw_errno(env, errno, "mmap(MAP_FIXED | MAP_ANONYMOUS)");
  return NULL;
}

static napi_value stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, mappings, bytes;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int64(env, live_mappings, &mappings));
  CHECK(napi_create_int64(env, live_bytes, &bytes));
  CHECK(napi_set_named_property(env, result, "mappings", mappings));
  CHECK(napi_set_named_property(env, result, "bytes", bytes));
  return result;
}

static napi_value sync_range(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  uint8_t *start;
  size_t length;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "sync(mapping, offset, length)");
    return NULL;
  }
  if (!get_range(env, args, &start, &length)) return NULL;
  if (length > 0 && msync(start, length, MS_SYNC) != 0) return throw_errno(env, errno, "msync");
  return NULL;
}

static napi_value advise(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  uint8_t *start;
  size_t length;
  int64_t advice;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "advise(mapping, offset, length, advice)");
    return NULL;
  }
  if (!get_range(env, args, &start, &length) || !get_int64(env, args[3], "advice", 0, &advice)) return NULL;
  if (length > 0 && madvise(start, length, (int)advice) != 0) return throw_errno(env, errno, "madvise");
  return NULL;
}

/* Thread-pool work shared by syncAsync and populateAsync. */
typedef struct {
  napi_async_work work;
  napi_ref mapping;
  napi_ref callback;
  uint8_t *start;
  size_t length;
  int populate;
  int error;
} range_job;

static void run_range_job(napi_env env, void *data) {
  (void)env;
  range_job *job = data;
  job->error = 0;
  if (job->length == 0) return;
  if (!job->populate) {
    if (msync(job->start, job->length, MS_SYNC) != 0) job->error = errno;
  } else if (madvise(job->start, job->length, MADV_POPULATE_WRITE) != 0) {
    /* Kernels before 5.14 lack POPULATE_WRITE: read-ahead is the next best hint. */
    if (errno != EINVAL || madvise(job->start, job->length, MADV_WILLNEED) != 0) job->error = errno;
  }
}

static void finish_range_job(napi_env env, napi_status status, void *data) {
  range_job *job = data;
  napi_value callback, global, argument;
  (void)status;
  napi_get_reference_value(env, job->callback, &callback);
  napi_get_global(env, &global);
  if (job->error != 0) argument = make_error(env, job->error, job->populate ? "madvise(POPULATE_WRITE)" : "msync");
  else napi_get_null(env, &argument);
  napi_delete_reference(env, job->mapping);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, callback, 1, &argument, NULL);
}

static napi_value queue_range_job(napi_env env, napi_callback_info info, int populate) {
  size_t argc = 4;
  napi_value args[4], name;
  napi_valuetype type;
  uint8_t *start;
  size_t length;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 4 || napi_typeof(env, args[3], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "(mapping, offset, length, callback) expected");
    return NULL;
  }
  if (!get_range(env, args, &start, &length)) return NULL;
  range_job *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "allocating a sync job");
  job->start = start;
  job->length = length;
  job->populate = populate;
  CHECK(napi_create_reference(env, args[0], 1, &job->mapping));
  CHECK(napi_create_reference(env, args[3], 1, &job->callback));
  CHECK(napi_create_string_utf8(env, populate ? "sluice:populate" : "sluice:msync", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, run_range_job, finish_range_job, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return NULL;
}

static napi_value sync_async(napi_env env, napi_callback_info info) {
  return queue_range_job(env, info, 0);
}

static napi_value populate_async(napi_env env, napi_callback_info info) {
  return queue_range_job(env, info, 1);
}

/* allocate(fd, offset, length): reserve blocks so a write through the mapping cannot hit ENOSPC. */
static napi_value allocate(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  int64_t fd, offset, length;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "allocate(fd, offset, length)");
    return NULL;
  }
  if (!get_int64(env, args[0], "fd", -1, &fd) || !get_int64(env, args[1], "offset", 0, &offset) ||
      !get_int64(env, args[2], "length", 1, &length)) return NULL;
  int error = posix_fallocate((int)fd, (off_t)offset, (off_t)length);
  if (error != 0) return throw_errno(env, error, "posix_fallocate");
  return NULL;
}

/*
 * raiseFileLimit(): lifts the soft RLIMIT_NOFILE to the hard limit (a process may do so
 * without privileges) and returns { before, soft, hard } as they are now, so the broker can
 * log them; numbers above 2^53 (RLIM_INFINITY) come back as -1.
 */
static napi_value limit_number(napi_env env, rlim_t value) {
  napi_value result;
  napi_create_double(env, value == RLIM_INFINITY || value > 9007199254740991ULL ? -1 : (double)value, &result);
  return result;
}

static napi_value raise_file_limit(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit limit;
  napi_value result;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return throw_errno(env, errno, "getrlimit(RLIMIT_NOFILE)");
  rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    /* A hard limit the kernel will not grant (RLIM_INFINITY above fs.nr_open): the soft one stays, as the result shows. */
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return throw_errno(env, errno, "getrlimit(RLIMIT_NOFILE)");
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "before", limit_number(env, before)));
  CHECK(napi_set_named_property(env, result, "soft", limit_number(env, limit.rlim_cur)));
  CHECK(napi_set_named_property(env, result, "hard", limit_number(env, limit.rlim_max)));
  return result;
}

/*
 * syncFilesystem(fd): syncfs(2), every dirty page and inode of the filesystem holding fd, in one
 * call. A clean stop of ten thousand logs used to sync each log's files on its own.
 */
static napi_value sync_filesystem(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int64_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "syncFilesystem(fd)");
    return NULL;
  }
  if (!get_int64(env, args[0], "fd", 0, &fd)) return NULL;
  if (syncfs((int)fd) != 0) return throw_errno(env, errno, "syncfs");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  long size = sysconf(_SC_PAGESIZE);
  if (size > 0) page_size = (size_t)size;
  napi_property_descriptor functions[] = {
    {"map", NULL, map, NULL, NULL, NULL, napi_enumerable, NULL},
    {"release", NULL, release, NULL, NULL, NULL, napi_enumerable, NULL},
    {"stats", NULL, stats, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sync", NULL, sync_range, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syncAsync", NULL, sync_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"advise", NULL, advise, NULL, NULL, NULL, napi_enumerable, NULL},
    {"populateAsync", NULL, populate_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"allocate", NULL, allocate, NULL, NULL, NULL, napi_enumerable, NULL},
    {"raiseFileLimit", NULL, raise_file_limit, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syncFilesystem", NULL, sync_filesystem, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  const struct { const char *name; int64_t value; } constants[] = {
    {"PAGE_SIZE", (int64_t)page_size},
    {"ADVICE_NORMAL", MADV_NORMAL},
    {"ADVICE_SEQUENTIAL", MADV_SEQUENTIAL},
    {"ADVICE_RANDOM", MADV_RANDOM},
    {"ADVICE_WILLNEED", MADV_WILLNEED},
    {"ADVICE_DONTNEED", MADV_DONTNEED},
  };
  for (size_t index = 0; index < sizeof constants / sizeof constants[0]; index += 1) {
    napi_value value;
    if (napi_create_int64(env, constants[index].value, &value) != napi_ok ||
        napi_set_named_property(env, exports, constants[index].name, value) != napi_ok) return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
