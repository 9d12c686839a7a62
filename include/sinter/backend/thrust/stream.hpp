// SPDX-License-Identifier: Apache-2.0
// Streams for users who want more than sinter's one: Stream owns a CUDA stream, StreamGuard makes it the calling
// thread's current stream (kernels, transfers, cuBLAS and the allocator's bins follow it), record_stream tells the
// allocator that another stream uses a tensor. On Thrust's host systems every kernel has finished when its call
// returns, so streams are names there: the same code builds and runs, and the allocator's rules are the same.
#pragma once

#include <memory>
#include <utility>

#include <sinter/backend/thrust/memory.hpp>
#include <sinter/core/tensor.hpp>

namespace sinter::cuda {

/// A queue of device work. Work on one stream runs in order; work on two streams may overlap, and one waits for
/// the other only through wait_stream (or a synchronize on the host). Copies share the stream: the last copy
/// destroyed waits for the stream's work, then destroys it.
class Stream {
 public:
  /// A new stream on cuda:0, independent of the default one.
  Stream() : owned_(std::make_shared<Owned>()) {}

  /// sinter's default stream: where work goes outside any StreamGuard.
  static Stream default_stream() noexcept { return Stream(nullptr); }
  /// The calling thread's current stream.
  static Stream current() noexcept { return Stream(current_owned()); }

  /// Waits on the host until every piece of work queued on this stream so far has finished.
  void synchronize() const {
#if SINTER_THRUST_CUDA
    thrust_backend::check_cuda(cudaStreamSynchronize(native_handle()), "Stream::synchronize");
#endif
  }
  /// True when all work queued on this stream has finished (does not wait).
  bool query() const {
#if SINTER_THRUST_CUDA
    const cudaError_t r = cudaStreamQuery(native_handle());
    if (r == cudaErrorNotReady) return false;
    thrust_backend::check_cuda(r, "Stream::query");
#endif
    return true;
  }
  /// Work queued on this stream from now on starts only after the work queued on `other` so far (the host does not
  /// wait). Use it before reading, on this stream, a tensor that `other` writes.
  void wait_stream(const Stream& other) const {
#if SINTER_THRUST_CUDA
    if (other == *this) return;
    cudaEvent_t e = nullptr;
    thrust_backend::check_cuda(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "Stream::wait_stream");
    const cudaError_t r1 = cudaEventRecord(e, other.native_handle());
    const cudaError_t r2 = r1 == cudaSuccess ? cudaStreamWaitEvent(native_handle(), e, 0) : r1;
    (void)cudaEventDestroy(e);  // released once the wait has passed it
    thrust_backend::check_cuda(r2, "Stream::wait_stream");
#else
    (void)other;
#endif
  }

  /// The key of this stream in the caching allocator (0: the default stream).
  detail::StreamId id() const noexcept {
#if SINTER_THRUST_CUDA
    return owned_ ? reinterpret_cast<detail::StreamId>(owned_->stream) : 0;
#else
    return reinterpret_cast<detail::StreamId>(owned_.get());
#endif
  }
#if SINTER_THRUST_CUDA
  /// The CUDA stream, for handing to other libraries (cuDNN, NCCL, hand-written kernels).
  cudaStream_t native_handle() const { return owned_ ? owned_->stream : thrust_backend::default_stream(); }
#endif

  friend bool operator==(const Stream& a, const Stream& b) noexcept { return a.id() == b.id(); }
  friend bool operator!=(const Stream& a, const Stream& b) noexcept { return !(a == b); }

 private:
  friend class StreamGuard;

  struct Owned {
#if SINTER_THRUST_CUDA
    cudaStream_t stream = nullptr;
    Owned() {
      thrust_backend::check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    }
    // Waiting first: a later stream may get the same handle, and the allocator's bins for it must then be safe.
    ~Owned() {
      (void)cudaStreamSynchronize(stream);
      (void)cudaStreamDestroy(stream);
    }
#else
    char name = 0;  // its address is the stream's key
    Owned() = default;
#endif
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
  };

  explicit Stream(std::shared_ptr<Owned> owned) noexcept : owned_(std::move(owned)) {}

  static std::shared_ptr<Owned>& current_owned() noexcept {
    thread_local std::shared_ptr<Owned> s;  // null: the default stream
    return s;
  }
  /// Makes this stream the thread's current one, down to the slot the backend reads.
  void make_current() const noexcept {
    current_owned() = owned_;
#if SINTER_THRUST_CUDA
    thrust_backend::current_stream_slot() = owned_ ? owned_->stream : nullptr;
#else
    thrust_backend::current_stream_slot() = id();
#endif
  }

  std::shared_ptr<Owned> owned_;  // null: the default stream
};

/// Makes `stream` the calling thread's current stream until the guard leaves scope (guards nest):
///   sinter::cuda::Stream side;
///   { sinter::cuda::StreamGuard g(side); y = model.forward(x); }  // queued on `side`
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream) : previous_(Stream::current()) { stream.make_current(); }
  ~StreamGuard() { previous_.make_current(); }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
};

/// Tells the allocator that work queued on `stream` uses t, whose memory was allocated for another stream: when t's
/// memory is freed it is not reused before that work is done (PyTorch's Tensor.record_stream). t must be on the GPU
/// or in pinned host memory.
template <class T>
void record_stream(const TensorOf<T>& t, const Stream& stream) {
  SINTER_CHECK(t.defined(), "record_stream: the tensor is undefined");
  const Storage& s = *t.impl()->storage;
  if (s.device().is_cuda()) {
    thrust_backend::device_allocator().record_stream(s.data(), stream.id());
    return;
  }
  SINTER_CHECK(s.pinned(), "record_stream: the tensor is in ordinary host memory, which no stream reads; only tensors "
                           "on the GPU or in pinned memory (pin_memory()) can be recorded");
  thrust_backend::pinned_allocator().record_stream(s.data(), stream.id());
}

/// The pinned host allocator's live, cached and peak bytes.
inline MemoryStats pinned_memory_stats() { return thrust_backend::pinned_allocator().stats(); }

}  // namespace sinter::cuda
