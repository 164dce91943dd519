/*
 * A Buffer over memory the addon owns that V8 does not count as its own.
 *
 * N-API's external Buffers hand V8 a backing store with a deleter, and V8 then counts its
 * length twice over: as external memory that a full collection could free, and, while the
 * Buffer is young, as backing-store bytes of the young generation. A file mapping is neither:
 * it is address space over the page cache. Counted, every new mapping of a growing segment
 * set off scavenges in which everything survived (V8 then grew the young generation to its
 * maximum) and a full collection whenever a mapping was larger than 64 MiB, and the larger
 * young generation let socket-read buffers pile up until they set off full collections every
 * few hundred milliseconds while producing. A backing store with V8's empty deleter is counted
 * by neither; the mapping is then freed by a finalizer on the ArrayBuffer object instead of by
 * the backing store's deleter: both run once no Buffer or subarray over the memory is
 * reachable.
 *
 * This is the one place the addon uses V8's own API; N-API has no call for it.
 */
#include <node_buffer.h>
#include <v8.h>

#include <memory>

namespace {

/* What N-API calls a napi_value, made as Node's N-API makes one from a local handle. */
void *to_napi(v8::Local<v8::Value> local) {
  return reinterpret_cast<void *>(*local);
}

}  // namespace

/*
 * Wraps `length` bytes at `data` in a Buffer (`*buffer`) over an ArrayBuffer (`*array_buffer`),
 * both as napi_values, valid in the caller's N-API callback scope. Frees nothing, ever: the
 * caller adds a finalizer to the ArrayBuffer (not the Buffer, whose subarrays share the
 * ArrayBuffer and may outlive it). Returns 0, or -1 if the Buffer could not be made.
 */
extern "C" int sluice_uncounted_buffer(void *data, size_t length, void **buffer, void **array_buffer) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(data, length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> memory = v8::ArrayBuffer::New(isolate, std::move(store));
  v8::Local<v8::Uint8Array> view;
  if (!node::Buffer::New(isolate, memory, 0, length).ToLocal(&view)) return -1;
  *buffer = to_napi(view);
  *array_buffer = to_napi(memory);
  return 0;
}
